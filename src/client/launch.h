// The SMART standalone launch as one call, shared by `ipa-client login` and `ipa-client check`:
// scope choice (v1 fallback), the loopback listener, the browser step (system browser, printed
// URL, or this project's form contract), state check, code exchange and id_token verification.
// It keeps every step's outcome so the conformance check can name the step that failed.
// Not thread-safe: one launch at a time per Transport.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/discovery.h"
#include "client/oauth.h"
#include "client/transport.h"
#include "core/error.h"
#include "json/json.h"

namespace ipa::client {

struct LaunchOptions {
  std::string scope;              // "" = kDefaultScope; turned into v1 scopes without permission-v2
  std::optional<FormLogin> form;  // scripted sign-in instead of a browser
  int timeout_seconds = 300;
  // Shows the authorize URL to the user (open a browser or print it); unused with `form`.
  std::function<void(const std::string& url)> show;
};

// The step a launch stopped at; named like the SMART test kit's tests where one exists.
enum class LaunchStep {
  kDone,
  kListener,       // no loopback port
  kRedirect,       // smart_app_redirect: the browser step did not reach the redirect URI
  kCode,           // smart_code_received: wrong state, an error answer, or no code
  kTokenExchange,  // smart_token_exchange
  kIdToken,        // smart_openid_token_payload: the id_token does not verify
};

struct LaunchResult {
  LaunchStep failed = LaunchStep::kDone;
  core::Error error;  // meaningful when failed != kDone
  std::string scope;  // what was asked for
  AuthorizeRequest request;
  Callback callback;
  TokenResponse tokens;
  std::string granted_scope;    // the token response's scope, or `scope` when it names none
  json::Value id_token_claims;  // null without an id_token

  bool ok() const { return failed == LaunchStep::kDone; }
};

// Runs the launch against the discovered server. Never fails as a call: the result names the
// failed step and its error (the error's diagnostics never hold a token or code).
LaunchResult run_launch(Transport& transport, const Discovery& discovery,
                        const ClientCredentials& creds, const LaunchOptions& options, int64_t now);

}  // namespace ipa::client
