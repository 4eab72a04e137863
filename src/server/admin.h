// `ipa-server admin`: sign-ins (add, passwd, grant, revoke), registered apps (add, list,
// remove) and the server's signing keys (rotate), written straight into the stores through the
// AuthStore and ResourceStore seams. Running servers see the changes without a restart: grants
// within the grant-status cache (1 s), signing keys within their refresh period (5 s).
// Single-threaded; one command per process.
#pragma once

#include <memory>

#include "core/result.h"
#include "storage/auth_store.h"
#include "storage/resource_store.h"

namespace CLI {
class App;
}

namespace ipa::server {

// Exit codes of `ipa-server admin` (README, docs/auth.md).
inline constexpr int kAdminOk = 0;
inline constexpr int kAdminFailed = 1;    // the store failed
inline constexpr int kAdminBadInput = 2;  // unusable arguments or files
inline constexpr int kAdminUnknown = 3;   // unknown user, client, patient or grant
inline constexpr int kAdminExists = 4;    // the user or client exists already

class AdminCommands {
 public:
  // Registers the subcommands under `admin` (which the caller has created with its store
  // options).
  explicit AdminCommands(CLI::App& admin);
  ~AdminCommands();

  // Runs the parsed subcommand against the stores; returns one of the exit codes above and
  // prints what it did (stdout) or why it failed (stderr).
  int run(storage::ResourceStore& resources, storage::AuthStore& auth);

  struct Args;  // the parsed options (admin.cc)

 private:
  std::unique_ptr<Args> a_;
};

}  // namespace ipa::server
