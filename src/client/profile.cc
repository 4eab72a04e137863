#include "client/profile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/url.h"
#include "json/json.h"

namespace ipa::client {
namespace fs = std::filesystem;

std::string default_profile_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/ipa-client";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.config/ipa-client";
}

std::string profile_path(const std::string& dir, const std::string& base) {
  return dir + "/" + server_name(base) + ".json";
}

core::Result<Profile> load_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::not_found("No profile at " + path + ".");
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = json::parse(ss.str());
  if (!v.ok() || !v->is_object()) {
    return core::bad_request(core::IssueType::kStructure, path + " is not a profile.");
  }
  Profile p;
  p.base = v->get_string("base");
  p.client_id = v->get_string("client_id");
  p.private_key_file = v->get_string("private_key_file");
  p.ca_file = v->get_string("ca_file");
  p.access_token = v->get_string("access_token");
  p.refresh_token = v->get_string("refresh_token");
  if (const json::Value* e = v->find("expires_at"); e && e->as_int()) p.expires_at = *e->as_int();
  p.requested_scope = v->get_string("requested_scope");
  p.granted_scope = v->get_string("granted_scope");
  p.patient = v->get_string("patient");
  p.fhir_user = v->get_string("fhir_user");
  return p;
}

core::Status save_profile(const std::string& path, const Profile& p) {
  json::Value v = json::Value::object();
  auto s = [&](const char* k, const std::string& x) {
    if (!x.empty()) v.set(k, json::Value::string(x));
  };
  s("base", p.base);
  s("client_id", p.client_id);
  s("private_key_file", p.private_key_file);
  s("ca_file", p.ca_file);
  s("access_token", p.access_token);
  s("refresh_token", p.refresh_token);
  if (p.expires_at != 0) v.set("expires_at", json::Value::number(p.expires_at));
  s("requested_scope", p.requested_scope);
  s("granted_scope", p.granted_scope);
  s("patient", p.patient);
  s("fhir_user", p.fhir_user);
  std::string text = json::write(v, {.pretty = true}) + "\n";

  fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return core::internal("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return core::internal("cannot create " + tmp);
  ::fchmod(fd, 0600);  // whatever the umask
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return core::internal("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return core::internal("cannot replace " + path);
  }
  return {};
}

std::string only_profile(const std::string& dir) {
  std::error_code ec;
  std::string found;
  int count = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") {
      found = e.path().string();
      ++count;
    }
  }
  return count == 1 ? found : "";
}

}  // namespace ipa::client
