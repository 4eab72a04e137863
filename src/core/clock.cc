#include "core/clock.h"

#include <sys/random.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/result.h"

namespace ipa::core {
namespace {

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

class RandomIds final : public IdGenerator {
 public:
  std::string next_id() override {
    std::array<unsigned char, 16> b{};
    ssize_t got = getrandom(b.data(), b.size(), 0);
    IPA_CHECK(got == static_cast<ssize_t>(b.size()), "getrandom failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char out[37];
    std::snprintf(out, sizeof out,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return std::string(out, 36);
  }
};

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

void check_failed_if(bool failed, const char* cond, const char* why, const char* file, int line) {
  if (!failed) return;
  std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", file, line, cond, why);
  std::abort();
}

std::shared_ptr<Clock> system_clock() {
  static auto clock = std::make_shared<SystemClock>();
  return clock;
}

std::unique_ptr<IdGenerator> random_ids() { return std::make_unique<RandomIds>(); }

std::string format_instant(TimePoint t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int frac = static_cast<int>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

bool parse_instant(std::string_view s, TimePoint& out) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return false;
  }
  size_t pos = 19;
  long long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    long long scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int offset_min = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om)) {
      return false;
    }
    offset_min = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return false;
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(mo)},
                                  std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return false;
  auto tp = std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
            std::chrono::seconds{se} - std::chrono::minutes{offset_min};
  // TimePoint counts nanoseconds in 64 bits (years 1678 to 2262): clamp instants beyond.
  constexpr auto kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()) -
      std::chrono::seconds{1};
  if (tp.time_since_epoch() > kMaxSeconds) {
    out = TimePoint::max();
    return true;
  }
  if (tp.time_since_epoch() < -kMaxSeconds) {
    out = TimePoint::min();
    return true;
  }
  out = std::chrono::time_point_cast<TimePoint::duration>(tp) +
        std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds{nanos});
  return true;
}

std::string format_http_date(TimePoint t) {
  // Civil calendar arithmetic (no gmtime_r, which takes glibc's time zone lock, no printf):
  // this runs for the Last-Modified header of every read.
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto days = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss<std::chrono::seconds> hms{secs - days};
  unsigned wday = std::chrono::weekday{days}.c_encoding();
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) year = year < 0 ? 0 : 9999;
  char buf[29];
  auto two = [&](int at, unsigned v) {
    buf[at] = static_cast<char>('0' + v / 10 % 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(buf, kDays[wday], 3);
  buf[3] = ',';
  buf[4] = ' ';
  two(5, static_cast<unsigned>(ymd.day()));
  buf[7] = ' ';
  std::memcpy(buf + 8, kMonths[static_cast<unsigned>(ymd.month()) - 1], 3);
  buf[11] = ' ';
  two(12, static_cast<unsigned>(year / 100));
  two(14, static_cast<unsigned>(year % 100));
  buf[16] = ' ';
  two(17, static_cast<unsigned>(hms.hours().count()));
  buf[19] = ':';
  two(20, static_cast<unsigned>(hms.minutes().count()));
  buf[22] = ':';
  two(23, static_cast<unsigned>(hms.seconds().count()));
  std::memcpy(buf + 25, " GMT", 4);
  return std::string(buf, sizeof buf);
}

bool parse_http_date(std::string_view s, TimePoint& out) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return false;
  int d, y, h, mi, se;
  if (!digits(s, 5, 2, d) || !digits(s, 12, 4, y) || !digits(s, 17, 2, h) ||
      !digits(s, 20, 2, mi) || !digits(s, 23, 2, se)) {
    return false;
  }
  int mo = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) mo = i + 1;
  }
  if (mo < 0) return false;
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(mo)},
                                  std::chrono::day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return false;
  out = std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
        std::chrono::seconds{se};
  return true;
}

}  // namespace ipa::core
