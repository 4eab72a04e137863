#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace ipa::testing {
namespace fs = std::filesystem;

std::string server_binary() { return IPA_SERVER_BIN; }

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "ipa-it-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* p = mkdtemp(buf.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    std::string bin = server_binary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

pid_t spawn_program(const std::string& bin, const std::vector<std::string>& args,
                    const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    std::string b = bin;
    argv.push_back(b.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RunResult run_server_command(const std::vector<std::string>& args,
                             const std::vector<std::string>& env) {
  TempDir io;
  pid_t pid = spawn(args, env, io.file("out"), io.file("err"));
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(io.file("out"));
  r.err = slurp(io.file("err"));
  r.max_rss_kb = ru.ru_maxrss;
  return r;
}

ServerProcess::ServerProcess(const std::string& store_path, std::vector<std::string> extra,
                             std::vector<std::string> env, const std::string& command,
                             bool with_auth, const std::string& files) {
  std::string prefix = files.empty() ? store_path : files;
  std::string port_file = prefix + ".port";
  log_path_ = prefix + ".log";
  std::error_code ec;
  fs::remove(port_file, ec);
  std::vector<std::string> args = {command,       "--store", store_path,  "--port", "0",
                                   "--port-file", port_file, "--threads", "4"};
  if (std::find(extra.begin(), extra.end(), "--sync-full") == extra.end()) {
    args.insert(args.end(), {"--sync-full", "false"});  // tests need no power-loss durability
  }
  if (!with_auth) args.push_back("--no-auth");
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = spawn(args, env, prefix + ".out", log_path_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      port_ = static_cast<uint16_t>(port);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "ipa-server exited at start: " << log();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "ipa-server did not start listening: " << log();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) terminate();
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServerProcess::log() const { return slurp(log_path_); }

http::ClientResponse ServerProcess::get(const std::string& path,
                                        std::vector<http::Header> headers) const {
  return send("GET", path, "", std::move(headers));
}

http::ClientResponse ServerProcess::send(const std::string& method, const std::string& path,
                                         const std::string& body,
                                         std::vector<http::Header> headers) const {
  if (!body.empty()) {
    bool has_ct = false;
    for (const auto& h : headers) has_ct |= strcasecmp(h.name.c_str(), "Content-Type") == 0;
    if (!has_ct) headers.push_back({"Content-Type", "application/fhir+json"});
  }
  auto r = http::request(port_, method, path, headers, body);
  if (!r.ok()) {
    ADD_FAILURE() << method << " " << path << ": " << r.error().diagnostics;
    return http::ClientResponse{};
  }
  return std::move(r).value();
}

json::Value body_json(const http::ClientResponse& r) {
  auto v = json::parse(r.body);
  if (!v.ok()) {
    ADD_FAILURE() << "response is not JSON: " << r.body.substr(0, 200);
    return json::Value();
  }
  return std::move(v).value();
}

std::string issue_code(const json::Value& oo) {
  const json::Value* issues = oo.find("issue");
  if (issues == nullptr || issues->items().empty()) return "";
  return std::string(issues->items()[0].get_string("code"));
}

std::string issue_expression(const json::Value& oo) {
  const json::Value* issues = oo.find("issue");
  if (issues == nullptr || issues->items().empty()) return "";
  const json::Value* e = issues->items()[0].find("expression");
  if (e == nullptr || e->items().empty()) return "";
  return e->items()[0].text();
}

}  // namespace ipa::testing
