// ipa-server: configuration and wiring. Subcommands serve, demo, import and gen. This is the
// only code that names a storage back end.
#include <toml++/toml.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "auth/client_auth.h"
#include "auth/password.h"
#include "core/log.h"
#include "demo/demo.h"
#include "fhir/model.h"
#include "http/server.h"
#include "jose/bytes.h"
#include "jose/jwks.h"
#include "jose/key.h"
#include "rest/api.h"
#include "server/admin.h"
#include "server/config.h"
#include "server/import.h"
#include "server/test_clock.h"
#include "storage/postgres/auth_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/auth_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::server {
namespace {

namespace fs = std::filesystem;

// The published demo sign-in password and app (README); demo data only.
constexpr const char* kDemoPassword = "ipa-demo";
constexpr const char* kDemoClientId = "ipa-demo-app";
constexpr const char* kDemoBackendScope = "system/*.cruds";  // covers v1 system/*.read|write|*

void add_store_options(CLI::App& app, Config& c, std::map<std::string, CLI::Option*>& opts) {
  opts["store"] =
      app.add_option("--store", c.store, "SQLite database file, or postgresql://user@host/db")
          ->envname("IPA_STORE");
  opts["log_level"] = app.add_option("--log-level", c.log_level, "debug, info, warn, error")
                          ->envname("IPA_LOG_LEVEL");
  opts["sync"] =
      app.add_option("--sync-full", c.sync_full, "SQLite synchronous=FULL (true) or NORMAL (false)")
          ->envname("IPA_SYNC_FULL");
  opts["read_cache_mb"] =
      app.add_option("--read-cache-mb", c.read_cache_mb,
                     "SQLite: MiB of memory for recently read resources (0: no cache)")
          ->envname("IPA_READ_CACHE_MB")
          ->check(CLI::Range(0, 1 << 20));
}

void add_listen_options(CLI::App& app, Config& c, std::map<std::string, CLI::Option*>& opts) {
  opts["address"] =
      app.add_option("--address", c.address, "address to bind")->envname("IPA_ADDRESS");
  opts["port"] =
      app.add_option("--port", c.port, "port to bind (0: any free port)")->envname("IPA_PORT");
  opts["threads"] = app.add_option("--threads", c.threads, "server threads (0: one per core)")
                        ->envname("IPA_THREADS");
  opts["base_url"] = app.add_option("--base-url", c.base_url,
                                    "public FHIR base URL, e.g. https://ehr.example.org/fhir")
                         ->envname("IPA_BASE_URL");
  opts["body_limit"] = app.add_option("--body-limit", c.body_limit, "largest request body, bytes")
                           ->envname("IPA_BODY_LIMIT");
  opts["header_timeout_ms"] =
      app.add_option("--header-timeout-ms", c.header_timeout_ms)->envname("IPA_HEADER_TIMEOUT_MS");
  opts["body_timeout_ms"] =
      app.add_option("--body-timeout-ms", c.body_timeout_ms)->envname("IPA_BODY_TIMEOUT_MS");
  opts["idle_timeout_ms"] =
      app.add_option("--idle-timeout-ms", c.idle_timeout_ms)->envname("IPA_IDLE_TIMEOUT_MS");
  opts["port_file"] =
      app.add_option("--port-file", c.port_file, "write the bound port to this file once listening")
          ->envname("IPA_PORT_FILE");
  opts["no_auth"] = app.add_flag("--no-auth", c.no_auth,
                                 "development only: serve the FHIR API without access control "
                                 "(refused unless bound to loopback)")
                        ->envname("IPA_NO_AUTH");
  opts["node_name"] = app.add_option("--node-name", c.node_name,
                                     "this node's name, sent as X-Node on every response "
                                     "(default: hostname:port)")
                          ->envname("IPA_NODE_NAME");
  opts["tls_cert"] = app.add_option("--tls-cert", c.tls_cert,
                                    "serve HTTPS (TLS 1.2+) with this PEM certificate chain")
                         ->envname("IPA_TLS_CERT");
  opts["tls_key"] = app.add_option("--tls-key", c.tls_key, "the PEM private key of --tls-cert")
                        ->envname("IPA_TLS_KEY");
  opts["allow_plain_http"] =
      app.add_option("--allow-plain-http", c.allow_plain_http,
                     "serve plain HTTP on a non-loopback address, only behind a proxy that "
                     "terminates TLS (true/false)")
          ->envname("IPA_ALLOW_PLAIN_HTTP");
  opts["cors_origins"] =
      app.add_option("--cors-origin", c.cors_origins,
                     "an origin (https://app.example.org) that may call the FHIR API and the "
                     "token endpoint besides registered apps' own (repeat, or comma-separated)")
          ->delimiter(',')
          ->envname("IPA_CORS_ORIGINS");
  opts["open_registration"] =
      app.add_option("--open-registration", c.open_registration,
                     "offer RFC 7591 dynamic client registration to anyone (true/false)")
          ->envname("IPA_OPEN_REGISTRATION");
}

// Applies the TOML file's values to every option not given by flag or environment.
bool apply_config_file(const std::string& path, Config& c,
                       const std::map<std::string, CLI::Option*>& opts) {
  if (path.empty()) return true;
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::fprintf(stderr, "config %s: %s\n", path.c_str(), std::string(e.description()).c_str());
    return false;
  }
  auto unset = [&](const char* key) {
    auto it = opts.find(key);
    return it == opts.end() || it->second->count() == 0;
  };
  static const std::map<std::string, int> kKnown = {{"address", 0},
                                                    {"port", 0},
                                                    {"threads", 0},
                                                    {"base_url", 0},
                                                    {"store", 0},
                                                    {"log_level", 0},
                                                    {"body_limit", 0},
                                                    {"header_timeout_ms", 0},
                                                    {"body_timeout_ms", 0},
                                                    {"idle_timeout_ms", 0},
                                                    {"sync_full", 0},
                                                    {"port_file", 0},
                                                    {"no_auth", 0},
                                                    {"open_registration", 0},
                                                    {"cors_origins", 0},
                                                    {"node_name", 0},
                                                    {"tls_cert", 0},
                                                    {"tls_key", 0},
                                                    {"allow_plain_http", 0},
                                                    {"read_cache_mb", 0}};
  for (const auto& [k, v] : t) {
    if (!kKnown.count(std::string(k.str()))) {
      std::fprintf(stderr, "config %s: unknown key '%s'\n", path.c_str(),
                   std::string(k.str()).c_str());
      return false;
    }
  }
  auto str = [&](const char* key, std::string& out) {
    if (auto v = t[key].value<std::string>(); v && unset(key)) out = *v;
  };
  auto num = [&](const char* key, auto& out) {
    if (auto v = t[key].value<int64_t>(); v && unset(key))
      out = static_cast<std::decay_t<decltype(out)>>(*v);
  };
  str("address", c.address);
  num("port", c.port);
  num("threads", c.threads);
  str("base_url", c.base_url);
  str("store", c.store);
  str("log_level", c.log_level);
  num("body_limit", c.body_limit);
  num("header_timeout_ms", c.header_timeout_ms);
  num("body_timeout_ms", c.body_timeout_ms);
  num("idle_timeout_ms", c.idle_timeout_ms);
  str("port_file", c.port_file);
  num("read_cache_mb", c.read_cache_mb);
  if (auto v = t["sync_full"].value<bool>(); v && unset("sync")) c.sync_full = *v;
  if (auto v = t["no_auth"].value<bool>(); v && unset("no_auth")) c.no_auth = *v;
  str("node_name", c.node_name);
  if (const toml::array* origins = t["cors_origins"].as_array(); origins && unset("cors_origins")) {
    c.cors_origins.clear();
    for (const auto& o : *origins) {
      if (auto v = o.value<std::string>()) c.cors_origins.push_back(*v);
    }
  }
  str("tls_cert", c.tls_cert);
  str("tls_key", c.tls_key);
  if (auto v = t["allow_plain_http"].value<bool>(); v && unset("allow_plain_http")) {
    c.allow_plain_http = *v;
  }
  if (auto v = t["open_registration"].value<bool>(); v && unset("open_registration")) {
    c.open_registration = *v;
  }
  return true;
}

// `--store` names a SQLite file, or a PostgreSQL server by URI (postgresql://user@host/db) or
// keyword conninfo prefixed with "postgresql:" (postgresql:host=/tmp/pg dbname=ipa).
bool is_postgres(const std::string& store) {
  return store.rfind("postgresql://", 0) == 0 || store.rfind("postgres://", 0) == 0 ||
         store.rfind("postgresql:", 0) == 0;
}

std::string postgres_conninfo(const std::string& store) {
  if (store.rfind("postgresql://", 0) == 0 || store.rfind("postgres://", 0) == 0) return store;
  return store.substr(std::string("postgresql:").size());
}

// PostgreSQL keeps the types outside the R4 Patient compartment (Practitioner, Organization,
// Medication, ...) in its shared tables (Citus reference tables, docs/scale-out.md). Binary is
// outside the compartment too but stays with the patient tables: large, patient-specific, and
// as a reference table copied to every node.
bool shared_resource_type(const std::string& type) {
  return type != "Patient" && type != "Binary" && fhir::patient_compartment_params(type).empty();
}

// `bulk_copy`: PostgreSQL writes go through COPY (ipa-server import); SQLite ignores it.
core::Result<std::unique_ptr<storage::ResourceStore>> open_store(const Config& c,
                                                                 bool bulk_copy = false) {
  if (is_postgres(c.store)) {
    storage::postgres::PostgresOptions o;
    o.conninfo = postgres_conninfo(c.store);
    o.bulk_copy = bulk_copy;
    o.shared_type = shared_resource_type;
    return storage::postgres::open_postgres_store(o);
  }
  fs::path p(c.store);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
  }
  storage::sqlite::SqliteOptions o;
  o.path = c.store;
  o.synchronous_full = c.sync_full;
  o.read_cache_bytes = static_cast<size_t>(c.read_cache_mb) * 1024 * 1024;
  return storage::sqlite::open_sqlite_store(o);
}

std::string default_base(const Config& c, uint16_t port) {
  if (!c.base_url.empty()) {
    std::string b = c.base_url;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return b;
  }
  std::string host = c.address == "0.0.0.0" || c.address == "::" ? "127.0.0.1" : c.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const bool tls = !c.tls_cert.empty() || !c.tls_key.empty();
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port) + "/fhir";
}

// Binds first (the port may be 0), then builds the API with the real base URL.
bool loopback(const std::string& address) {
  return address == "127.0.0.1" || address == "::1" || address == "localhost" ||
         address.rfind("127.", 0) == 0;
}

// `clock` judges expiry inside the store (codes, sessions, refresh tokens, purge): it must be
// the clock the API runs with, or the test clock would move only half of the server.
core::Result<std::shared_ptr<storage::AuthStore>> open_auth_store(
    const Config& c, std::shared_ptr<core::Clock> clock) {
  if (is_postgres(c.store)) {
    storage::postgres::PostgresAuthOptions o;
    o.conninfo = postgres_conninfo(c.store);
    o.clock = std::move(clock);
    auto a = storage::postgres::open_postgres_auth_store(o);
    if (!a.ok()) return std::move(a).error();
    return std::shared_ptr<storage::AuthStore>(std::move(*a));
  }
  storage::sqlite::SqliteOptions o;
  o.path = c.store;
  o.synchronous_full = c.sync_full;
  o.clock = std::move(clock);
  auto a = storage::sqlite::open_sqlite_auth_store(o);
  if (!a.ok()) return std::move(a).error();
  return std::shared_ptr<storage::AuthStore>(std::move(*a));
}

void write_demo_json(const Config& c, const std::string& base, int patients);

int serve(const Config& c, storage::ResourceStore& store, bool demo_banner, int demo_patients) {
  if (rest::enforcement_compiled_out()) {
    // Bench-only build (IPA_BENCH_NO_ENFORCEMENT): any valid token reads and writes everything.
    if (!loopback(c.address)) {
      spdlog::critical(
          "this ipa-server was BUILT WITHOUT ACCESS CONTROL ENFORCEMENT (bench "
          "only): refused on {} (loopback only)",
          c.address);
      return 2;
    }
    spdlog::critical(
        "*** BENCH BUILD: grant enforcement is COMPILED OUT (IPA_BENCH_NO_ENFORCEMENT)"
        ": any valid token reads and writes every record; loopback only; never "
        "deploy this binary ***");
  }
  if (c.no_auth && !loopback(c.address)) {
    spdlog::error("--no-auth serves every record to anyone: refused on {} (loopback only)",
                  c.address);
    return 2;
  }
  const bool tls = !c.tls_cert.empty() || !c.tls_key.empty();
  if (!tls && !loopback(c.address) && !c.allow_plain_http) {
    // S87: tokens and records must not cross a network in clear text.
    spdlog::error(
        "plain HTTP is refused on {} (loopback only): give --tls-cert and --tls-key, or "
        "--allow-plain-http true when a proxy in front terminates TLS",
        c.address);
    return 2;
  }
  // Integration tests only, and only on loopback: the test clock (IPA_TEST_CLOCK_FILE), for the
  // API and the AuthStore alike.
  std::string clock_refused;
  auto clock = server_clock(loopback(c.address), &clock_refused);
  if (!clock_refused.empty()) spdlog::warn("{}", clock_refused);
  std::shared_ptr<storage::AuthStore> auth_store;
  if (!c.no_auth) {
    auto a = open_auth_store(c, clock);
    if (!a.ok()) {
      spdlog::error("cannot open the auth store: {} {}", a.error().diagnostics,
                    a.error().log_detail);
      return 1;
    }
    auth_store = std::move(*a);
  }
  http::ServerOptions so;
  so.address = c.address;
  so.port = static_cast<uint16_t>(c.port);
  so.threads = c.threads;
  so.body_limit = static_cast<size_t>(c.body_limit);
  so.header_timeout = std::chrono::milliseconds(c.header_timeout_ms);
  so.body_timeout = std::chrono::milliseconds(c.body_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(c.idle_timeout_ms);
  so.tls_certificate_file = c.tls_cert;
  so.tls_private_key_file = c.tls_key;
  std::unique_ptr<rest::FhirApi> api;
  std::atomic<rest::FhirApi*> api_ptr{nullptr};
  std::string node;  // set before api_ptr, read only after it
  auto server = http::Server::start(so, [&](const http::Request& r) {
    rest::FhirApi* a = api_ptr.load();
    if (a == nullptr) {
      http::Response resp;
      resp.status = 503;
      return resp;
    }
    http::Response resp = a->handle(r);
    // Which node answered: any node can continue any flow, and this shows it (issue 6).
    resp.headers.push_back({"X-Node", node});
    return resp;
  });
  if (!server.ok()) {
    spdlog::error("cannot listen on {}:{}: {} {}", c.address, c.port, server.error().diagnostics,
                  server.error().log_detail);
    return 1;
  }
  rest::ApiOptions ao;
  ao.base_url = default_base(c, (*server)->port());
  ao.open_registration = c.open_registration;
  ao.cors_origins = c.cors_origins;
  // Integration tests only, and only on loopback: JWK Sets from a loopback http server.
  const char* loopback_jwks = std::getenv("IPA_TEST_LOOPBACK_JWKS");
  ao.allow_loopback_jwks =
      loopback(c.address) && loopback_jwks != nullptr && std::string(loopback_jwks) == "1";
  node = c.node_name;
  if (node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    node = std::string(host) + ":" + std::to_string((*server)->port());
  }
  ao.node_name = node;  // stamped on audit events
  api = std::make_unique<rest::FhirApi>(ao, store, clock, core::random_ids(), auth_store);
  api_ptr = api.get();
  spdlog::info("listening on {}:{}; FHIR base {}", c.address, (*server)->port(), ao.base_url);
  if (c.no_auth) {
    spdlog::warn(
        "access control is OFF (--no-auth): every record is served to anyone who can "
        "reach {}:{}",
        c.address, (*server)->port());
  } else {
    spdlog::info("access control is on: SMART App Launch at {}/.well-known/smart-configuration",
                 ao.base_url);
  }
  // From here a SIGTERM stops the server gracefully (whoever read the port file may send one).
  http::SignalWatch signals;
  // demo.json comes before the port file: whoever waits for the port file (the tests, scripts)
  // then finds demo.json complete.
  if (demo_banner) write_demo_json(c, ao.base_url, demo_patients);
  if (!c.port_file.empty()) {
    std::string tmp = c.port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    fs::rename(tmp, c.port_file);
  }
  if (demo_banner) {
    const std::string& b = ao.base_url;
    std::printf(
        "\nipa-server demo is running at %s\n\n"
        "  curl %s/metadata\n"
        "  curl %s/.well-known/smart-configuration\n\n"
        "Access control is %s. Demo sign-ins (password %s): caregiver (may see pat-0001,\n"
        "pat-0002 and pat-0003: the picker appears), patient (pat-0006), pat-0005 (also sees its\n"
        "old linked record pat-0004), and pat-NNNN for every patient. Apps: %s and demo-public\n"
        "(public), demo-asymmetric (private_key_jwt), demo-symmetric (client secret); redirect\n"
        "URIs http://127.0.0.1:<any port>/callback. Backend service: demo-backend\n"
        "(client_credentials with private_key_jwt, scopes %s; private key\n"
        "demo-backend.jwk.json). Details, secrets and key files: demo.json in the data folder.\n"
        "Stop with Ctrl-C.\n\n",
        b.c_str(), b.c_str(), b.c_str(), c.no_auth ? "OFF (--no-auth)" : "on", kDemoPassword,
        kDemoClientId, kDemoBackendScope);
    std::fflush(stdout);
  }
  signals.run(**server);
  spdlog::info("stopped");
  return 0;
}

std::string patient_id(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, n < 10000 ? "pat-%04d" : "pat-%05d", n);
  return buf;
}

// Demo users (one per patient; the parent sees her children; the link pair's person sees both
// records) and a public demo app. Created once; existing entries are kept.
std::string read_file_trimmed(const std::string& path, bool* ok);

int load_demo_auth(const Config& c, int patients) {
  auto a = open_auth_store(c, core::system_clock());
  if (!a.ok()) {
    spdlog::error("cannot open the auth store: {}", a.error().diagnostics);
    return 1;
  }
  storage::AuthStore& store = **a;
  if (store.get_user("pat-0001").ok()) return 0;
  // One Argon2id hash shared by all demo users: they share the published demo password.
  auto hash = auth::hash_password(kDemoPassword);
  if (!hash.ok()) return 1;
  for (int n = 1; n <= patients; ++n) {
    storage::User u;
    u.username = patient_id(n);
    u.password_hash = *hash;
    u.fhir_user = "Patient/" + u.username;
    u.display_name = "Demo user " + u.username;
    u.patients = {u.username};
    if (n == 1 && patients >= 3) u.patients = {"pat-0001", "pat-0002", "pat-0003"};
    if (n == 5 && patients >= 5) u.patients = {"pat-0005", "pat-0004"};
    if (n == 4 && patients >= 5) continue;  // the old record has no sign-in of its own
    if (auto st = store.create_user(u); !st.ok()) {
      spdlog::error("demo user {}: {}", u.username, st.error().diagnostics);
      return 1;
    }
  }
  storage::Client app;
  app.client_id = kDemoClientId;
  app.name = "IPA demo app";
  app.type = storage::ClientType::kPublic;
  app.redirect_uris = {"http://127.0.0.1:8000/callback", "http://localhost:8000/callback"};
  app.token_endpoint_auth_method = "none";
  app.created = core::system_clock()->now();
  if (auto st = store.create_client(app); !st.ok() && st.error().http_status != 409) {
    spdlog::error("demo client: {}", st.error().diagnostics);
    return 1;
  }
  // The named sign-ins and apps of the demo (issue 4 item 12).
  if (patients >= 6) {
    storage::User patient_user;
    patient_user.username = "patient";
    patient_user.password_hash = *hash;
    patient_user.fhir_user = "Patient/pat-0006";
    patient_user.display_name = "Demo patient";
    patient_user.patients = {"pat-0006"};
    storage::User caregiver = patient_user;
    caregiver.username = "caregiver";
    caregiver.fhir_user = "Patient/pat-0001";
    caregiver.display_name = "Demo caregiver";
    caregiver.patients = {"pat-0001", "pat-0002", "pat-0003"};
    for (const auto& u : {patient_user, caregiver}) {
      if (auto st = store.create_user(u); !st.ok()) return 1;
    }
  }
  fs::path dir = c.data_dir.empty() ? fs::path(c.store).parent_path() : fs::path(c.data_dir);
  storage::Client pub = app;
  pub.client_id = "demo-public";
  pub.name = "Demo public app";
  pub.redirect_uris = {"http://127.0.0.1/callback", "http://localhost/callback"};
  auto key = jose::Key::generate(jose::Alg::kES384);
  if (!key.ok()) return 1;
  json::Value jwks = json::Value::object();
  jwks.set("keys", json::Value::array({key->public_jwk()}));
  storage::Client asym = pub;
  asym.client_id = "demo-asymmetric";
  asym.name = "Demo confidential app (private_key_jwt)";
  asym.type = storage::ClientType::kConfidentialAsymmetric;
  asym.token_endpoint_auth_method = "private_key_jwt";
  asym.jwks = json::write(jwks);
  std::string secret = jose::random_token(24);
  storage::Client sym = pub;
  sym.client_id = "demo-symmetric";
  sym.name = "Demo confidential app (client secret)";
  sym.type = storage::ClientType::kConfidentialSymmetric;
  sym.token_endpoint_auth_method = "client_secret_basic";
  sym.secret_hash = auth::client_secret_hash(secret);
  auto write_private = [](const fs::path& path, const std::string& text) {
    std::ofstream(path) << text << "\n";
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  };
  write_private(dir / "demo-asymmetric.jwk.json", json::write(key->private_jwk()));
  write_private(dir / "demo-asymmetric.key.pem", key->private_pem());
  write_private(dir / "demo-symmetric.secret", secret);
  // SMART Backend Services: loads and administers data with system/ scopes (client_credentials).
  auto backend_key = jose::Key::generate(jose::Alg::kES384);
  if (!backend_key.ok()) return 1;
  json::Value backend_jwks = json::Value::object();
  backend_jwks.set("keys", json::Value::array({backend_key->public_jwk()}));
  storage::Client backend;
  backend.client_id = "demo-backend";
  backend.name = "Demo backend service (client_credentials)";
  backend.type = storage::ClientType::kBackend;
  backend.token_endpoint_auth_method = "private_key_jwt";
  backend.scope = kDemoBackendScope;
  backend.jwks = json::write(backend_jwks);
  backend.created = core::system_clock()->now();
  write_private(dir / "demo-backend.jwk.json", json::write(backend_key->private_jwk()));
  for (const auto& cl : {pub, asym, sym, backend}) {
    if (auto st = store.create_client(cl); !st.ok() && st.error().http_status != 409) return 1;
  }
  spdlog::info("created demo sign-ins for {} patients and the demo apps", patients);
  return 0;
}

// demo.json in the data folder: what a tester or a test needs to run launches against the demo.
void write_demo_json(const Config& c, const std::string& base, int patients) {
  using json::Value;
  fs::path dir = c.data_dir.empty() ? fs::path(c.store).parent_path() : fs::path(c.data_dir);
  auto str = [](std::string v) { return Value::string(std::move(v)); };
  auto list = [&](std::vector<std::string> items) {
    Value a = Value::array();
    for (auto& i : items) a.push_back(str(i));
    return a;
  };
  Value users = Value::array();
  auto user = [&](const std::string& name, std::vector<std::pair<std::string, std::string>> recs) {
    Value u = Value::object();
    u.set("username", str(name));
    u.set("password", str(kDemoPassword));
    Value ids = Value::array();
    Value fhir_user = Value::object();
    for (auto& [pid, who] : recs) {
      ids.push_back(str(pid));
      fhir_user.set(pid, str(who));
    }
    u.set("patients", std::move(ids));
    u.set("fhir_user", std::move(fhir_user));
    users.push_back(std::move(u));
  };
  if (patients >= 6) {
    user("patient", {{"pat-0006", "Patient/pat-0006"}});
    user("caregiver", {{"pat-0001", "Patient/pat-0001"},
                       {"pat-0002", "RelatedPerson/rp-0002-01"},
                       {"pat-0003", "RelatedPerson/rp-0003-01"}});
    user("pat-0005", {{"pat-0005", "Patient/pat-0005"}, {"pat-0004", "Patient/pat-0005"}});
  }
  bool ok = false;
  std::string secret = read_file_trimmed((dir / "demo-symmetric.secret").string(), &ok);
  Value clients = Value::array();
  auto client = [&](const std::string& id, const std::string& type, const std::string& secret_value,
                    const std::string& jwk_file) {
    Value cl = Value::object();
    cl.set("client_id", str(id));
    cl.set("type", str(type));
    cl.set("redirect_uris", list({"http://127.0.0.1/callback", "http://localhost/callback"}));
    if (!secret_value.empty()) cl.set("client_secret", str(secret_value));
    if (!jwk_file.empty()) cl.set("private_jwk_file", str(jwk_file));
    cl.set("scopes", str("launch/patient openid fhirUser offline_access patient/*.rs"));
    clients.push_back(std::move(cl));
  };
  client("demo-public", "public", "", "");
  client("demo-asymmetric", "confidential-asymmetric", "",
         fs::absolute(dir / "demo-asymmetric.jwk.json").string());
  client("demo-symmetric", "confidential-symmetric", ok ? secret : "", "");
  Value backend = Value::object();
  backend.set("client_id", str("demo-backend"));
  backend.set("type", str("backend"));
  backend.set("private_jwk_file", str(fs::absolute(dir / "demo-backend.jwk.json").string()));
  backend.set("scopes", str(kDemoBackendScope));
  clients.push_back(std::move(backend));
  Value doc = Value::object();
  doc.set("fhir_base", str(base));
  doc.set("users", std::move(users));
  doc.set("clients", std::move(clients));
  // Written whole under another name, then renamed: a reader never sees half a file.
  fs::path tmp = dir / "demo.json.tmp";
  std::ofstream(tmp) << json::write(doc, json::WriteOptions{.pretty = true}) << "\n";
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(tmp, dir / "demo.json");
}

std::string read_file_trimmed(const std::string& path, bool* ok) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  *ok = static_cast<bool>(in) || !text.empty();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

int load_demo(storage::ResourceStore& store, int patients) {
  auto any = store.history(storage::HistoryQuery{.count = 1});
  if (any.ok() && any->total > 0) {
    spdlog::info("reusing the existing data ({} versions stored)", any->total);
    return 0;
  }
  rest::ApiOptions ao;
  ao.base_url = "http://localhost/fhir";
  rest::FhirApi api(ao, store, core::system_clock(), core::random_ids());
  std::vector<json::Value> batch;
  int64_t rejected = 0;
  auto flush = [&] {
    auto results = api.import_resources(std::move(batch));
    batch.clear();
    for (auto& r : results) {
      if (!r.ok()) {
        ++rejected;
        spdlog::error("demo resource rejected: {} {}", r.error().diagnostics, r.error().expression);
      }
    }
  };
  demo::Options o;
  o.patients = patients;
  auto n = demo::generate(o, [&](const json::Value& r) -> core::Status {
    batch.push_back(r);
    if (batch.size() >= 1000) flush();
    return {};
  });
  flush();
  if (!n.ok()) {
    spdlog::error("demo data: {}", n.error().diagnostics);
    return 1;
  }
  spdlog::info("loaded {} demo resources for {} patients", *n, patients);
  return rejected == 0 ? 0 : 1;
}

int gen(int patients, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", out_dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::map<std::string, std::unique_ptr<std::ofstream>> files;
  demo::Options o;
  o.patients = patients;
  std::string line;
  auto n = demo::generate(o, [&](const json::Value& r) -> core::Status {
    std::string type(r.get_string("resourceType"));
    auto& f = files[type];
    if (!f) f = std::make_unique<std::ofstream>(fs::path(out_dir) / (type + ".ndjson"));
    line.clear();
    json::write_to(line, r);
    line.push_back('\n');
    f->write(line.data(), static_cast<std::streamsize>(line.size()));
    if (!*f) return core::internal("write failed");
    return {};
  });
  if (!n.ok()) {
    std::fprintf(stderr, "gen: %s\n", n.error().diagnostics.c_str());
    return 1;
  }
  std::printf("wrote %lld resources for %d patients to %s\n", static_cast<long long>(*n), patients,
              out_dir.c_str());
  return 0;
}

}  // namespace
}  // namespace ipa::server

int main(int argc, char** argv) {
  using namespace ipa::server;
  CLI::App app{"ipa-server: an HL7 FHIR R4 server for International Patient Access (IPA 1.0.0)"};
  app.require_subcommand(1);
  std::string config_file;
  app.add_option("--config", config_file, "TOML configuration file")->envname("IPA_CONFIG");

  Config serve_cfg;
  std::map<std::string, CLI::Option*> serve_opts;
  auto* serve_cmd = app.add_subcommand("serve", "serve the FHIR API from the store");
  add_store_options(*serve_cmd, serve_cfg, serve_opts);
  add_listen_options(*serve_cmd, serve_cfg, serve_opts);

  Config demo_cfg;
  demo_cfg.store.clear();
  demo_cfg.open_registration = true;  // the demo lets any app register itself
  std::map<std::string, CLI::Option*> demo_opts;
  std::string data_dir = "data";
  int demo_patients = 50;
  auto* demo_cmd = app.add_subcommand("demo", "load the synthetic IPA dataset and serve it");
  add_store_options(*demo_cmd, demo_cfg, demo_opts);
  add_listen_options(*demo_cmd, demo_cfg, demo_opts);
  demo_cmd->add_option("--data-dir", data_dir, "folder for the SQLite file")
      ->envname("IPA_DATA_DIR");
  demo_cmd->add_option("--patients", demo_patients, "number of patients")
      ->check(CLI::Range(1, 10000000));

  Config import_cfg;
  std::map<std::string, CLI::Option*> import_opts;
  std::vector<std::string> import_paths;
  auto* import_cmd = app.add_subcommand("import", "import FHIR Bundles, NDJSON or resources");
  add_store_options(*import_cmd, import_cfg, import_opts);
  import_cmd->add_option("paths", import_paths, "files or folders")->required();
  bool import_no_copy = false;
  import_cmd->add_flag("--no-copy", import_no_copy,
                       "PostgreSQL: one INSERT per row instead of COPY (for comparison)");

  Config admin_cfg;
  std::map<std::string, CLI::Option*> admin_opts;
  auto* admin_cmd = app.add_subcommand("admin", "manage sign-ins, registered apps and keys");
  add_store_options(*admin_cmd, admin_cfg, admin_opts);
  admin_cmd->require_subcommand(1);
  AdminCommands admin(*admin_cmd);

  int gen_patients = 50;
  std::string gen_out;
  auto* gen_cmd = app.add_subcommand("gen", "write the synthetic dataset as NDJSON");
  gen_cmd->add_option("--patients", gen_patients, "number of patients")
      ->check(CLI::Range(1, 10000000));
  gen_cmd->add_option("--out", gen_out, "output folder")->required();

  CLI11_PARSE(app, argc, argv);

  if (*gen_cmd) return gen(gen_patients, gen_out);

  Config* cfg = *serve_cmd   ? &serve_cfg
                : *demo_cmd  ? &demo_cfg
                : *admin_cmd ? &admin_cfg
                             : &import_cfg;
  auto& opts = *serve_cmd   ? serve_opts
               : *demo_cmd  ? demo_opts
               : *admin_cmd ? admin_opts
                            : import_opts;
  if (!apply_config_file(config_file, *cfg, opts)) return 2;
  ipa::core::init_logging(cfg->log_level);
  bool demo_data_dir =
      *demo_cmd && (cfg->store.empty() || demo_cmd->get_option("--data-dir")->count() > 0 ||
                    is_postgres(cfg->store));
  if (*demo_cmd && cfg->store.empty()) cfg->store = (fs::path(data_dir) / "ipa.db").string();
  if (demo_data_dir) {
    cfg->data_dir = data_dir;
    std::error_code ec;
    fs::create_directories(data_dir, ec);
  }

  auto store = open_store(*cfg, *import_cmd && !import_no_copy);
  if (!store.ok()) {
    spdlog::error("cannot open the store {}: {} {}", cfg->store, store.error().diagnostics,
                  store.error().log_detail);
    return 1;
  }
  if (*admin_cmd) {
    // Admin commands judge expiry by the test clock too (AdminCommands::run); they never listen.
    auto auth_store = open_auth_store(*cfg, ipa::server::server_clock(true, nullptr));
    if (!auth_store.ok()) {
      std::fprintf(stderr, "cannot open the auth store: %s\n",
                   auth_store.error().diagnostics.c_str());
      return kAdminFailed;
    }
    return admin.run(**store, **auth_store);
  }
  if (*import_cmd) {
    ipa::rest::ApiOptions ao;
    ao.base_url = "http://localhost/fhir";
    ipa::rest::FhirApi api(ao, **store, ipa::core::system_clock(), ipa::core::random_ids());
    ImportOptions io;
    io.progress = isatty(STDERR_FILENO) != 0;
    ImportTotals t = import_files(api, import_paths, io);
    int64_t n = t.created + t.updated + t.unchanged;
    std::fprintf(stderr,
                 "import: %lld created, %lld updated, %lld unchanged, %lld rejected in %.1fs "
                 "(%.0f resources/s)\n",
                 static_cast<long long>(t.created), static_cast<long long>(t.updated),
                 static_cast<long long>(t.unchanged), static_cast<long long>(t.rejected), t.seconds,
                 t.seconds > 0 ? static_cast<double>(n) / t.seconds : 0.0);
    return t.rejected == 0 ? 0 : 1;
  }
  if (*demo_cmd) {
    int rc = load_demo(**store, demo_patients);
    if (rc != 0) return rc;
    rc = load_demo_auth(*cfg, demo_patients);
    if (rc != 0) return rc;
  }
  return serve(*cfg, **store, demo_cmd->parsed(), demo_patients);
}
