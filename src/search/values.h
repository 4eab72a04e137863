// Parsing of search values shared by index extraction and query parsing: the implicit ranges of
// FHIR dates and decimals by their precision (FHIR R4 search.html#date, search.html#number).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace ipa::search {

// A half-open range [low, high) in milliseconds since 1970-01-01T00:00Z.
struct DateRange {
  int64_t low;
  int64_t high;
};

// Returns the implicit range of a FHIR date, dateTime or instant, or of a search date value, by
// its precision: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm, YYYY-MM-DDThh:mm:ss and fractions
// (.f is 100 ms, .ff 10 ms, three or more digits 1 ms; digits past the millisecond are dropped),
// with a zone Z or +hh:mm / -hh:mm; a value without a zone is taken as UTC. Years 0001-9999.
// Returns nullopt for malformed values and impossible dates (2021-02-29, 24:00, 10:60).
std::optional<DateRange> date_range(std::string_view value);

// Returns the implicit range [low, high) of a decimal by its significant digits: half a unit of
// the last written digit either side (100 -> [99.5, 100.5), 1.50 -> [1.495, 1.505),
// 1e2 -> [50, 150)). Accepts JSON and FHIR search number syntax with an optional leading '+'.
// Returns nullopt for malformed text or values out of the double range.
std::optional<std::pair<double, double>> decimal_range(std::string_view text);

}  // namespace ipa::search
