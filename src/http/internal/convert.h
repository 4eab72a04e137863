// Beast <-> struct glue of the http module: a Beast parser that writes a request straight into a
// reused http::Request, the target decoding, and the serializer of a response head. Only the
// http module includes this header. Everything here is per-session state or stateless and
// thread-compatible (the Date cache is thread-local).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/server.h"

namespace ipa::http::internal {

// ASCII case-insensitive comparison, as header names require (RFC 9110 section 5.1).
bool iequals(std::string_view a, std::string_view b);

// The value of header `name` in `headers` (case-insensitive); repeated headers are joined with
// ", " (RFC 9110 section 5.3). Empty when absent.
std::string find_header(const std::vector<Header>& headers, std::string_view name);

// A request parser that fills a caller-owned Request, reusing the capacity of its strings and
// header vector from one request to the next (Beast parsers are single-use; this one is cheap to
// emplace again). Fills method, target, headers and body; not path, query or remote_address.
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // `request` must outlive the parser.
  explicit RequestParser(Request& request);

  bool started() const { return started_; }  // the request-line has been parsed
  int version() const { return version_; }   // 10 for HTTP/1.0, 11 for HTTP/1.1
  bool has_host() const { return has_host_; }
  bool expect_continue() const { return expect_continue_; }
  bool has_transfer_encoding() const { return has_transfer_encoding_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  Request& request_;
  size_t field_count_ = 0;
  int version_ = 11;
  bool started_ = false;
  bool has_host_ = false;
  bool expect_continue_ = false;
  bool has_transfer_encoding_ = false;
};

// Sets request.path (percent-decoded) and request.query (raw) from request.target.
// Errors: bad_request when the target is not in origin-form (RFC 9112 section 3.2.1), e.g. "*"
// or an absolute URI, or holds malformed percent-encoding.
core::Status decode_target(Request& request);

// True when the response carries "Connection: close".
bool response_closes(const Response& response);

// True when a response with this status may carry a body and Content-Length (RFC 9110 sections
// 8.6 and 15: never for 1xx, 204, 304).
bool body_allowed(int status);

// Writes the status line and headers of `response`, ending with the empty line, into `out`
// (cleared first, its capacity reused). Adds Date, Server (unless set), Content-Length (the
// body size, also for HEAD) and Connection as needed; drops Content-Length, Transfer-Encoding,
// Date and Connection set by the handler. Errors: internal when the status is outside 200..599
// or a header name or value could split the response (not a token, or CR/LF/NUL in a value).
core::Status serialize_head(const Response& response, bool keep_alive, bool http10,
                            std::string& out);

// A small OperationOutcome response for failures the transport answers itself (400, 413, 431,
// 500). `code` is a FHIR issue-type code, `diagnostics` plain text without quotes or escapes.
Response error_response(int status, std::string_view code, std::string_view diagnostics);

// The current time as an IMF-fixdate (RFC 9110 section 5.6.7), cached per thread and second.
std::string_view http_date();

}  // namespace ipa::http::internal
