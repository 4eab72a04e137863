#include "core/clock.h"

#include <gtest/gtest.h>

#include <ctime>
#include <set>

namespace ipa::core {
namespace {

TEST(Clock, FormatsAndParsesInstants) {
  TimePoint t;
  ASSERT_TRUE(parse_instant("2026-11-29T06:10:00.123Z", t));
  EXPECT_EQ(format_instant(t), "2026-11-29T06:10:00.123Z");
  ASSERT_TRUE(parse_instant("2026-11-29T08:10:00.123+02:00", t));
  EXPECT_EQ(format_instant(t), "2026-11-29T06:10:00.123Z");
  EXPECT_FALSE(parse_instant("2026-11-29T06:10:00", t));  // an instant needs a zone
  EXPECT_FALSE(parse_instant("2026-02-30T06:10:00Z", t));
  EXPECT_FALSE(parse_instant("2026-11-29", t));
  ASSERT_TRUE(parse_instant("2999-01-01T00:00:00Z", t));  // beyond 64-bit nanoseconds: clamped
  EXPECT_EQ(t, TimePoint::max());
}

TEST(Clock, HttpDatesRoundTrip) {
  TimePoint t;
  ASSERT_TRUE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", t));
  EXPECT_EQ(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", t));
}

TEST(Clock, HttpDatesMatchTheCLibrary) {
  // Leap days, the turn of centuries, before 1970, the last second of a day, sub-seconds
  // (TimePoint counts nanoseconds: it ends in 2262).
  for (int64_t s :
       {int64_t{0}, int64_t{-1}, int64_t{951782400}, int64_t{951868799}, int64_t{4107542399},
        int64_t{1583020800}, int64_t{-2208988800}, int64_t{1798761599}, int64_t{7258118399}}) {
    for (int64_t step = 0; step < 200; ++step) {
      std::time_t secs = static_cast<std::time_t>(s + step * 86'399);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char expected[64];
      std::strftime(expected, sizeof expected, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      TimePoint t = std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(999);
      ASSERT_EQ(format_http_date(t), expected) << secs;
    }
  }
}

TEST(Clock, RandomIdsAreValidAndDistinct) {
  auto ids = random_ids();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = ids->next_id();
    ASSERT_EQ(id.size(), 36u);
    ASSERT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace ipa::core
