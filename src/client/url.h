// URL and form helpers of the IPA client: percent-encoding (RFC 3986), form bodies
// (application/x-www-form-urlencoded), query parsing, origins (RFC 6454) and resolution of the
// relative references a FHIR server returns. No I/O. All functions are pure: thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipa::client {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Percent-encoding itself is core::percent_encode / core::percent_decode (core/percent.h).

// Returns "k1=v1&k2=v2" with keys and values percent-encoded (core::PercentSet::kUnreserved,
// space as %20), in the given order.
std::string form_encode(const Fields& fields);

// Parses "a=1&b=2" (no leading '?') into decoded pairs ('+' is a space; a malformed escape is
// kept as it is), in order; keys may repeat.
Fields parse_query(std::string_view query);

// Returns the value of the first `key` in `fields`, or "" when absent.
std::string field(const Fields& fields, std::string_view key);

// The parts of an absolute http(s) URL.
struct Url {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // lower case
  int port = 0;        // explicit or the scheme's default
  bool explicit_port = false;
  std::string path;   // "/" when empty
  std::string query;  // without '?'
};

// Parses an absolute http or https URL; returns false for anything else.
bool parse_url(std::string_view text, Url& out);

// Returns the RFC 6454 origin "scheme://host:port" (default ports included), or "" when `url`
// is not an absolute http(s) URL. Two URLs are same-origin exactly when these are equal.
std::string origin_of(std::string_view url);

// Returns the query string of `url` (without '?'), or "".
std::string query_of(std::string_view url);

// Resolves `ref` against the FHIR base `base` (no trailing slash): absolute URLs stay, "/x" is
// relative to the base's origin, anything else ("Binary/1") to the base itself.
std::string resolve(std::string_view base, std::string_view ref);

// Returns "host" or "host_port" when the port is explicit: a file-name-safe name of a server.
std::string server_name(std::string_view url);

}  // namespace ipa::client
