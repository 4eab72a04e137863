// ipa-client: the IPA client process as a command-line tool (discover, keygen, register, login,
// fetch, sync, logout, check). Thin: parses flags and wires the client module; tokens are never
// printed.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/conformance.h"
#include "client/discovery.h"
#include "client/launch.h"
#include "client/oauth.h"
#include "client/profile.h"
#include "client/progress.h"
#include "client/record.h"
#include "client/tls_probe.h"
#include "client/transport.h"
#include "client/url.h"
#include "core/log.h"
#include "jose/key.h"

extern char** environ;

namespace ipa::client {
namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(const std::string& why) {
  std::cerr << "ipa-client: " << why << "\n";
  return 1;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// Writes `data` to a new file with mode 0600 (never readable by others, whatever the umask).
bool write_private(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return ::close(fd) == 0 && ok;
}

struct Globals {
  std::string profile_dir;
};

// Finds the profile for `url`, or the only one in the folder when `url` is empty.
std::string find_profile(const Globals& g, const std::string& url) {
  if (!url.empty()) return profile_path(g.profile_dir, trim_base(url));
  return only_profile(g.profile_dir);
}

core::Result<ClientCredentials> credentials(const Profile& p) {
  if (p.private_key_file.empty()) return ClientCredentials{p.client_id, nullptr};
  std::string pem;
  if (!read_file(p.private_key_file, pem)) {
    return core::not_found("Cannot read the private key " + p.private_key_file + ".");
  }
  return load_client_key(p.client_id, pem);
}

// The CA file to verify the server's certificate with: --ca-file, else the one remembered in
// the server's profile, else $SSL_CERT_FILE or $CURL_CA_BUNDLE, else "" (the system's store).
// The chosen file is made absolute so a profile can remember it. Errors: not_found (404) when
// the file cannot be read.
core::Result<std::string> choose_ca_file(const std::string& flag, const std::string& remembered) {
  std::string ca = !flag.empty()         ? flag
                   : !remembered.empty() ? remembered
                                         : ca_file_from_environment();
  if (ca.empty()) return ca;
  if (::access(ca.c_str(), R_OK) != 0) {
    return core::not_found("Cannot read the CA file " + ca + " (from " +
                           (!flag.empty()         ? "--ca-file"
                            : !remembered.empty() ? "the profile"
                                                  : "SSL_CERT_FILE or CURL_CA_BUNDLE") +
                           ").");
  }
  char buf[PATH_MAX];
  return ::realpath(ca.c_str(), buf) != nullptr ? std::string(buf) : ca;
}

std::unique_ptr<Transport> transport_for(const std::string& ca_file) {
  TransportOptions o;
  o.ca_file = ca_file;
  return curl_transport(o);
}

// ---- discover ---------------------------------------------------------------------------------

int cmd_discover(const std::string& url, const std::string& ca_flag) {
  auto ca = choose_ca_file(ca_flag, "");
  if (!ca.ok()) return fail(ca.error().diagnostics);
  auto t = transport_for(*ca);
  Discovery d = discover(*t, url);
  std::cout << d.report();
  return d.usable() ? 0 : 1;
}

// ---- keygen -----------------------------------------------------------------------------------

int cmd_keygen(const std::string& out, const std::string& alg_name) {
  auto alg = jose::parse_alg(alg_name);
  if (!alg || (*alg != jose::Alg::kES384 && *alg != jose::Alg::kRS384)) {
    return fail("--alg must be ES384 or RS384 (SMART client-confidential-asymmetric).");
  }
  if (::access(out.c_str(), F_OK) == 0) return fail(out + " exists; not overwritten.");
  auto key = jose::Key::generate(*alg);
  if (!key.ok()) return fail(key.error().diagnostics);
  if (!write_private(out, key->private_pem())) return fail("Cannot write " + out + ".");
  json::Value keys = json::Value::array();
  keys.push_back(key->public_jwk());
  json::Value jwks = json::Value::object();
  jwks.set("keys", std::move(keys));
  std::cout << json::write(jwks, {.pretty = true}) << "\n";
  std::cerr << "Wrote the private key to " << out
            << " (mode 0600). Give the public JWKS above to the server's operator.\n";
  return 0;
}

// ---- register ---------------------------------------------------------------------------------

struct RegisterArgs {
  std::string url;
  std::string client_id;
  std::string private_key;
  bool confidential = false;
  std::string client_name = "ipa-client";
  std::string ca_file;
};

int cmd_register(const Globals& g, const RegisterArgs& a) {
  std::string path = profile_path(g.profile_dir, trim_base(a.url));
  Profile p;
  if (auto old = load_profile(path); old.ok()) p = *old;
  auto ca = choose_ca_file(a.ca_file, p.ca_file);
  if (!ca.ok()) return fail(ca.error().diagnostics);
  auto t = transport_for(*ca);
  Discovery d = discover(*t, a.url);
  if (!d.usable()) {
    std::cout << d.report();
    return 1;
  }
  p.base = d.base;
  if (!a.ca_file.empty()) p.ca_file = *ca;  // remembered for login, fetch, sync and logout
  std::string key_file = a.private_key;
  if (!key_file.empty()) {
    char buf[PATH_MAX];
    if (::realpath(key_file.c_str(), buf) != nullptr) key_file = buf;
  }
  if (!a.client_id.empty()) {
    // A client registered by hand by the server's operator.
    if (!key_file.empty()) {
      std::string pem;
      if (!read_file(key_file, pem)) return fail("Cannot read " + key_file + ".");
      auto c = load_client_key(a.client_id, pem);
      if (!c.ok()) return fail(c.error().diagnostics);
      if (!d.config.has_capability("client-confidential-asymmetric")) {
        return fail("The server does not offer client-confidential-asymmetric.");
      }
    } else if (!d.config.has_capability("client-public")) {
      return fail(
          "The server does not offer client-public: give --private-key for a "
          "confidential asymmetric client.");
    }
    p.client_id = a.client_id;
    p.private_key_file = key_file;
    p.access_token.clear();
    p.refresh_token.clear();
    if (auto s = save_profile(path, p); !s.ok()) return fail(s.error().log_detail);
    std::cout << "Client " << p.client_id << " ("
              << (key_file.empty() ? "public" : "confidential asymmetric") << ") saved for "
              << d.base << " in " << path << ".\n";
    return 0;
  }
  if (d.config.registration_endpoint.empty()) {
    std::cout
        << "The server at " << d.base
        << " offers no dynamic registration (no registration_endpoint "
        << "in its smart-configuration).\n"
        << "Ask its operator to register this app by hand with:\n"
        << "  redirect URI   http://127.0.0.1/callback (any port: RFC 8252 loopback redirect)\n"
        << "  client type    public, or confidential asymmetric (private_key_jwt, ES384 or RS384)\n"
        << "  scopes         " << kDefaultScope << "\n"
        << "For a confidential client, run `ipa-client keygen --out key.pem` and give the operator "
           "the public JWKS it prints.\n"
        << "Then run: ipa-client register " << d.base
        << " --client-id ID [--private-key key.pem]\n";
    return 2;
  }
  ClientCredentials creds{"", nullptr};
  if (a.confidential || !key_file.empty()) {
    if (key_file.empty()) {
      key_file = profile_path(g.profile_dir, d.base);
      key_file = key_file.substr(0, key_file.size() - 5) + ".key.pem";
      auto key = jose::Key::generate(jose::Alg::kES384);
      if (!key.ok()) return fail(key.error().diagnostics);
      if (!write_private(key_file, key->private_pem())) return fail("Cannot write " + key_file);
    }
    std::string pem;
    if (!read_file(key_file, pem)) return fail("Cannot read " + key_file + ".");
    auto c = load_client_key("", pem);
    if (!c.ok()) return fail(c.error().diagnostics);
    creds = *c;
  }
  auto id = register_client(*t, d.config, creds, a.client_name, kDefaultScope);
  if (!id.ok()) return fail(id.error().diagnostics);
  p.client_id = *id;
  p.private_key_file = creds.key ? key_file : "";
  if (auto s = save_profile(path, p); !s.ok()) return fail(s.error().log_detail);
  std::cout << "Registered as " << p.client_id << " at " << d.config.registration_endpoint
            << "; saved in " << path << ".\n";
  return 0;
}

// ---- login ------------------------------------------------------------------------------------

struct LoginArgs {
  std::string url;
  std::string client_id;
  std::string private_key;
  std::string scope;
  bool no_browser = false;
  int timeout = 300;
  std::string username;
  std::string password;
  std::string patient;
  std::vector<std::string> deny_scopes;
  std::string ca_file;
};

bool open_browser(const std::string& url) {
  pid_t pid = 0;
  std::string prog = "xdg-open";
  std::vector<char*> argv = {prog.data(), const_cast<char*>(url.c_str()), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int cmd_login(const Globals& g, const LoginArgs& a) {
  std::string path = find_profile(g, a.url);
  Profile p;
  if (!path.empty()) {
    if (auto old = load_profile(path); old.ok()) p = *old;
  }
  if (!a.url.empty()) p.base = trim_base(a.url);
  if (p.base.empty()) return fail("Which server? Give its FHIR base URL.");
  if (path.empty()) path = profile_path(g.profile_dir, p.base);
  if (!a.client_id.empty()) {
    p.client_id = a.client_id;
    p.private_key_file.clear();
  }
  if (!a.private_key.empty()) {
    char buf[PATH_MAX];
    p.private_key_file = ::realpath(a.private_key.c_str(), buf) ? buf : a.private_key;
  }
  if (p.client_id.empty()) {
    return fail("No client_id for " + p.base + ": run `ipa-client register " + p.base +
                "` first, or give --client-id.");
  }
  auto creds = credentials(p);
  if (!creds.ok()) return fail(creds.error().diagnostics);
  auto ca = choose_ca_file(a.ca_file, p.ca_file);
  if (!ca.ok()) return fail(ca.error().diagnostics);
  if (!a.ca_file.empty()) p.ca_file = *ca;  // remembered for fetch, sync and logout

  auto t = transport_for(*ca);
  Discovery d = discover(*t, p.base);
  if (!d.usable()) {
    std::cout << d.report();
    return 1;
  }
  if (creds->key && !d.config.has_capability("client-confidential-asymmetric")) {
    return fail("The server does not offer client-confidential-asymmetric.");
  }
  LaunchOptions lo;
  lo.scope = a.scope;
  lo.timeout_seconds = a.timeout;
  if (!a.username.empty()) lo.form = FormLogin{a.username, a.password, a.patient, a.deny_scopes};
  lo.show = [&](const std::string& url) {
    if (a.no_browser || !open_browser(url)) {
      std::cout << "Open this address in a browser to sign in:\n  " << url << "\n";
      std::cout.flush();
    } else {
      std::cout << "Sign in in the browser window that opened.\n";
    }
  };
  std::string asked_scope = a.scope.empty() ? kDefaultScope : a.scope;
  if (!d.config.has_capability("permission-v2") && to_v1_scopes(asked_scope) != asked_scope) {
    std::cout << "The server lacks permission-v2: asking for " << to_v1_scopes(asked_scope) << "\n";
  }
  int64_t now = now_seconds();
  LaunchResult launch = run_launch(*t, d, *creds, lo, now);
  if (!launch.ok()) return fail(launch.error.diagnostics);
  const std::string& scope = launch.scope;
  const TokenResponse* tokens = &launch.tokens;
  const std::string& granted = launch.granted_scope;
  ScopeReport sr = compare_scopes(scope, granted);
  std::vector<std::string> asked = split_scopes(scope);
  bool asked_openid = std::find(asked.begin(), asked.end(), "openid") != asked.end();
  std::string fhir_user;
  if (!launch.id_token_claims.is_null()) {
    fhir_user = launch.id_token_claims.get_string("fhirUser");
  } else if (asked_openid) {
    std::cout << "No id_token came back: who signed in cannot be confirmed.\n";
  }
  if (tokens->patient.empty()) {
    return fail("The server named no patient (launch/patient not granted): nothing to fetch.");
  }
  p.access_token = tokens->access_token;
  p.refresh_token = tokens->refresh_token;
  p.expires_at = tokens->expires_in > 0 ? now + tokens->expires_in : 0;
  p.requested_scope = scope;
  p.granted_scope = granted;
  p.patient = tokens->patient;
  p.fhir_user = fhir_user;
  if (auto s = save_profile(path, p); !s.ok()) return fail(s.error().log_detail);

  std::cout << "Signed in to " << d.base << " as client " << p.client_id << ".\n"
            << "Patient in context: " << p.patient << "\n";
  if (!fhir_user.empty()) std::cout << "Signed-in user: " << fhir_user << "\n";
  std::cout << "Granted: " << join_scopes(sr.granted) << "\n";
  if (!sr.not_granted.empty()) {
    std::cout << "Not granted: " << join_scopes(sr.not_granted)
              << " (the fetch leaves out what these would have covered)\n";
  }
  if (tokens->refresh_token.empty()) {
    std::cout << "No refresh token: sign in again when the access token expires.\n";
  }
  std::cout << "Tokens saved in " << path << " (mode 0600).\n";
  return 0;
}

// ---- fetch ------------------------------------------------------------------------------------

int cmd_fetch(const Globals& g, const std::string& url, const std::string& out, bool sync,
              const std::string& ca_flag) {
  std::string path = find_profile(g, url);
  if (path.empty()) return fail("No single profile in " + g.profile_dir + ": give the server URL.");
  auto loaded = load_profile(path);
  if (!loaded.ok()) return fail(loaded.error().diagnostics + " Run `ipa-client login` first.");
  Profile p = *loaded;
  if (p.access_token.empty()) return fail("Not signed in to " + p.base + ": run ipa-client login.");
  auto creds = credentials(p);
  if (!creds.ok()) return fail(creds.error().diagnostics);
  auto ca = choose_ca_file(ca_flag, p.ca_file);
  if (!ca.ok()) return fail(ca.error().diagnostics);
  auto t = transport_for(*ca);
  Discovery d = discover(*t, p.base);
  if (!d.usable()) {
    std::cout << d.report();
    return 1;
  }
  Session session(
      *t, d.config, *creds, p, [&](const Profile& updated) { return save_profile(path, updated); },
      now_seconds);
  // Progress bars on a terminal only; plain lines when the output goes to a file or a pipe.
  ProgressBar bar(std::cout, is_terminal(1));
  FetchOptions options;
  options.sync = sync;
  options.bar = &bar;
  auto r = fetch_record(session, p, d.resource_types, out, std::cout, options);
  if (!r.ok()) return fail(r.error().diagnostics);
  int total = 0;
  for (const auto& [type, n] : r->counts) total += n;
  if (const json::Value* s = r->summary.find("sync")) {
    std::cout << "Synced " << out << ": " << *s->find("new")->as_int() << " new, "
              << *s->find("updated")->as_int() << " updated, " << *s->find("gone")->as_int()
              << " no longer shown by the server; " << total << " resources in the copy.\n";
    const json::Value* gone = r->summary.find("gone");
    if (gone != nullptr && !gone->items().empty()) {
      std::cout << "Kept in " << out << "/gone/ (the server no longer shows them):\n";
      for (const json::Value& x : gone->items()) {
        std::cout << "  " << x.get_string("reference") << " (noticed " << x.get_string("noticed")
                  << ")\n";
      }
    }
  } else {
    std::cout << "Wrote " << total << " resources to " << out
              << " (one NDJSON file per type, bundle.json, summary.json).\n";
  }
  const json::Value* ng = r->summary.find("not_granted");
  if (ng != nullptr && !ng->items().empty())
    std::cout << "Not granted: " << json::write(*ng) << "\n";
  const json::Value* errors = r->summary.find("errors");
  if (errors != nullptr && !errors->items().empty()) {
    std::cout << "Problems (see summary.json):\n";
    for (const json::Value& e : errors->items()) {
      std::cout << "  " << e.get_string("type") << ": " << e.get_string("detail") << "\n";
    }
  }
  return 0;
}

// ---- logout -----------------------------------------------------------------------------------

int cmd_logout(const Globals& g, const std::string& url, const std::string& ca_flag) {
  std::string path = find_profile(g, url);
  if (path.empty()) return fail("No single profile in " + g.profile_dir + ": give the server URL.");
  auto loaded = load_profile(path);
  if (!loaded.ok()) return fail(loaded.error().diagnostics);
  Profile p = *loaded;
  if (p.access_token.empty() && p.refresh_token.empty()) {
    std::cout << "Not signed in to " << p.base << ": nothing to revoke.\n";
    return 0;
  }
  auto ca = choose_ca_file(ca_flag, p.ca_file);
  if (!ca.ok()) return fail(ca.error().diagnostics);
  auto t = transport_for(*ca);
  Discovery d = discover(*t, p.base);
  int status = 0;
  if (d.config.revocation_endpoint.empty()) {
    std::cout << "The server offers no revocation_endpoint: the tokens stay valid at the server "
                 "until they expire (revoke the access in the server's own page, if it has one).\n";
  } else {
    auto creds = credentials(p);
    if (!creds.ok()) return fail(creds.error().diagnostics);
    // RFC 7009 section 2.1: the refresh token first (it may revoke the grant as a whole).
    for (const auto& [token, hint] :
         {std::pair{p.refresh_token, "refresh_token"}, std::pair{p.access_token, "access_token"}}) {
      if (token.empty()) continue;
      auto s = revoke_token(*t, d.config, *creds, token, hint, now_seconds());
      if (!s.ok()) {
        std::cerr << "ipa-client: revoking the " << hint << " failed: " << s.error().diagnostics
                  << "\n";
        status = 1;
      } else {
        std::cout << "Revoked the " << hint << " at " << d.config.revocation_endpoint << ".\n";
      }
    }
  }
  p.access_token.clear();
  p.refresh_token.clear();
  p.expires_at = 0;
  if (auto s = save_profile(path, p); !s.ok()) return fail(s.error().log_detail);
  std::cout << "Deleted the stored tokens of " << p.base << " (" << path << ").\n";
  return status;
}

// ---- check ------------------------------------------------------------------------------------

struct CheckArgs {
  std::string url;
  std::string client_id;
  std::string private_key;
  std::string scope;
  std::string username;
  std::string password;
  std::string patient;
  std::vector<std::string> patient_ids;
  std::vector<std::string> categories;
  std::string junit;
  bool no_browser = false;
  int timeout = 300;
  std::string ca_file;
};

int cmd_check(const Globals& g, const CheckArgs& a) {
  CheckOptions o;
  std::string client_id = a.client_id;
  std::string key_file = a.private_key;
  auto saved = load_profile(profile_path(g.profile_dir, trim_base(a.url)));
  if (client_id.empty() && saved.ok()) {
    // A client registered earlier with `ipa-client register` for this server.
    client_id = saved->client_id;
    if (key_file.empty()) key_file = saved->private_key_file;
  }
  auto ca = choose_ca_file(a.ca_file, saved.ok() ? saved->ca_file : "");
  if (!ca.ok()) return fail(ca.error().diagnostics);
  Profile creds_profile;
  creds_profile.client_id = client_id;
  creds_profile.private_key_file = key_file;
  auto creds = credentials(creds_profile);
  if (!creds.ok()) return fail(creds.error().diagnostics);
  o.creds = *creds;
  o.launch.scope = a.scope;
  o.launch.timeout_seconds = a.timeout;
  if (!a.username.empty()) o.launch.form = FormLogin{a.username, a.password, a.patient, {}};
  o.launch.show = [&](const std::string& url) {
    if (a.no_browser || !open_browser(url)) {
      std::cerr << "Open this address in a browser to sign in:\n  " << url << "\n";
    } else {
      std::cerr << "Sign in in the browser window that opened.\n";
    }
  };
  o.patient_ids = a.patient_ids;
  o.observation_categories = a.categories;
  o.now = now_seconds;
  // TLS-KIT tls_version_test, trusting the same CAs as every other request of the check.
  o.tls_probe = [ca_file = *ca](const std::string& url) {
    return probe_tls_versions(url, ca_file);
  };
  auto t = transport_for(*ca);
  // A server that cannot be reached, or whose certificate is not trusted, is said in one line
  // first; the report still follows (every test names the same cause).
  if (auto r =
          t->send("GET", trim_base(a.url) + "/metadata", {{"Accept", "application/fhir+json"}}, "");
      !r.ok()) {
    std::cerr << "ipa-client: " << r.error().diagnostics << "\n";
  }
  ConformanceReport report = run_conformance_check(*t, a.url, o);
  std::cout << report.text();
  if (!a.junit.empty()) {
    std::ofstream out(a.junit, std::ios::trunc);
    out << report.junit();
    out.close();
    if (!out) return fail("Cannot write " + a.junit + ".");
  }
  return report.shall_failed() ? 1 : 0;
}

int run(int argc, char** argv) {
  CLI::App app{
      "ipa-client: get a patient's record out of an IPA (HL7 International Patient "
      "Access) FHIR server with SMART App Launch"};
  app.require_subcommand(1);
  Globals g;
  g.profile_dir = default_profile_dir();
  app.add_option("--profile-dir", g.profile_dir, "where profiles (tokens, mode 0600) are kept")
      ->capture_default_str();

  std::string discover_url;
  auto* discover_cmd = app.add_subcommand("discover", "check that a server is a usable IPA server");
  discover_cmd->add_option("url", discover_url, "FHIR base URL")->required();
  const char* kCaHelp =
      "PEM file of the CA(s) the server's certificate must chain to, instead of the system's "
      "(default: the profile's, else $SSL_CERT_FILE, else $CURL_CA_BUNDLE)";
  std::string discover_ca;
  discover_cmd->add_option("--ca-file", discover_ca, kCaHelp);

  std::string key_out;
  std::string key_alg = "ES384";
  auto* keygen_cmd = app.add_subcommand("keygen", "make a key pair for a confidential client");
  keygen_cmd->add_option("--out", key_out, "private key file (PEM, mode 0600)")->required();
  keygen_cmd->add_option("--alg", key_alg, "ES384 or RS384")->capture_default_str();

  RegisterArgs reg;
  auto* register_cmd = app.add_subcommand("register", "register this app with a server");
  register_cmd->add_option("url", reg.url, "FHIR base URL")->required();
  register_cmd->add_option("--client-id", reg.client_id, "a client_id registered by hand");
  register_cmd->add_option("--private-key", reg.private_key,
                           "PEM private key (ES384 or RS384) of a confidential client");
  register_cmd->add_flag("--confidential", reg.confidential,
                         "register dynamically as a confidential asymmetric client");
  register_cmd->add_option("--client-name", reg.client_name, "name shown to the user");
  register_cmd->add_option("--ca-file", reg.ca_file,
                           std::string(kCaHelp) + "; remembered in the profile");

  LoginArgs login;
  auto* login_cmd = app.add_subcommand("login", "sign in (SMART standalone launch)");
  login_cmd->add_option("url", login.url, "FHIR base URL (default: the only profile)");
  login_cmd->add_option("--client-id", login.client_id, "client_id (saved in the profile)");
  login_cmd->add_option("--private-key", login.private_key, "PEM key of a confidential client");
  login_cmd->add_option("--scope", login.scope,
                        std::string("scopes (default: ") + kDefaultScope + ")");
  login_cmd->add_flag("--no-browser", login.no_browser, "print the address instead of opening it");
  login_cmd->add_option("--timeout", login.timeout, "seconds to wait for the sign-in")
      ->capture_default_str();
  login_cmd->add_option("--username", login.username,
                        "sign in through the server's form contract (tests and CI)");
  login_cmd->add_option("--password", login.password, "with --username");
  login_cmd->add_option("--patient", login.patient, "record to pick when several are offered");
  login_cmd->add_option("--deny-scope", login.deny_scopes, "scope to untick on the consent page");
  login_cmd->add_option("--ca-file", login.ca_file,
                        std::string(kCaHelp) + "; remembered in the profile");

  std::string fetch_url;
  std::string fetch_out;
  auto* fetch_cmd = app.add_subcommand("fetch", "download the patient's record");
  fetch_cmd->add_option("url", fetch_url, "FHIR base URL (default: the only profile)");
  fetch_cmd->add_option("--out", fetch_out, "output folder")->required();
  std::string fetch_ca;
  fetch_cmd->add_option("--ca-file", fetch_ca, kCaHelp);

  std::string sync_url;
  std::string sync_out;
  auto* sync_cmd =
      app.add_subcommand("sync", "fetch what changed since the last fetch or sync into a folder");
  sync_cmd->add_option("url", sync_url, "FHIR base URL (default: the only profile)");
  sync_cmd->add_option("--out", sync_out, "the folder of an earlier fetch")->required();
  std::string sync_ca;
  sync_cmd->add_option("--ca-file", sync_ca, kCaHelp);

  std::string logout_url;
  auto* logout_cmd =
      app.add_subcommand("logout", "revoke the tokens at the server and delete them here");
  logout_cmd->add_option("url", logout_url, "FHIR base URL (default: the only profile)");
  std::string logout_ca;
  logout_cmd->add_option("--ca-file", logout_ca, kCaHelp);

  CheckArgs chk;
  auto* check_cmd = app.add_subcommand(
      "check", "conformance check of an IPA server (IPA and SMART test kits, JUnit output)");
  check_cmd->add_option("url", chk.url, "FHIR base URL")->required();
  check_cmd->add_option("--client-id", chk.client_id,
                        "client_id for the launch (default: the registered profile's)");
  check_cmd->add_option("--private-key", chk.private_key, "PEM key of a confidential client");
  check_cmd->add_option("--scope", chk.scope,
                        std::string("scopes (default: ") + kDefaultScope + ")");
  check_cmd->add_option("--username", chk.username,
                        "sign in through the server's form contract instead of a browser");
  check_cmd->add_option("--password", chk.password, "with --username");
  check_cmd->add_option("--patient", chk.patient, "record to pick when several are offered");
  check_cmd
      ->add_option("--patient-ids", chk.patient_ids,
                   "patients to search (default: the launch's patient)")
      ->delimiter(',');
  check_cmd
      ->add_option("--observation-categories", chk.categories,
                   "categories of the Observation searches (default: the kit's)")
      ->delimiter(',');
  check_cmd->add_option("--junit", chk.junit, "write a JUnit XML report to this file");
  check_cmd->add_flag("--no-browser", chk.no_browser, "print the address instead of opening it");
  check_cmd->add_option("--timeout", chk.timeout, "seconds to wait for the sign-in")
      ->capture_default_str();
  check_cmd->add_option("--ca-file", chk.ca_file, kCaHelp);

  CLI11_PARSE(app, argc, argv);
  core::init_logging("warn");  // the loopback listener's request lines are noise here
  ::umask(077);                // profiles, keys and the downloaded record are the user's only
  if (*discover_cmd) return cmd_discover(discover_url, discover_ca);
  if (*keygen_cmd) return cmd_keygen(key_out, key_alg);
  if (*register_cmd) return cmd_register(g, reg);
  if (*login_cmd) return cmd_login(g, login);
  if (*fetch_cmd) return cmd_fetch(g, fetch_url, fetch_out, false, fetch_ca);
  if (*sync_cmd) return cmd_fetch(g, sync_url, sync_out, true, sync_ca);
  if (*logout_cmd) return cmd_logout(g, logout_url, logout_ca);
  if (*check_cmd) return cmd_check(g, chk);
  return 2;
}

}  // namespace
}  // namespace ipa::client

int main(int argc, char** argv) { return ipa::client::run(argc, argv); }
