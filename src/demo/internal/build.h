// Small building blocks of the demo generator: a JSON object builder that moves values in
// (no deep copies), FHIR datatype helpers, a seeded PRNG and calendar arithmetic. Internal to
// ipa::demo. Everything here is a plain value; nothing is shared between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "json/json.h"

namespace ipa::demo::internal {

using json::Value;

// A code from a terminology with its official display text.
struct Code {
  std::string_view system;
  std::string_view code;
  std::string_view display;
};

// Builds a JSON object member by member; members keep insertion order.
class Obj {
 public:
  Obj() : v_(Value::object()) {}
  Obj& val(std::string_view key, Value v) {
    v_.members().emplace_back(std::string(key), std::move(v));
    return *this;
  }
  Obj& str(std::string_view key, std::string_view s) {
    return val(key, Value::string(std::string(s)));
  }
  Obj& num(std::string_view key, std::string text) {
    return val(key, Value::number_text(std::move(text)));
  }
  Obj& integer(std::string_view key, int64_t n) { return val(key, Value::number(n)); }
  Obj& boolean(std::string_view key, bool b) { return val(key, Value::boolean(b)); }
  Value done() { return std::move(v_); }

 private:
  Value v_;
};

template <typename... V>
Value array_of(V&&... items) {
  Value a = Value::array();
  a.items().reserve(sizeof...(items));
  (a.push_back(std::forward<V>(items)), ...);
  return a;
}

inline Value string_array(std::string_view s) { return array_of(Value::string(std::string(s))); }

inline Value coding(const Code& c) {
  return Obj().str("system", c.system).str("code", c.code).str("display", c.display).done();
}

// CodeableConcept with one coding; `text` defaults to the display.
inline Value concept_of(const Code& c, std::string_view text = {}) {
  return Obj()
      .val("coding", array_of(coding(c)))
      .str("text", text.empty() ? c.display : text)
      .done();
}

inline Value concept_of(const Code& a, const Code& b, std::string_view text) {
  return Obj().val("coding", array_of(coding(a), coding(b))).str("text", text).done();
}

// Reference to a resource by relative URL `type/id`, with an optional display.
inline Value reference(std::string_view type, std::string_view id, std::string_view display = {}) {
  std::string url;
  url.reserve(type.size() + 1 + id.size());
  url.append(type).append("/").append(id);
  Obj o;
  o.str("reference", url);
  if (!display.empty()) o.str("display", display);
  return o.done();
}

inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";

// Quantity in UCUM; `value` is decimal text, kept verbatim.
inline Value ucum_quantity(std::string value, std::string_view unit, std::string_view code) {
  return Obj()
      .num("value", std::move(value))
      .str("unit", unit)
      .str("system", kUcum)
      .str("code", code)
      .done();
}

inline Value period(std::string start, std::string end = {}) {
  Obj o;
  o.str("start", start);
  if (!end.empty()) o.str("end", end);
  return o.done();
}

// Formats tenths as a decimal: 375 -> "37.5", -5 -> "-0.5".
std::string tenths(int64_t v);
// Formats hundredths as a decimal: 105 -> "1.05".
std::string hundredths(int64_t v);
// Standard base64 (RFC 4648 section 4) with padding.
std::string base64(std::string_view bytes);
// Zero-padded decimal of `n` with at least `width` digits.
std::string padded(int64_t n, int width);

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform, unlike the
// std distributions whose output differs between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for the small n used here.
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability percent/100.
  bool chance(int percent) { return below(100) < percent; }
  template <typename T, size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(static_cast<int64_t>(N))];
  }

 private:
  uint64_t state_;
};

// Proleptic Gregorian calendar (H. Hinnant's days_from_civil): days since 1970-01-01.
int64_t days_from_civil(int y, int m, int d);
struct Civil {
  int y;
  int m;
  int d;
};
Civil civil_from_days(int64_t days);
// "YYYY-MM-DD"
std::string format_date(int64_t days);
// "YYYY-MM-DDThh:mm:ssZ" from seconds since the epoch.
std::string format_instant(int64_t seconds);
inline constexpr int64_t kDay = 86400;

}  // namespace ipa::demo::internal
