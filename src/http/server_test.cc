#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"

namespace ipa::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A response as read from a raw socket.
struct RawResponse {
  int status = 0;
  std::string head;
  std::string body;

  // The value of the first header `name` (case-sensitive is enough for the server's own).
  std::string header(const std::string& name) const {
    std::string key = "\r\n" + name + ": ";
    size_t at = head.find(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// A plain POSIX client socket: lets tests send partial, malformed or pipelined requests and see
// exactly when the server closes. Every read is bounded by a receive timeout.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    set_timeout(5000ms);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (no body for HEAD, 1xx, 204, 304); nullopt on close or timeout.
  std::optional<RawResponse> read_response(bool head_request = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    RawResponse r;
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    if (r.head.size() < 12) return std::nullopt;
    r.status = std::stoi(r.head.substr(9, 3));
    size_t length = 0;
    std::string cl = r.header("Content-Length");
    if (!cl.empty()) length = std::stoul(cl);
    if (head_request || r.status < 200 || r.status == 204 || r.status == 304) length = 0;
    while (buf_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True when the server closes the connection within `timeout` (data received meanwhile is
  // dropped).
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      set_timeout(std::max(left, 1ms));
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) return true;
      if (n < 0 && errno == ECONNRESET) return true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }

  // Bytes received and not yet consumed by read_response.
  const std::string& pending() const { return buf_; }

 private:
  bool fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string get(std::string_view target, std::string_view extra = "") {
  return std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" +
         std::string(extra) + "\r\n";
}

// Echoes what the handler saw, one field per line.
Response echo(const Request& request) {
  Response response;
  response.set_header("Content-Type", "text/plain");
  response.body = "method=" + request.method + "\npath=" + request.path +
                  "\nquery=" + request.query + "\ntarget=" + request.target +
                  "\nx-test=" + request.header("x-test") + "\nbody=" + request.body +
                  "\nremote=" + request.remote_address;
  return response;
}

ServerOptions small_options() {
  ServerOptions options;
  options.threads = 2;
  options.shutdown_grace = 5000ms;
  return options;
}

std::unique_ptr<Server> start_or_die(const ServerOptions& options, Handler handler) {
  auto server = Server::start(options, std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << "start failed: " << server.error().diagnostics;
    return nullptr;
  }
  return std::move(server).value();
}

// Waits up to `timeout` for `condition`, polling briefly.
template <typename F>
bool eventually(F condition, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(HttpServer, ServesARequestWithDateLengthAndServer) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  auto res = request(server->port(), "GET", "/fhir/Patient?name=x%20y", {{"X-Test", "1"}});
  ASSERT_TRUE(res.ok()) << res.error().diagnostics;
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("method=GET\n"), std::string::npos);
  EXPECT_NE(res->body.find("path=/fhir/Patient\n"), std::string::npos);
  EXPECT_NE(res->body.find("query=name=x%20y\n"), std::string::npos);
  EXPECT_NE(res->body.find("target=/fhir/Patient?name=x%20y\n"), std::string::npos);
  EXPECT_NE(res->body.find("x-test=1\n"), std::string::npos);
  EXPECT_NE(res->body.find("remote=127.0.0.1"), std::string::npos);
  EXPECT_EQ(res->header("content-length"), std::to_string(res->body.size()));
  EXPECT_FALSE(res->header("Date").empty());
  EXPECT_EQ(res->header("Server"), "ipa-server");  // no version to fingerprint
  EXPECT_EQ(res->header("Content-Type"), "text/plain");
}

TEST(HttpServer, PercentDecodesThePath) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  auto res = request(server->port(), "GET", "/fhir/Patient/a%20b%C3%BC?q=%41");
  ASSERT_TRUE(res.ok());
  EXPECT_NE(res->body.find("path=/fhir/Patient/a b\xC3\xBC\n"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("query=q=%41\n"), std::string::npos);
}

TEST(HttpServer, RejectsTargetsThatAreNotOriginForm) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  for (std::string target : {"http://example.com/fhir/Patient", "*", "/bad%zz"}) {
    SCOPED_TRACE(target);
    RawConnection c(server->port());
    ASSERT_TRUE(c.send(get(target)));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_NE(res->body.find("\"resourceType\":\"OperationOutcome\""), std::string::npos);
    EXPECT_TRUE(c.wait_closed(3000ms));
  }
}

TEST(HttpServer, KeepsConnectionsAliveAndAnswersPipelinedRequestsInOrder) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get("/seq/" + std::to_string(i))));
    auto res = c.read_response();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find("path=/seq/" + std::to_string(i)), std::string::npos);
    EXPECT_EQ(res->header("Connection"), "");
  }
  ASSERT_TRUE(c.send(get("/p/1") + get("/p/2") + get("/p/3")));
  for (int i = 1; i <= 3; ++i) {
    auto res = c.read_response();
    ASSERT_TRUE(res) << i;
    EXPECT_NE(res->body.find("path=/p/" + std::to_string(i)), std::string::npos);
  }
}

TEST(HttpServer, HonoursConnectionClose) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(get("/x", "Connection: close\r\n")));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(3000ms));
}

TEST(HttpServer, HandlerCanCloseTheConnection) {
  auto server = start_or_die(small_options(), [](const Request&) {
    Response response;
    response.set_header("Connection", "close");
    return response;
  });
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(get("/x")));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(3000ms));
}

TEST(HttpServer, Http10ClosesUnlessKeepAliveIsAsked) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  {
    RawConnection c(server->port());
    ASSERT_TRUE(c.send("GET /a HTTP/1.0\r\n\r\n"));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed(3000ms));
  }
  {
    RawConnection c(server->port());
    ASSERT_TRUE(c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->header("Connection"), "keep-alive");
    ASSERT_TRUE(c.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_NE(res->body.find("path=/b"), std::string::npos);
  }
}

TEST(HttpServer, ClientReusesItsConnection) {
  std::mutex mu;
  std::vector<std::string> seen;
  auto server = start_or_die(small_options(), [&](const Request& request) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(request.path);
    return Response{};
  });
  ASSERT_TRUE(server);
  for (int i = 0; i < 5; ++i) {
    auto res = request(server->port(), "GET", "/r");
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 200);
  }
  auto res = request(server->port(), "POST", "/post", {{"Content-Type", "text/plain"}}, "abc");
  ASSERT_TRUE(res.ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.size(), 6u);
}

TEST(HttpServer, ClientRetriesWhenTheServerClosedItsKeptAliveConnection) {
  ServerOptions options = small_options();
  options.idle_timeout = 100ms;
  auto server = start_or_die(options, echo);
  ASSERT_TRUE(server);
  ASSERT_TRUE(request(server->port(), "GET", "/one").ok());
  std::this_thread::sleep_for(300ms);  // the server closes the idle connection meanwhile
  auto res = request(server->port(), "GET", "/two");
  ASSERT_TRUE(res.ok()) << res.error().diagnostics;
  EXPECT_NE(res->body.find("path=/two"), std::string::npos);
}

TEST(HttpServer, LargeBodiesGet413WithOperationOutcome) {
  ServerOptions options = small_options();
  options.body_limit = 1000;
  auto server = start_or_die(options, echo);
  ASSERT_TRUE(server);
  {
    // Declared length over the limit: rejected before the body is read.
    RawConnection c(server->port());
    ASSERT_TRUE(c.send("POST /fhir/Patient HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
    EXPECT_EQ(res->header("Content-Type"), "application/fhir+json");
    EXPECT_EQ(res->body.rfind(R"({"resourceType":"OperationOutcome","issue":[{"severity":"error",)"
                              R"("code":"too-long","diagnostics":")",
                              0),
              0u)
        << res->body;
    EXPECT_TRUE(c.wait_closed(5000ms));
  }
  {
    // Chunked, over the limit while streaming; the body actually sent.
    RawConnection c(server->port());
    std::string chunk(600, 'a');
    ASSERT_TRUE(
        c.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "258\r\n" +
               chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
  }
  {
    // Within the limit: served.
    auto res = request(server->port(), "POST", "/x", {}, std::string(1000, 'b'));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 200);
  }
}

TEST(HttpServer, ReadsChunkedBodies) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(
      c.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
             "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("body=abcde\n"), std::string::npos);
}

TEST(HttpServer, AnswersExpectContinue) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(
      c.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("body=data\n"), std::string::npos);
}

TEST(HttpServer, LargeHeadersGet431) {
  ServerOptions options = small_options();
  options.header_limit = 1024;
  auto server = start_or_die(options, echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(get("/x", "X-Big: " + std::string(4000, 'x') + "\r\n")));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 431);
  EXPECT_NE(res->body.find("\"code\":\"too-long\""), std::string::npos);
  EXPECT_TRUE(c.wait_closed(5000ms));
}

TEST(HttpServer, MalformedRequestsGet400AndClose) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  const struct {
    std::string raw;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\n\r\n", 400},  // RFC 9112 section 3.2: HTTP/1.1 without Host
      {"GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400},
      // RFC 9112 section 6.3: ambiguous framing (request smuggling).
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nGET /y HTTP/1.1\r\n\r\n",
       400},
      {"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"GET /x HTTP/2.0\r\nHost: t\r\n\r\n", 505},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.raw);
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.send(c.raw));
    auto res = conn.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status);
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_TRUE(conn.wait_closed(5000ms));
  }
}

TEST(HttpServer, SlowAndSilentClientsAreClosedWhileOthersAreServed) {
  ServerOptions options = small_options();
  options.threads = 1;
  options.header_timeout = 300ms;
  options.body_timeout = 300ms;
  options.idle_timeout = 300ms;
  auto server = start_or_die(options, echo);
  ASSERT_TRUE(server);

  RawConnection silent(server->port());
  RawConnection half_head(server->port());
  ASSERT_TRUE(half_head.send("GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  RawConnection half_body(server->port());
  ASSERT_TRUE(half_body.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  RawConnection idle(server->port());
  ASSERT_TRUE(idle.send(get("/first")));
  ASSERT_TRUE(idle.read_response());

  // The one thread is free for others meanwhile.
  auto res = request(server->port(), "GET", "/other", {{"Connection", "close"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);

  const auto start = Clock::now();
  EXPECT_TRUE(silent.wait_closed(3000ms));
  EXPECT_TRUE(half_head.wait_closed(3000ms));
  EXPECT_TRUE(half_body.wait_closed(3000ms));
  EXPECT_TRUE(idle.wait_closed(3000ms));
  EXPECT_LT(Clock::now() - start, 2000ms);

  res = request(server->port(), "GET", "/after");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServer, HeaderTimeoutCountsFromTheFirstByteNotPerRead) {
  ServerOptions options = small_options();
  options.header_timeout = 400ms;
  auto server = start_or_die(options, echo);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  // A byte every 100 ms never completes the head: the deadline is for the whole head.
  const auto start = Clock::now();
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    if (!c.send("X")) break;
    closed = c.wait_closed(100ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, 2000ms);
}

TEST(HttpServer, BlockingHandlerDoesNotStallOtherConnections) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  auto server = start_or_die(small_options(), [&](const Request& request) {
    if (request.path == "/block") {
      entered.set_value();
      released.wait();
    }
    return Response{};
  });
  ASSERT_TRUE(server);
  RawConnection blocked(server->port());
  ASSERT_TRUE(blocked.send(get("/block")));
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);
  auto res = request(server->port(), "GET", "/free");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  release.set_value();
  auto blocked_res = blocked.read_response();
  ASSERT_TRUE(blocked_res);
  EXPECT_EQ(blocked_res->status, 200);
}

TEST(HttpServer, StopLetsInFlightRequestsFinishAndRefusesNewConnections) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  auto server = start_or_die(small_options(), [&](const Request& request) {
    Response response;
    if (request.path == "/slow") {
      entered.set_value();
      released.wait();
      response.body = "done";
    }
    return response;
  });
  ASSERT_TRUE(server);
  const uint16_t port = server->port();

  RawConnection idle(port);  // a kept-alive connection between requests
  ASSERT_TRUE(idle.send(get("/fast")));
  ASSERT_TRUE(idle.read_response());
  RawConnection slow(port);
  ASSERT_TRUE(slow.send(get("/slow")));
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);

  std::thread stopper([&] { server->stop(); });
  EXPECT_TRUE(eventually([&] { return !RawConnection(port).connected(); }));
  EXPECT_TRUE(idle.wait_closed(3000ms));

  release.set_value();
  auto res = slow.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "done");
  EXPECT_EQ(res->header("Connection"), "close");
  stopper.join();

  EXPECT_FALSE(RawConnection(port).connected());
  server->stop();  // idempotent
  server->wait();  // returns at once
}

TEST(HttpServer, ConcurrentStopAndWaitAllReturn) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  std::thread waiter([&] { server->wait(); });
  std::thread a([&] { server->stop(); });
  std::thread b([&] { server->stop(); });
  a.join();
  b.join();
  waiter.join();
  EXPECT_FALSE(RawConnection(server->port()).connected());
}

TEST(HttpServer, HeadSendsHeadersOnly) {
  auto server = start_or_die(small_options(), [](const Request& request) {
    Response response;
    response.body = "hello";
    response.set_header("X-Method", request.method);
    return response;
  });
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto res = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("Content-Length"), "5");
  EXPECT_EQ(res->header("X-Method"), "HEAD");
  // No body bytes follow: the next response starts right after the head.
  ASSERT_TRUE(c.send(get("/y")));
  res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "hello");

  auto client_res = request(server->port(), "HEAD", "/x");
  ASSERT_TRUE(client_res.ok());
  EXPECT_EQ(client_res->body, "");
  EXPECT_EQ(client_res->header("Content-Length"), "5");
}

TEST(HttpServer, ThrowingHandlerGets500) {
  auto server = start_or_die(small_options(),
                             [](const Request&) -> Response { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server);
  auto res = request(server->port(), "GET", "/x");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find("boom"), std::string::npos);
}

TEST(HttpServer, InvalidResponseHeaderGets500) {
  auto server = start_or_die(small_options(), [](const Request&) {
    Response response;
    response.set_header("X-Injected", "a\r\nSet-Cookie: evil=1");
    return response;
  });
  ASSERT_TRUE(server);
  auto res = request(server->port(), "GET", "/x");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->header("Set-Cookie"), "");
}

// Collects log lines for inspection.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

TEST(HttpServer, LogsOneLinePerRequestWithoutQueryOrAuthorization) {
  auto sink = std::make_shared<CaptureSink>();
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);

  auto server = start_or_die(small_options(), [](const Request&) {
    Response response;
    response.body = std::string(123, 'x');
    return response;
  });
  ASSERT_TRUE(server);
  auto res = request(server->port(), "GET", "/fhir/Patient?name=Secretname",
                     {{"Authorization", "Bearer secrettoken"}});
  ASSERT_TRUE(res.ok());
  auto find_line = [&]() -> std::optional<std::string> {
    for (const std::string& line : sink->lines()) {
      if (line.rfind("method=", 0) == 0) return line;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(eventually([&] { return find_line().has_value(); }));
  server->stop();
  spdlog::set_default_logger(previous);

  std::string line = *find_line();
  EXPECT_EQ(line.rfind("method=GET path=/fhir/Patient status=200 bytes=123 us=", 0), 0u) << line;
  for (const std::string& l : sink->lines()) {
    EXPECT_EQ(l.find("Secretname"), std::string::npos) << l;
    EXPECT_EQ(l.find("secrettoken"), std::string::npos) << l;
  }
}

TEST(HttpServer, StartFailsWhenThePortIsTakenOrTheAddressInvalid) {
  auto first = start_or_die(small_options(), echo);
  ASSERT_TRUE(first);
  ServerOptions options = small_options();
  options.port = first->port();
  auto second = Server::start(options, echo);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().http_status, 503);

  options = small_options();
  options.address = "not an address";
  auto third = Server::start(options, echo);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().http_status, 503);
}

TEST(HttpServer, ClientReportsUnreachableServer) {
  uint16_t port;
  {
    auto server = start_or_die(small_options(), echo);
    ASSERT_TRUE(server);
    port = server->port();
  }  // destroyed: stopped
  auto res = request(port, "GET", "/x");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().http_status, 503);
}

TEST(HttpServer, RunUntilSignalReturnsWhenTheServerStops) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  std::thread runner([&] { run_until_signal(*server); });
  server->stop();
  runner.join();
}

TEST(HttpServer, RunUntilSignalStopsOnSigterm) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    run_until_signal(*server);
    returned = true;
  });
  // Raise only once the handler is installed, or the default action would end the test.
  ASSERT_TRUE(eventually([] {
    struct sigaction current {};
    sigaction(SIGTERM, nullptr, &current);
    return current.sa_handler != SIG_DFL;
  }));
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  runner.join();
  EXPECT_TRUE(returned);
  EXPECT_FALSE(RawConnection(server->port()).connected());
}

// The process announces itself (port file) after constructing the watch and before run(): a
// SIGTERM in between is kept, and run() then stops the server instead of the process dying.
TEST(HttpServer, ASignalBeforeRunIsKeptByTheWatch) {
  auto server = start_or_die(small_options(), echo);
  ASSERT_TRUE(server);
  SignalWatch watch;
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // without the watch, the default action ends the test
  watch.run(*server);
  EXPECT_FALSE(RawConnection(server->port()).connected());
}

}  // namespace
}  // namespace ipa::http
