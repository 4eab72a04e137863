// ipa-server configuration: defaults, then a TOML file (--config), then IPA_* environment
// variables, then command-line flags; later sources win. Plain data; no I/O after load.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ipa::server {

struct Config {
  std::string address = "127.0.0.1";
  int port = 8080;
  int threads = 0;                    // 0: one per core
  std::string base_url;               // public FHIR base; default http://{address}:{port}/fhir
  std::string store = "data/ipa.db";  // SQLite file
  std::string log_level = "info";
  int64_t body_limit = 16 * 1024 * 1024;
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  bool sync_full = true;           // SQLite synchronous=FULL (power-loss durable)
  int read_cache_mb = 64;          // SQLite: memory for recently read current versions (0: off)
  std::string port_file;           // when set, the bound port is written there once listening
  bool no_auth = false;            // development only: no access control (loopback only)
  bool open_registration = false;  // RFC 7591 dynamic registration for anyone
  std::string data_dir;            // demo: where demo.json and the demo keys are written
  std::string node_name;           // sent as X-Node on every response; default host:port
  std::string tls_cert;            // PEM certificate chain: serve HTTPS (TLS 1.2+) with tls_key
  std::string tls_key;             // PEM private key of tls_cert
  bool allow_plain_http = false;   // plain HTTP on a non-loopback address (behind a TLS proxy)
  std::vector<std::string> cors_origins;  // S88: origins allowed besides registered apps' own
};

}  // namespace ipa::server
