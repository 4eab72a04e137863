// Test support for the ipa-client integration tests: runs the real ipa-client binary to
// completion with its output captured, and reads files. Tests only; not thread-safe.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace ipa::testing {

inline std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `ipa-client args...` with stdin from /dev/null and stdout/stderr captured (not a
// terminal, so no progress bars).
inline RunResult run_ipa_client(const std::vector<std::string>& args) {
  TempDir io;
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(io.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(io.file("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    std::string bin = IPA_CLIENT_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp_file(io.file("out"));
  r.err = slurp_file(io.file("err"));
  return r;
}

// Runs `ipa-client --profile-dir <profile_dir> args...`.
inline RunResult run_ipa_client_in(const std::string& profile_dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--profile-dir", profile_dir});
  return run_ipa_client(args);
}

// Returns how often `what` occurs in `s`.
inline int count_of(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The <testcase> element of `name` in group `group` of a JUnit report, or "".
inline std::string junit_testcase(const std::string& junit, const std::string& group,
                                  const std::string& name) {
  std::string open = "<testcase classname=\"" + group + "\" name=\"" + name + "\"";
  size_t p = junit.find(open);
  if (p == std::string::npos) return "";
  size_t gt = junit.find('>', p);
  if (gt != std::string::npos && junit[gt - 1] == '/') return junit.substr(p, gt + 1 - p);
  size_t close = junit.find("</testcase>", p);
  return junit.substr(p, close == std::string::npos ? std::string::npos : close + 11 - p);
}

}  // namespace ipa::testing
