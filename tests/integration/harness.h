// Integration-test harness: runs the real ipa-server binary on a loopback port 0 over a fresh
// store in a temporary folder, and talks HTTP to it. One ServerProcess per test; not shared
// between threads except for request(), which is thread-safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "http/server.h"
#include "json/json.h"

namespace ipa::testing {

// A fresh temporary folder, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  long max_rss_kb = 0;
};

// Starts any program in the background with its output in `out`/`err`; returns its pid.
pid_t spawn_program(const std::string& bin, const std::vector<std::string>& args,
                    const std::string& out, const std::string& err);

// A TCP port on 127.0.0.1 that is free right now.
uint16_t free_port();

// Runs `ipa-server args...` to completion with extra environment entries ("K=V").
RunResult run_server_command(const std::vector<std::string>& args,
                             const std::vector<std::string>& env = {});

class ServerProcess {
 public:
  // Starts `ipa-server serve --store <dir>/ipa.db --port 0 ...extra` and waits until it listens.
  // `command` may be "demo" to start `ipa-server demo` the same way. Access control is off
  // (--no-auth) unless `with_auth`.
  // `files` names the prefix of the port, log and output files (default: `store_path`; needed
  // when the store is a PostgreSQL URL).
  explicit ServerProcess(const std::string& store_path, std::vector<std::string> extra = {},
                         std::vector<std::string> env = {}, const std::string& command = "serve",
                         bool with_auth = false, const std::string& files = "");
  ~ServerProcess();

  uint16_t port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/fhir"; }
  pid_t pid() const { return pid_; }
  // Sends SIGTERM and returns the exit code.
  int terminate();
  // Sends SIGKILL and reaps the process.
  void kill9();
  // The server's stderr so far.
  std::string log() const;

  http::ClientResponse get(const std::string& path, std::vector<http::Header> headers = {}) const;
  http::ClientResponse send(const std::string& method, const std::string& path,
                            const std::string& body, std::vector<http::Header> headers = {}) const;

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;
};

// Parses a response body; fails the test (ADD_FAILURE) and returns null on invalid JSON.
json::Value body_json(const http::ClientResponse& r);

// The first issue's code and expression of an OperationOutcome body.
std::string issue_code(const json::Value& oo);
std::string issue_expression(const json::Value& oo);

std::string server_binary();

}  // namespace ipa::testing
