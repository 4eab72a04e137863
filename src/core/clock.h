// Clock and id seams: production code asks these for "now" and for new ids, so tests can
// inject a fixed clock and sequential ids. Implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace ipa::core {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The system clock.
std::shared_ptr<Clock> system_clock();

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // Returns a new FHIR id ([A-Za-z0-9\-\.]{1,64}), unique with overwhelming probability.
  virtual std::string next_id() = 0;
};

// Random UUID-v4-shaped ids from the OS random source.
std::unique_ptr<IdGenerator> random_ids();

// Formats `t` as a FHIR instant with millisecond precision in UTC: 2026-11-29T06:10:00.123Z.
std::string format_instant(TimePoint t);

// Parses a FHIR instant (with seconds, optional fraction, Z or +hh:mm). Returns false on error.
bool parse_instant(std::string_view text, TimePoint& out);

// Formats `t` as an RFC 9110 HTTP-date: Sun, 29 Nov 2026 06:10:00 GMT.
std::string format_http_date(TimePoint t);

// Parses an RFC 9110 IMF-fixdate. Returns false on error.
bool parse_http_date(std::string_view text, TimePoint& out);

}  // namespace ipa::core
