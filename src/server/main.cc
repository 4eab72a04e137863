// ipa-server: configuration and wiring. Subcommands serve, demo, import and gen. This is the
// only code that names a storage back end.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <toml++/toml.h>

#include "core/log.h"
#include "demo/demo.h"
#include "http/server.h"
#include "rest/api.h"
#include "server/config.h"
#include "server/import.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::server {
namespace {

namespace fs = std::filesystem;

void add_store_options(CLI::App& app, Config& c, std::map<std::string, CLI::Option*>& opts) {
  opts["store"] = app.add_option("--store", c.store, "SQLite database file")->envname("IPA_STORE");
  opts["log_level"] = app.add_option("--log-level", c.log_level, "debug, info, warn, error")
                          ->envname("IPA_LOG_LEVEL");
  opts["sync"] = app.add_option("--sync-full", c.sync_full,
                                "SQLite synchronous=FULL (true) or NORMAL (false)")
                     ->envname("IPA_SYNC_FULL");
}

void add_listen_options(CLI::App& app, Config& c, std::map<std::string, CLI::Option*>& opts) {
  opts["address"] =
      app.add_option("--address", c.address, "address to bind")->envname("IPA_ADDRESS");
  opts["port"] = app.add_option("--port", c.port, "port to bind (0: any free port)")
                     ->envname("IPA_PORT");
  opts["threads"] =
      app.add_option("--threads", c.threads, "server threads (0: one per core)")
          ->envname("IPA_THREADS");
  opts["base_url"] = app.add_option("--base-url", c.base_url,
                                    "public FHIR base URL, e.g. https://ehr.example.org/fhir")
                         ->envname("IPA_BASE_URL");
  opts["body_limit"] = app.add_option("--body-limit", c.body_limit, "largest request body, bytes")
                           ->envname("IPA_BODY_LIMIT");
  opts["header_timeout_ms"] = app.add_option("--header-timeout-ms", c.header_timeout_ms)
                                  ->envname("IPA_HEADER_TIMEOUT_MS");
  opts["body_timeout_ms"] =
      app.add_option("--body-timeout-ms", c.body_timeout_ms)->envname("IPA_BODY_TIMEOUT_MS");
  opts["idle_timeout_ms"] =
      app.add_option("--idle-timeout-ms", c.idle_timeout_ms)->envname("IPA_IDLE_TIMEOUT_MS");
  opts["port_file"] = app.add_option("--port-file", c.port_file,
                                     "write the bound port to this file once listening")
                          ->envname("IPA_PORT_FILE");
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
  static const std::map<std::string, int> kKnown = {
      {"address", 0}, {"port", 0}, {"threads", 0}, {"base_url", 0}, {"store", 0},
      {"log_level", 0}, {"body_limit", 0}, {"header_timeout_ms", 0}, {"body_timeout_ms", 0},
      {"idle_timeout_ms", 0}, {"sync_full", 0}, {"port_file", 0}};
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
    if (auto v = t[key].value<int64_t>(); v && unset(key)) out = static_cast<std::decay_t<decltype(out)>>(*v);
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
  if (auto v = t["sync_full"].value<bool>(); v && unset("sync")) c.sync_full = *v;
  return true;
}

core::Result<std::unique_ptr<storage::ResourceStore>> open_store(const Config& c) {
  fs::path p(c.store);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
  }
  storage::sqlite::SqliteOptions o;
  o.path = c.store;
  o.synchronous_full = c.sync_full;
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
  return "http://" + host + ":" + std::to_string(port) + "/fhir";
}

// Binds first (the port may be 0), then builds the API with the real base URL.
int serve(const Config& c, storage::ResourceStore& store, bool demo_banner) {
  http::ServerOptions so;
  so.address = c.address;
  so.port = static_cast<uint16_t>(c.port);
  so.threads = c.threads;
  so.body_limit = static_cast<size_t>(c.body_limit);
  so.header_timeout = std::chrono::milliseconds(c.header_timeout_ms);
  so.body_timeout = std::chrono::milliseconds(c.body_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(c.idle_timeout_ms);
  std::unique_ptr<rest::FhirApi> api;
  std::atomic<rest::FhirApi*> api_ptr{nullptr};
  auto server = http::Server::start(so, [&](const http::Request& r) {
    rest::FhirApi* a = api_ptr.load();
    if (a == nullptr) {
      http::Response resp;
      resp.status = 503;
      return resp;
    }
    return a->handle(r);
  });
  if (!server.ok()) {
    spdlog::error("cannot listen on {}:{}: {} {}", c.address, c.port, server.error().diagnostics,
                  server.error().log_detail);
    return 1;
  }
  rest::ApiOptions ao;
  ao.base_url = default_base(c, (*server)->port());
  api = std::make_unique<rest::FhirApi>(ao, store, core::system_clock(), core::random_ids());
  api_ptr = api.get();
  spdlog::info("listening on {}:{}; FHIR base {}", c.address, (*server)->port(), ao.base_url);
  spdlog::warn("access control is off: SMART authorization is not implemented yet; bind to "
               "loopback only");
  if (!c.port_file.empty()) {
    std::string tmp = c.port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    fs::rename(tmp, c.port_file);
  }
  if (demo_banner) {
    const std::string& b = ao.base_url;
    std::printf(
        "\nipa-server demo is running at %s\n\nTry:\n"
        "  curl %s/metadata\n"
        "  curl %s/Patient/pat-0001\n"
        "  curl %s/Observation/_history?_count=5\n"
        "Stop with Ctrl-C.\n\n",
        b.c_str(), b.c_str(), b.c_str(), b.c_str());
    std::fflush(stdout);
  }
  http::run_until_signal(**server);
  spdlog::info("stopped");
  return 0;
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
  std::map<std::string, CLI::Option*> demo_opts;
  std::string data_dir = "data";
  int demo_patients = 50;
  auto* demo_cmd = app.add_subcommand("demo", "load the synthetic IPA dataset and serve it");
  add_store_options(*demo_cmd, demo_cfg, demo_opts);
  add_listen_options(*demo_cmd, demo_cfg, demo_opts);
  demo_cmd->add_option("--data-dir", data_dir, "folder for the SQLite file")
      ->envname("IPA_DATA_DIR");
  demo_cmd->add_option("--patients", demo_patients, "number of patients")->check(CLI::Range(1, 10000000));

  Config import_cfg;
  std::map<std::string, CLI::Option*> import_opts;
  std::vector<std::string> import_paths;
  auto* import_cmd = app.add_subcommand("import", "import FHIR Bundles, NDJSON or resources");
  add_store_options(*import_cmd, import_cfg, import_opts);
  import_cmd->add_option("paths", import_paths, "files or folders")->required();

  int gen_patients = 50;
  std::string gen_out;
  auto* gen_cmd = app.add_subcommand("gen", "write the synthetic dataset as NDJSON");
  gen_cmd->add_option("--patients", gen_patients, "number of patients")->check(CLI::Range(1, 10000000));
  gen_cmd->add_option("--out", gen_out, "output folder")->required();

  CLI11_PARSE(app, argc, argv);

  if (*gen_cmd) return gen(gen_patients, gen_out);

  Config* cfg = *serve_cmd ? &serve_cfg : *demo_cmd ? &demo_cfg : &import_cfg;
  auto& opts = *serve_cmd ? serve_opts : *demo_cmd ? demo_opts : import_opts;
  if (!apply_config_file(config_file, *cfg, opts)) return 2;
  ipa::core::init_logging(cfg->log_level);
  if (*demo_cmd && cfg->store.empty()) cfg->store = (fs::path(data_dir) / "ipa.db").string();

  auto store = open_store(*cfg);
  if (!store.ok()) {
    spdlog::error("cannot open the store {}: {} {}", cfg->store, store.error().diagnostics,
                  store.error().log_detail);
    return 1;
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
  }
  return serve(*cfg, **store, demo_cmd->parsed());
}
