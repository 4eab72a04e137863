// Percent-encoding (RFC 3986 section 2.1) of URL components and form fields, and its inverse:
// the one implementation the server, the client and the tests share. Pure functions over bytes
// (UTF-8 is encoded byte by byte); no URL parsing. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ipa::core {

// Which bytes percent_encode leaves as they are; every other byte becomes "%XX" (upper-case hex).
enum class PercentSet {
  // RFC 3986 section 2.3 unreserved: ALPHA DIGIT "-" "." "_" "~". Safe in any component (path
  // segment, query, fragment) and in application/x-www-form-urlencoded bodies, where a space
  // written as %20 reads back as a space just as '+' does (WHATWG URL, urlencoded parsing).
  kUnreserved,
  // kUnreserved plus ":" "|" "," "/" "$": a FHIR search parameter's name or value in a link the
  // server writes (self, next). These keep `system|code`, `a,b`, `Patient/1`, chains' `:` and
  // composites' `$` readable; they are not separators inside a query component (RFC 3986
  // section 3.4 allows ":" "/" "," "$"; FHIR clients send '|' as it is), while "&" "=" "+" "%"
  // "#" and the space are always escaped. Not for path segments ("/" would split one).
  kFhirSearch,
};

// Returns `s` with every byte outside `set` percent-encoded. Never fails.
std::string percent_encode(std::string_view s, PercentSet set = PercentSet::kUnreserved);

// How percent_decode reads its input.
struct PercentDecoding {
  // '+' is a space: application/x-www-form-urlencoded bodies and queries. Otherwise a literal '+'
  // (RFC 3986 components, e.g. a scope's query part).
  bool plus_is_space = false;
  // A '%' not followed by two hex digits stays as it is (a lenient reader of someone else's
  // URLs). Otherwise it makes the whole input invalid.
  bool keep_malformed = false;
};

// Returns `s` with "%XX" escapes (either case of hex) decoded, and '+' as `how` says; std::nullopt
// when `s` holds a malformed escape and `how.keep_malformed` is false. The result is bytes: it
// is not checked to be UTF-8.
std::optional<std::string> percent_decode(std::string_view s, PercentDecoding how = {});

}  // namespace ipa::core
