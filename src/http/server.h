// The HTTP/1.1 transport: an asynchronous server (accept loop, one session per connection,
// header/body/idle timeouts, keep-alive, graceful shutdown) that hands every request to an
// injected Handler over plain structs, and a tiny blocking client for tests and tools.
// It knows nothing about FHIR or OAuth; it speaks plain HTTP or HTTPS (TLS 1.2 and later) from a
// certificate chain and key in PEM files; CORS is not here. A Server is thread-safe;
// Request and Response are plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ipa::http {

struct Header {
  std::string name;
  std::string value;
};

// What a handler keeps for one connection between its requests (see Request::connection_state).
struct ConnectionState {
  virtual ~ConnectionState() = default;
};

struct Request {
  std::string method;           // "GET"
  std::string target;           // raw request-target, e.g. "/fhir/Patient?name=x"
  std::string path;             // percent-decoded path without query, e.g. "/fhir/Patient"
  std::string query;            // raw query string without '?', not decoded
  std::vector<Header> headers;  // as received
  std::string body;
  std::string remote_address;
  // Set by the handler, kept by the server from one request of a connection to the next and
  // dropped with the connection (e.g. the last bearer token verified on it); null on a new
  // connection and in a Request built by hand. Connections are never shared between threads
  // while a request is handled, so the handler may use it without locking.
  mutable std::shared_ptr<ConnectionState> connection_state;

  // Case-insensitive header lookup; empty when absent. Repeated headers are joined with ", ".
  std::string header(std::string_view name) const;
  // The value of `name` without a copy when it occurs exactly once; `repeated` tells a header
  // sent several times (whose joined value header() gives) from an absent one (both empty here).
  std::string_view single_header(std::string_view name, bool* repeated = nullptr) const;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;  // Content-Length and Date are set by the server
  std::string body;
  // When set, sent instead of `body` without a copy (large, unchanging documents such as the
  // CapabilityStatement).
  std::shared_ptr<const std::string> shared_body;

  // The bytes to send: shared_body when set, else body.
  const std::string& payload() const { return shared_body ? *shared_body : body; }

  // Sets `name` to `value`, replacing an existing header of that name (case-insensitive).
  void set_header(std::string name, std::string value);
};

// Called on a server thread for every request; may block (it runs on the pool). Must not throw;
// if it throws anyway the server answers 500 and logs it. A HEAD request reaches the handler
// with method "HEAD"; the server sends the headers and Content-Length of the returned body but
// not the body. A "Connection: close" header in the response closes the connection after it.
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                                // 0 = an ephemeral port
  int threads = 0;                                  // 0 = hardware concurrency
  size_t body_limit = 16 * 1024 * 1024;             // larger bodies get 413
  size_t header_limit = 16 * 1024;                  // larger headers get 431
  std::chrono::milliseconds header_timeout{10000};  // to receive a complete request head
  std::chrono::milliseconds body_timeout{30000};    // to receive the body
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive idle; also bounds a response write
  std::chrono::milliseconds shutdown_grace{10000};  // in-flight requests may finish within this
  // HTTPS when both are set: PEM files of the certificate chain (leaf first) and its private
  // key. TLS 1.2 is the oldest version offered; the handshake must end within header_timeout.
  std::string tls_certificate_file;
  std::string tls_private_key_file;

  bool tls() const { return !tls_certificate_file.empty() || !tls_private_key_file.empty(); }
};

class Server {
 public:
  // Binds `options.address:options.port` and starts accepting on `options.threads` threads.
  // Errors: unavailable (503) when the address is invalid or cannot be bound (e.g. in use), or
  // when a TLS certificate or key cannot be loaded (or only one of the two is given).
  static core::Result<std::unique_ptr<Server>> start(const ServerOptions& options, Handler handler);

  virtual ~Server() = default;  // implementations stop (gracefully) if still running

  // The bound port.
  virtual uint16_t port() const = 0;

  // Stops accepting (new connections are refused once the listening socket is closed, early in
  // the call), lets in-flight requests finish (up to shutdown_grace, then closes them), closes
  // idle keep-alive connections, then joins the threads. Idempotent and thread-safe: concurrent
  // callers all return once the server has stopped. Must not be called from inside the handler.
  virtual void stop() = 0;

  // Blocks until stop() has completed.
  virtual void wait() = 0;
};

// SIGTERM/SIGINT handling, installed when constructed: a signal that arrives from then on is kept
// until run() sees it. Construct it before telling anyone the server is up (the port file), so
// that a prompt SIGTERM stops the server gracefully instead of ending the process.
class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // Calls server.stop() once a signal arrived; returns when the server has stopped (or when the
  // server was stopped by other means).
  void run(Server& server);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SignalWatch().run(server).
void run_until_signal(Server& server);

// A response received by request().
struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;

  // Case-insensitive header lookup; empty when absent. Repeated headers are joined with ", ".
  std::string header(std::string_view name) const;
};

// A tiny blocking HTTP/1.1 client for tests and tools: sends one request to 127.0.0.1:port on a
// kept-alive connection of the calling thread when there is one (retrying once on a fresh
// connection if that one turns out closed), or a fresh one. Adds Host and Content-Length.
// Not for production traffic. Errors: unavailable (503) when the server cannot be reached,
// closes without answering, answers malformed HTTP, or takes longer than 30 seconds.
core::Result<ClientResponse> request(uint16_t port, const std::string& method,
                                     const std::string& target,
                                     const std::vector<Header>& headers = {},
                                     const std::string& body = {});

}  // namespace ipa::http
