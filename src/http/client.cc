// The tiny blocking test client: Beast's synchronous-looking client over asynchronous operations
// on a per-thread io_context, so that every step has a deadline. One cached connection per
// thread, reused while the server keeps it alive.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "http/server.h"

namespace ipa::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kTimeout{30};

struct Connection {
  net::io_context ioc{1};
  std::optional<beast::tcp_stream> stream;  // declared after ioc: destroyed before it
  beast::flat_buffer buffer;
  uint16_t port = 0;

  void reset() {
    stream.reset();
    buffer.clear();
  }
};

thread_local Connection tl_connection;

// Runs the io_context until the operations started on it have completed.
void run(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

core::Error failure(std::string_view what, const beast::error_code& ec) {
  return core::unavailable(std::string(what) + ": " + ec.message());
}

}  // namespace

core::Result<ClientResponse> request(uint16_t port, const std::string& method,
                                     const std::string& target, const std::vector<Header>& headers,
                                     const std::string& body) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  for (const Header& h : headers) req.insert(h.name, h.value);
  if (req.find(bhttp::field::host) == req.end()) {
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.body() = body;
    req.content_length(body.size());
  }
  const bool head = method == "HEAD";

  Connection& c = tl_connection;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = c.stream.has_value() && c.port == port;
    beast::error_code ec;
    if (!reused) {
      c.reset();
      c.stream.emplace(c.ioc);
      c.port = port;
      c.stream->expires_after(kTimeout);
      c.stream->async_connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port),
                              [&ec](beast::error_code e) { ec = e; });
      run(c.ioc);
      if (ec) {
        c.reset();
        return failure("connect failed", ec);
      }
    }

    c.stream->expires_after(kTimeout);
    bhttp::async_write(*c.stream, req, [&ec](beast::error_code e, size_t) { ec = e; });
    run(c.ioc);
    if (ec) {
      c.reset();
      if (reused) continue;  // the server had closed the kept-alive connection
      return failure("write failed", ec);
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(1024 * 1024);
    parser.body_limit(boost::none);
    if (head) parser.skip(true);
    c.stream->expires_after(kTimeout);
    bhttp::async_read(*c.stream, c.buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
    run(c.ioc);
    if (ec) {
      const bool nothing_received = !parser.got_some();
      c.reset();
      if (reused && nothing_received) continue;
      return failure("read failed", ec);
    }

    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) c.reset();
    return out;
  }
  return core::unavailable("the server closed the connection without answering");
}

}  // namespace ipa::http
