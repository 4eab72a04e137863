#include "http/internal/convert.h"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <boost/url/grammar/string_token.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace ipa::http {

std::string Request::header(std::string_view name) const {
  return internal::find_header(headers, name);
}

std::string_view Request::single_header(std::string_view name, bool* repeated) const {
  std::string_view found;
  int count = 0;
  for (const Header& h : headers) {
    if (!internal::iequals(h.name, name)) continue;
    if (++count == 1) found = h.value;
  }
  if (repeated != nullptr) *repeated = count > 1;
  return count == 1 ? found : std::string_view();
}

std::string ClientResponse::header(std::string_view name) const {
  return internal::find_header(headers, name);
}

void Response::set_header(std::string name, std::string value) {
  size_t i = 0;
  while (i < headers.size() && !internal::iequals(headers[i].name, name)) ++i;
  if (i == headers.size()) {
    headers.push_back(Header{std::move(name), std::move(value)});
    return;
  }
  headers[i] = Header{std::move(name), std::move(value)};
  // Later duplicates would contradict the replacement.
  const std::string& kept = headers[i].name;
  headers.erase(std::remove_if(headers.begin() + static_cast<std::ptrdiff_t>(i) + 1, headers.end(),
                               [&](const Header& h) { return internal::iequals(h.name, kept); }),
                headers.end());
}

}  // namespace ipa::http

namespace ipa::http::internal {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Request bodies above this are released after their request, so an idle connection does not
// pin a large buffer.
constexpr size_t kKeepBodyCapacity = 64 * 1024;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 section 5.6.2: tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// RFC 9110 section 5.5: a field value never holds CR, LF or NUL.
bool is_field_value(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  out.append(buf, end);
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string find_header(const std::vector<Header>& headers, std::string_view name) {
  std::string out;
  bool found = false;
  for (const Header& h : headers) {
    if (!iequals(h.name, name)) continue;
    if (found) out += ", ";
    out += h.value;
    found = true;
  }
  return out;
}

RequestParser::RequestParser(Request& request) : request_(request) {}

void RequestParser::on_request_impl(bhttp::verb /*method*/, string_view method_str,
                                    string_view target, int version, error_code& /*ec*/) {
  request_.method.assign(method_str.data(), method_str.size());
  request_.target.assign(target.data(), target.size());
  if (request_.body.capacity() > kKeepBodyCapacity) {
    std::string().swap(request_.body);
  } else {
    request_.body.clear();
  }
  version_ = version;
  started_ = true;
}

void RequestParser::on_response_impl(int /*code*/, string_view /*reason*/, int /*version*/,
                                     error_code& ec) {
  ec = bhttp::error::bad_method;  // unreachable: this is a request parser
}

void RequestParser::on_field_impl(bhttp::field name, string_view name_string, string_view value,
                                  error_code& /*ec*/) {
  if (name == bhttp::field::host) {
    has_host_ = true;
  } else if (name == bhttp::field::expect) {
    expect_continue_ = iequals({value.data(), value.size()}, "100-continue");
  } else if (name == bhttp::field::transfer_encoding) {
    has_transfer_encoding_ = true;
  }
  std::vector<Header>& headers = request_.headers;
  if (field_count_ < headers.size()) {
    headers[field_count_].name.assign(name_string.data(), name_string.size());
    headers[field_count_].value.assign(value.data(), value.size());
  } else {
    headers.push_back(Header{std::string(name_string.data(), name_string.size()),
                             std::string(value.data(), value.size())});
  }
  ++field_count_;
}

void RequestParser::on_header_impl(error_code& /*ec*/) { request_.headers.resize(field_count_); }

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code& /*ec*/) {
  // The parser has already checked the length against body_limit.
  if (content_length) request_.body.reserve(static_cast<size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& /*ec*/) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t /*size*/, string_view /*extensions*/,
                                         error_code& /*ec*/) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t /*remain*/, string_view body,
                                              error_code& /*ec*/) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code& /*ec*/) {}

// FHIR clients send some characters unencoded in queries that RFC 3986 reserves or excludes,
// most of all '|' (system|code), but also '[', ']', '{', '}', '^', '`', '\\' and '"'. They are
// percent-encoded here before parsing, so such targets are accepted; the query stays raw
// (the REST layer decodes it) and the path must still be a valid absolute path.
std::string tolerant_target(std::string_view target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.size());
  for (char c : target) {
    if (c == '|' || c == '[' || c == ']' || c == '{' || c == '}' || c == '^' || c == '`' ||
        c == '\\' || c == '"') {
      out.push_back('%');
      out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// RFC 3986 section 3.3: pchar without pct-encoded (unreserved / sub-delims / ":" / "@").
bool is_plain_pchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos;
}

// The common case, decided without a URL parser: an absolute path of plain characters (nothing
// to decode) and no query or a query of plain characters, '/' and '?'. Anything else (a '%',
// a character FHIR clients leave unencoded, an invalid one) goes through the full parse.
bool decode_plain_target(Request& request) {
  std::string_view t = request.target;
  if (t.empty() || t[0] != '/') return false;
  size_t q = t.find('?');
  std::string_view path = t.substr(0, q);
  for (char c : path) {
    if (c != '/' && !is_plain_pchar(c)) return false;
  }
  std::string_view query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  for (char c : query) {
    if (c != '/' && c != '?' && !is_plain_pchar(c)) return false;
  }
  request.path.assign(path.data(), path.size());
  request.query.assign(query.data(), query.size());
  return true;
}

}  // namespace

core::Status decode_target(Request& request) {
  if (decode_plain_target(request)) return {};
  // RFC 9112 section 3.2.1: origin-form = absolute-path [ "?" query ]
  std::string target = tolerant_target(request.target);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    return core::bad_request(core::IssueType::kInvalid,
                             "The request-target is not a valid origin-form path");
  }
  request.path.clear();
  url->encoded_path().decode({}, boost::urls::string_token::append_to(request.path));
  if (url->has_query()) {
    auto query = url->encoded_query();
    request.query.assign(query.data(), query.size());
  } else {
    request.query.clear();
  }
  return {};
}

bool response_closes(const Response& response) {
  for (const Header& h : response.headers) {
    if (iequals(h.name, "connection") && iequals(h.value, "close")) return true;
  }
  return false;
}

bool body_allowed(int status) { return status >= 200 && status != 204 && status != 304; }

core::Status serialize_head(const Response& response, bool keep_alive, bool http10,
                            std::string& out) {
  out.clear();
  const int status = response.status;
  // 1xx cannot be a final response; Upgrade is not supported.
  if (status < 200 || status > 599) {
    return core::internal("handler returned status " + std::to_string(status));
  }
  // RFC 9112 section 4: the server answers with its own version, HTTP/1.1.
  out += "HTTP/1.1 ";
  append_number(out, static_cast<uint64_t>(status));
  out += ' ';
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  if (bhttp::int_to_status(static_cast<unsigned>(status)) == bhttp::status::unknown) {
    reason = "Status";
  }
  out.append(reason.data(), reason.size());
  out += "\r\n";

  bool has_server = false;
  for (const Header& h : response.headers) {
    if (!is_token(h.name) || !is_field_value(h.value)) {
      return core::internal("handler returned an invalid header field");
    }
    if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding") ||
        iequals(h.name, "date") || iequals(h.name, "connection")) {
      continue;
    }
    if (iequals(h.name, "server")) has_server = true;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (!has_server) out += "Server: ipa-server\r\n";  // no version: nothing to fingerprint
  out += "Date: ";
  out += http_date();
  out += "\r\n";
  if (body_allowed(status)) {
    out += "Content-Length: ";
    append_number(out, response.payload().size());
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    // RFC 9112 section 9.3: an HTTP/1.0 connection persists only when both sides say so.
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return {};
}

Response error_response(int status, std::string_view code, std::string_view diagnostics) {
  Response response;
  response.status = status;
  response.headers.push_back(Header{"Content-Type", "application/fhir+json"});
  response.body.reserve(120 + diagnostics.size());
  response.body += R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":")";
  response.body += code;
  response.body += R"(","diagnostics":")";
  response.body += diagnostics;
  response.body += R"("}]})";
  return response;
}

std::string_view http_date() {
  struct Cache {
    std::time_t second = -1;
    char text[32] = {};
    size_t size = 0;
  };
  thread_local Cache cache;
  const std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    int n = std::snprintf(cache.text, sizeof(cache.text), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                          kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                          tm.tm_hour, tm.tm_min, tm.tm_sec);
    cache.size = n > 0 ? static_cast<size_t>(n) : 0;
    cache.second = now;
  }
  return {cache.text, cache.size};
}

}  // namespace ipa::http::internal
