// The Beast server: Beast's classic async shape (example/http/server/async). N threads run one
// io_context; each connection is a Session on its own strand (with one thread, the io_context's
// implicit one) that reads with its own loop over
// a flat_buffer and a reused RequestParser, calls the handler synchronously, and writes the head
// and the body with one gathered write. Slow clients hold no thread: every read and write is
// asynchronous and bounded by a deadline. A Session is a template over its stream: a TCP stream
// for HTTP, or Beast's ssl_stream over one for HTTPS (the TLS handshake comes first, bounded by
// the header timeout).
#include "http/server.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "core/log.h"
#include "http/internal/convert.h"

namespace ipa::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Read sizes: small while reading a head, larger for bodies.
constexpr size_t kHeadReadSize = 16 * 1024;
constexpr size_t kBodyReadSize = 64 * 1024;
// After an error response the server stops sending and reads (and drops) what the client still
// sends for a short while before closing, so that the client sees the response instead of a
// reset (RFC 9112 section 9.6).
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kLingerBytes = 1024 * 1024;
// After shutdown_grace, closed connections get this long to unwind before the loop is stopped.
constexpr std::chrono::milliseconds kForceCloseWait{1000};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the server's stop() needs of a connection, whatever its stream.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual net::any_io_executor executor() = 0;
  virtual void close_if_idle() = 0;
  virtual void close() = 0;
};

// What the server and its sessions share; every session holds it, so it outlives them all.
struct Shared {
  Shared(const ServerOptions& o, Handler h) : options(o), handler(std::move(h)) {}

  const ServerOptions options;
  const Handler handler;
  std::unique_ptr<net::ssl::context> tls;  // set when serving HTTPS
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable sessions_changed;
  std::unordered_set<SessionBase*> sessions;  // guarded by mu
};

// Whether `path` holds a PEM private key (so that a failure to use it means it does not match).
bool readable_private_key(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ERR_clear_error();
  if (key == nullptr) return false;
  EVP_PKEY_free(key);
  return true;
}

// The TLS context: TLS 1.2 or later, the certificate chain and key from PEM files.
core::Result<std::unique_ptr<net::ssl::context>> make_tls_context(const ServerOptions& o) {
  if (o.tls_certificate_file.empty() || o.tls_private_key_file.empty()) {
    return core::unavailable("TLS needs both a certificate file and a private key file");
  }
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                   ec);
  if (!ec && SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return core::unavailable("Cannot restrict TLS to version 1.2 and later");
  }
  if (!ec) ctx->use_certificate_chain_file(o.tls_certificate_file, ec);
  if (ec) {
    return core::unavailable("Cannot load the TLS certificate chain " + o.tls_certificate_file +
                             ": " + ec.message());
  }
  ctx->use_private_key_file(o.tls_private_key_file, net::ssl::context::pem, ec);
  if (ec && readable_private_key(o.tls_private_key_file)) ec = {};  // checked just below
  if (ec) {
    return core::unavailable("Cannot load the TLS private key " + o.tls_private_key_file + ": " +
                             ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1 ||
      SSL_CTX_get0_privatekey(ctx->native_handle()) == nullptr) {
    return core::unavailable("The TLS private key does not match the certificate");
  }
  return ctx;
}

// One connection over `Stream` (beast::tcp_stream or TlsStream). All members are touched only
// on the session's strand.
template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)),
        stream_(make_stream(std::move(socket), *shared_)),
        accepted_(Clock::now()) {}

  ~Session() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->sessions.erase(this);
    shared_->sessions_changed.notify_all();
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  net::any_io_executor executor() override { return stream_.get_executor(); }

  void start() {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->sessions.insert(this);
    }
    beast::error_code ec;
    tcp::endpoint remote = lowest().socket().remote_endpoint(ec);
    if (!ec) request_.remote_address = remote.address().to_string();
    lowest().socket().set_option(tcp::no_delay(true), ec);
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      lowest().expires_at(accepted_ + shared_->options.header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              beast::bind_front_handler(&Session::on_handshake, self()));
    } else {
      begin_request();
    }
  }

  // On stop: closes the connection when it waits for a request that has not begun, or only
  // drains input after its last response.
  void close_if_idle() override {
    if (phase_ == Phase::kIdle || phase_ == Phase::kLinger || phase_ == Phase::kHandshake) close();
  }

  void close() override {
    phase_ = Phase::kClosed;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 private:
  static Stream make_stream(tcp::socket socket, Shared& shared) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  std::shared_ptr<Session> self() {
    return std::static_pointer_cast<Session>(this->shared_from_this());
  }

  void on_handshake(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // A scanner, a client offering only old protocol versions, or one that did not trust the
      // certificate: nothing to answer over a channel that does not exist.
      spdlog::debug("http: TLS handshake failed: {}", ec.message());
      close();
      return;
    }
    begin_request();
  }

  enum class Phase {
    kHandshake,  // TLS handshake before the first request
    kIdle,       // waiting for the first byte of a request
    kHeader,     // reading the request head
    kBody,       // reading the body
    kWrite,      // handling and writing the response
    kLinger,     // draining input after an error response
    kClosed,
  };

  void begin_request() {
    parser_.emplace(request_);
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.header_limit));
    parser_->body_limit(static_cast<std::uint64_t>(shared_->options.body_limit));
    parser_->eager(true);
    const Clock::time_point now = Clock::now();
    if (first_request_) {
      // The first head must arrive within header_timeout of the accept.
      idle_deadline_ = accepted_ + shared_->options.header_timeout;
      header_deadline_ = idle_deadline_;
    } else {
      idle_deadline_ = now + shared_->options.idle_timeout;
    }
    if (buffer_.size() > 0) {  // pipelined
      begin_head(now);
      parse();
    } else {
      phase_ = Phase::kIdle;
      read_more();
    }
  }

  void begin_head(Clock::time_point now) {
    phase_ = Phase::kHeader;
    request_start_ = now;
    if (!first_request_) header_deadline_ = now + shared_->options.header_timeout;
  }

  void read_more() {
    size_t size = kHeadReadSize;
    switch (phase_) {
      case Phase::kIdle:
        if (shared_->stopping.load()) {
          close();
          return;
        }
        lowest().expires_at(idle_deadline_);
        break;
      case Phase::kHeader:
        lowest().expires_at(header_deadline_);
        break;
      case Phase::kBody:
        lowest().expires_at(body_deadline_);
        size = kBodyReadSize;
        break;
      default:
        return;
    }
    stream_.async_read_some(buffer_.prepare(size),
                            beast::bind_front_handler(&Session::on_read, self()));
  }

  void on_read(beast::error_code ec, size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      if (ec == beast::error::timeout) {
        spdlog::debug("http: closing connection after {} timeout", phase_ == Phase::kIdle ? "idle"
                                                                   : phase_ == Phase::kBody
                                                                       ? "body"
                                                                       : "header");
      } else if (ec != net::error::eof && ec != net::error::operation_aborted &&
                 ec != net::error::connection_reset) {
        spdlog::debug("http: read failed: {}", ec.message());
      }
      // End of stream between requests is the normal end of a connection; within a request it
      // means the client gave up: either way there is nobody to answer.
      close();
      return;
    }
    buffer_.commit(n);
    if (phase_ == Phase::kIdle) begin_head(Clock::now());
    parse();
  }

  void parse() {
    while (!parser_->is_done() && buffer_.size() > 0) {
      beast::error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) {
        fail_parse(ec);
        return;
      }
      if (used == 0) break;
    }
    if (phase_ == Phase::kHeader && parser_->is_header_done()) {
      phase_ = Phase::kBody;
      body_deadline_ = Clock::now() + shared_->options.body_timeout;
      if (!accept_head()) return;
    }
    if (parser_->is_done()) {
      handle_request();
      return;
    }
    read_more();
  }

  // Checks a complete head before its body is read. Returns false when it answered the request
  // or started an asynchronous write that resumes parsing.
  bool accept_head() {
    // RFC 9112 section 3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.
    if (parser_->version() >= 11 && !parser_->has_host()) {
      fail(400, core::IssueType::kStructure, "The request has no Host header");
      return false;
    }
    // RFC 9112 section 6.3: a request whose last transfer coding is not chunked has no reliable
    // length; answering it could let its body pass as another request (request smuggling).
    if (parser_->has_transfer_encoding() && !parser_->chunked()) {
      fail(400, core::IssueType::kStructure, "Transfer-Encoding must end with chunked");
      return false;
    }
    core::Status target = internal::decode_target(request_);
    if (!target.ok()) {
      fail(400, core::IssueType::kInvalid, target.error().diagnostics);
      return false;
    }
    // RFC 9110 section 10.1.1: tell a client that waits before sending its body to go ahead.
    if (parser_->expect_continue() && parser_->version() >= 11 && !parser_->is_done() &&
        buffer_.size() == 0) {
      lowest().expires_at(body_deadline_);
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       beast::bind_front_handler(&Session::on_continue, self()));
      return false;
    }
    return true;
  }

  void on_continue(beast::error_code ec, size_t /*n*/) {
    if (ec) {
      close();
      return;
    }
    parse();
  }

  void fail_parse(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      fail(431, core::IssueType::kTooLong, "The request header fields are too large");
    } else if (ec == bhttp::error::bad_version) {
      // Beast accepts HTTP/1.0 and HTTP/1.1 only.
      fail(505, core::IssueType::kNotSupported, "Only HTTP/1.0 and HTTP/1.1 are supported");
    } else if (ec == bhttp::error::body_limit) {
      fail(413, core::IssueType::kTooLong,
           "The request body exceeds the limit of " + std::to_string(shared_->options.body_limit) +
               " bytes");
    } else {
      fail(400, core::IssueType::kStructure, "Malformed HTTP request");
    }
  }

  // Answers with a transport error and closes the connection afterwards.
  void fail(int status, core::IssueType type, const std::string& diagnostics) {
    phase_ = Phase::kWrite;
    if (request_start_ == Clock::time_point{}) request_start_ = Clock::now();
    response_ = internal::error_response(status, core::issue_code(type), diagnostics);
    linger_ = true;
    send(/*keep_alive=*/false, /*head=*/false);
  }

  void handle_request() {
    phase_ = Phase::kWrite;
    try {
      response_ = shared_->handler(request_);
    } catch (const std::exception& e) {
      spdlog::error("http: handler threw: {}", e.what());
      response_ = internal::error_response(500, "exception", "Internal server error");
    } catch (...) {
      spdlog::error("http: handler threw a non-exception");
      response_ = internal::error_response(500, "exception", "Internal server error");
    }
    const bool keep_alive =
        parser_->keep_alive() && !internal::response_closes(response_) && !shared_->stopping.load();
    send(keep_alive, request_.method == "HEAD");
  }

  void send(bool keep_alive, bool head) {
    keep_alive_ = keep_alive;
    const bool http10 = parser_->started() && parser_->version() == 10;
    core::Status status = internal::serialize_head(response_, keep_alive, http10, head_);
    if (!status.ok()) {
      spdlog::error("http: {}", status.error().log_detail);
      response_ = internal::error_response(500, "exception", "Internal server error");
      status = internal::serialize_head(response_, keep_alive, http10, head_);
      assert(status.ok());
    }
    const std::string& payload = response_.payload();
    body_bytes_ = (head || !internal::body_allowed(response_.status)) ? 0 : payload.size();
    lowest().expires_after(shared_->options.idle_timeout);
    if constexpr (kTls) {
      // Over Beast's ssl_stream a composed write of the gathered (head, body) pair ended after
      // the head when the body was large (TlsTest shows it), so TLS gets one contiguous buffer;
      // the copy is small next to the encryption.
      head_.append(payload.data(), body_bytes_);
      net::async_write(stream_, net::buffer(head_),
                       beast::bind_front_handler(&Session::on_write, self()));
    } else {
      std::array<net::const_buffer, 2> buffers = {net::buffer(head_),
                                                  net::buffer(payload.data(), body_bytes_)};
      net::async_write(stream_, buffers, beast::bind_front_handler(&Session::on_write, self()));
    }
  }

  void on_write(beast::error_code ec, size_t /*n*/) {
    log_request(ec);
    response_ = Response{};
    request_start_ = Clock::time_point{};
    if (ec || phase_ == Phase::kClosed) {
      close();
      return;
    }
    if (!keep_alive_) {
      // Unread input (an error mid-request, or pipelined requests after "Connection: close")
      // would make close() send a reset that can destroy the response in flight.
      if (linger_ || buffer_.size() > 0) {
        linger();
      } else {
        close();
      }
      return;
    }
    first_request_ = false;
    begin_request();
  }

  void log_request(beast::error_code ec) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - request_start_);
    std::string_view method = "-";
    std::string_view path = "-";
    if (parser_->started()) {
      method = request_.method;
      // The raw path: never the query (it may hold personal data), and not decoded, so that a
      // %0A cannot forge log lines.
      path = std::string_view(request_.target).substr(0, request_.target.find('?'));
    }
    if (ec) {
      spdlog::info("method={} path={} status={} bytes={} us={} error=\"{}\"", method, path,
                   response_.status, body_bytes_, us.count(), ec.message());
    } else {
      spdlog::info("method={} path={} status={} bytes={} us={}", method, path, response_.status,
                   body_bytes_, us.count());
    }
  }

  void linger() {
    phase_ = Phase::kLinger;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    linger_deadline_ = Clock::now() + kLingerTime;
    linger_bytes_ = 0;
    buffer_.consume(buffer_.size());
    drain();
  }

  void drain() {
    lowest().expires_at(linger_deadline_);
    stream_.async_read_some(
        buffer_.prepare(kBodyReadSize), [self = self()](beast::error_code ec, size_t n) {
          self->linger_bytes_ += n;
          if (ec || self->linger_bytes_ > kLingerBytes || self->phase_ != Phase::kLinger) {
            self->close();
            return;
          }
          self->drain();
        });
  }

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  Request request_;
  std::optional<internal::RequestParser> parser_;  // refers to request_
  Response response_;
  std::string head_;  // the serialized response head; its capacity is reused
  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;
  bool keep_alive_ = false;
  bool linger_ = false;
  size_t body_bytes_ = 0;
  size_t linger_bytes_ = 0;
  Clock::time_point accepted_;
  Clock::time_point request_start_{};
  Clock::time_point idle_deadline_{};
  Clock::time_point header_deadline_{};
  Clock::time_point body_deadline_{};
  Clock::time_point linger_deadline_{};
};

class ServerImpl;
// Marks the threads of a server's pool, so stop() can refuse to join its own thread.
thread_local const ServerImpl* tl_pool_owner = nullptr;

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler handler, int threads)
      : shared_(std::make_shared<Shared>(options, std::move(handler))),
        ioc_(threads),
        acceptor_(ioc_),
        accept_retry_(ioc_),
        threads_count_(threads) {}

  ~ServerImpl() override { stop(); }

  core::Status listen() {
    const ServerOptions& options = shared_->options;
    if (options.tls()) {
      auto ctx = make_tls_context(options);
      if (!ctx.ok()) return std::move(ctx).error();
      shared_->tls = std::move(*ctx);
    }
    beast::error_code ec;
    net::ip::address address = net::ip::make_address(options.address, ec);
    if (ec) {
      return core::unavailable("Invalid listen address").with_log(options.address);
    }
    tcp::endpoint endpoint(address, options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::unavailable("Cannot listen on " + options.address + ":" +
                               std::to_string(options.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return {};
  }

  void run() {
    {
      std::lock_guard<std::mutex> lock(accept_mu_);
      do_accept();
    }
    threads_.reserve(static_cast<size_t>(threads_count_));
    for (int i = 0; i < threads_count_; ++i) {
      threads_.emplace_back([this] {
        tl_pool_owner = this;
        ioc_.run();
      });
    }
    spdlog::info("http: listening on {}:{} ({}) with {} threads", shared_->options.address, port_,
                 shared_->tls ? "HTTPS, TLS 1.2+" : "plain HTTP", threads_count_);
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    IPA_CHECK(tl_pool_owner != this, "Server::stop() called from a server thread");
    std::unique_lock<std::mutex> lock(stop_mu_);
    if (stop_state_ == StopState::kStopping) {
      stop_cv_.wait(lock, [this] { return stop_state_ == StopState::kStopped; });
    }
    if (stop_state_ == StopState::kStopped) return;
    stop_state_ = StopState::kStopping;
    lock.unlock();

    shared_->stopping.store(true);
    {
      std::lock_guard<std::mutex> accept_lock(accept_mu_);
      beast::error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
    }
    for_each_session(&SessionBase::close_if_idle);
    const Clock::time_point deadline = Clock::now() + shared_->options.shutdown_grace;
    if (!wait_for_sessions(deadline)) {
      spdlog::warn("http: closing connections still busy after the shutdown grace period");
      for_each_session(&SessionBase::close);
      (void)wait_for_sessions(Clock::now() + kForceCloseWait);
    }
    ioc_.stop();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    spdlog::info("http: stopped");

    lock.lock();
    stop_state_ = StopState::kStopped;
    stop_cv_.notify_all();
  }

  void wait() override {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait(lock, [this] { return stop_state_ == StopState::kStopped; });
  }

 private:
  enum class StopState { kRunning, kStopping, kStopped };

  // Requires accept_mu_.
  void do_accept() {
    auto on = [this](beast::error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    };
    if (threads_count_ == 1) {
      // One thread runs the io_context: it is the sessions' implicit strand (Asio's "strands"
      // overview), and an explicit one would only add type-erased executor work per operation.
      acceptor_.async_accept(ioc_.get_executor(), std::move(on));
    } else {
      acceptor_.async_accept(net::make_strand(ioc_), std::move(on));
    }
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec && !shared_->stopping.load()) {
      if (shared_->tls) {
        auto session = std::make_shared<Session<TlsStream>>(std::move(socket), shared_);
        net::dispatch(session->executor(), [session] { session->start(); });
      } else {
        auto session = std::make_shared<Session<beast::tcp_stream>>(std::move(socket), shared_);
        net::dispatch(session->executor(), [session] { session->start(); });
      }
    } else if (ec) {
      // E.g. out of file descriptors: back off instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
    }
    std::lock_guard<std::mutex> lock(accept_mu_);
    if (!acceptor_.is_open()) return;
    if (!ec) {
      do_accept();
      return;
    }
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](beast::error_code timer_ec) {
      if (timer_ec) return;
      std::lock_guard<std::mutex> retry_lock(accept_mu_);
      if (acceptor_.is_open()) do_accept();
    });
  }

  // Runs `fn` on the strand of every live session.
  void for_each_session(void (SessionBase::*fn)()) {
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      live.reserve(shared_->sessions.size());
      for (SessionBase* s : shared_->sessions) {
        if (auto p = s->weak_from_this().lock()) live.push_back(std::move(p));
      }
    }
    for (auto& s : live) {
      net::post(s->executor(), [s, fn] { (s.get()->*fn)(); });
    }
  }

  // Returns true when every session ended before `deadline`.
  bool wait_for_sessions(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(shared_->mu);
    return shared_->sessions_changed.wait_until(lock, deadline,
                                                [this] { return shared_->sessions.empty(); });
  }

  std::shared_ptr<Shared> shared_;
  net::io_context ioc_;
  std::mutex accept_mu_;  // guards acceptor_ and accept_retry_ across threads
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  uint16_t port_ = 0;
  int threads_count_;
  std::vector<std::thread> threads_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  StopState stop_state_ = StopState::kRunning;  // guarded by stop_mu_
};

}  // namespace

core::Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler) {
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  auto server = std::make_unique<ServerImpl>(options, std::move(handler), threads);
  IPA_RETURN_IF_ERROR(server->listen());
  server->run();
  return std::unique_ptr<Server>(std::move(server));
}

struct SignalWatch::Impl {
  net::io_context ioc{1};
  net::signal_set signals{ioc, SIGINT, SIGTERM};
};

SignalWatch::SignalWatch() : impl_(std::make_unique<Impl>()) {}
SignalWatch::~SignalWatch() = default;

void SignalWatch::run(Server& server) {
  impl_->signals.async_wait([](beast::error_code ec, int signal) {
    if (!ec) spdlog::info("http: signal {} received, stopping", signal);
  });
  // Also return when the server is stopped by other means.
  std::thread watcher([&] {
    server.wait();
    net::post(impl_->ioc, [this] { impl_->signals.cancel(); });
  });
  impl_->ioc.run();
  server.stop();
  watcher.join();
}

void run_until_signal(Server& server) { SignalWatch().run(server); }

}  // namespace ipa::http
