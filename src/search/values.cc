#include "search/values.h"

#include <charconv>
#include <cmath>
#include <string>

namespace ipa::search {
namespace {

constexpr int64_t kMsPerMinute = 60'000;
constexpr int64_t kMsPerDay = 86'400'000;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
// low-level date algorithms").
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`; advances `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<DateRange> date_range(std::string_view s) {
  size_t pos = 0;
  int year = 0;
  int month = 1;
  int day = 1;
  if (!digits(s, pos, 4, year) || year < 1) return std::nullopt;
  if (pos == s.size()) {
    return DateRange{days_from_civil(year, 1, 1) * kMsPerDay,
                     days_from_civil(year + 1, 1, 1) * kMsPerDay};
  }
  if (!expect(s, pos, '-') || !digits(s, pos, 2, month) || month < 1 || month > 12) {
    return std::nullopt;
  }
  if (pos == s.size()) {
    const int64_t low = days_from_civil(year, month, 1) * kMsPerDay;
    return DateRange{low, low + days_in_month(year, month) * kMsPerDay};
  }
  if (!expect(s, pos, '-') || !digits(s, pos, 2, day) || day < 1 ||
      day > days_in_month(year, month)) {
    return std::nullopt;
  }
  const int64_t day_start = days_from_civil(year, month, day) * kMsPerDay;
  if (pos == s.size()) return DateRange{day_start, day_start + kMsPerDay};

  int hour = 0;
  int minute = 0;
  int second = 0;
  int64_t millis = 0;
  int64_t width = kMsPerMinute;
  if (!expect(s, pos, 'T') || !digits(s, pos, 2, hour) || hour > 23 || !expect(s, pos, ':') ||
      !digits(s, pos, 2, minute) || minute > 59) {
    return std::nullopt;
  }
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, second) || second > 59) return std::nullopt;
    width = 1000;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t n = 0;
      int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (n < 3) {
          millis += (s[pos] - '0') * scale;
          scale /= 10;
        }
        ++n;
        ++pos;
      }
      if (n == 0) return std::nullopt;
      width = n == 1 ? 100 : n == 2 ? 10 : 1;
    }
  }
  int64_t offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0;
      int om = 0;
      if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om) || oh > 14 ||
          om > 59) {
        return std::nullopt;
      }
      offset_minutes = sign * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t low = day_start + (hour * 60 + minute - offset_minutes) * kMsPerMinute +
                      second * int64_t{1000} + millis;
  return DateRange{low, low + width};
}

std::optional<std::pair<double, double>> decimal_range(std::string_view text) {
  std::string_view s = text;
  size_t pos = 0;
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
  } else if (!s.empty() && s[0] == '-') {
    ++pos;
  }
  const size_t int_start = pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  if (pos == int_start) return std::nullopt;
  int fraction_digits = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t frac_start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == frac_start) return std::nullopt;
    fraction_digits = static_cast<int>(pos - frac_start);
  }
  int exponent = 0;
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
    const char* first = s.data() + pos;
    if (pos < s.size() && s[pos] == '+') return std::nullopt;
    const bool negative = s[pos - 1] == '-';
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), exponent);
    if (ec != std::errc() || ptr == first) return std::nullopt;
    pos = static_cast<size_t>(ptr - s.data());
    if (negative) exponent = -exponent;
  }
  if (pos != s.size()) return std::nullopt;
  // Exact bounds: value = sign * D * 10^k, half a unit is 5 * 10^(k-1), so the bounds are
  // (10D -/+ 5) * 10^(k-1), written as decimal strings and converted once. Two adjacent ranges
  // then meet at the very same double (0.6 -> [0.55, 0.65) and 0.5 -> [0.45, 0.55)).
  const bool negative = text.size() > 0 && text[0] == '-';
  std::string digits;
  for (size_t i = int_start; i < s.size() && s[i] != 'e' && s[i] != 'E'; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  const long long k = static_cast<long long>(exponent) - fraction_digits;
  std::string up = digits + "5";  // 10D + 5
  std::string down;               // 10D - 5
  if (digits.find_first_not_of('0') == std::string::npos) {
    down = "-5";
  } else {
    down = digits;
    int i = static_cast<int>(down.size()) - 1;
    while (down[static_cast<size_t>(i)] == '0') down[static_cast<size_t>(i--)] = '9';
    --down[static_cast<size_t>(i)];
    down += "5";
  }
  auto to_double = [&](const std::string& mantissa, bool neg) -> std::optional<double> {
    std::string t = (neg ? "-" : "") + mantissa + "e" + std::to_string(k - 1);
    double v = 0;
    auto [p, e] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (e != std::errc() || p != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  };
  std::optional<double> low, high;
  if (!negative) {
    low = to_double(down, false);
    high = to_double(up, false);
  } else {
    low = to_double(up, true);
    // -(10D - 5): when D is 0 the mantissa is "-5", so the bound is +5e(k-1).
    high = down[0] == '-' ? to_double(down.substr(1), false) : to_double(down, true);
  }
  if (!low || !high) return std::nullopt;
  return std::pair{*low, *high};
}

}  // namespace ipa::search
