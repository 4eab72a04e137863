#include "search/values.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipa::search {
namespace {

// Milliseconds since the epoch of 2020-03-04T00:00Z.
constexpr int64_t kMarch4 = 1583280000000;
constexpr int64_t kDay = 86400000;

TEST(DateRange, EveryPrecision) {
  struct Case {
    std::string input;
    int64_t low;
    int64_t high;
  };
  const std::vector<Case> cases = {
      {"2020", 1577836800000, 1609459200000},
      {"2020-03", 1583020800000, 1585699200000},
      {"2020-02", 1580515200000, 1583020800000},  // leap year: 29 days
      {"2021-02", 1612137600000, 1614556800000},  // 28 days
      {"2020-03-04", kMarch4, kMarch4 + kDay},
      {"2020-02-29", kMarch4 - 4 * kDay, kMarch4 - 3 * kDay},
      {"2020-03-04T10:31", kMarch4 + 37860000, kMarch4 + 37920000},
      {"2020-03-04T10:31Z", kMarch4 + 37860000, kMarch4 + 37920000},
      {"2020-03-04T10:31:00Z", kMarch4 + 37860000, kMarch4 + 37861000},
      {"2020-03-04T10:31:00+02:00", kMarch4 + 37860000 - 7200000, kMarch4 + 37861000 - 7200000},
      {"2020-03-04T10:31:00-05:30", kMarch4 + 37860000 + 19800000, kMarch4 + 37861000 + 19800000},
      {"2020-03-04T10:31:00.123Z", kMarch4 + 37860123, kMarch4 + 37860124},
      {"2020-03-04T10:31:00.123456Z", kMarch4 + 37860123, kMarch4 + 37860124},
      {"2020-03-04T10:31:00.5Z", kMarch4 + 37860500, kMarch4 + 37860600},
      {"2020-03-04T10:31:00", kMarch4 + 37860000, kMarch4 + 37861000},
      {"1970-01-01T00:00:00Z", 0, 1000},
      {"1969-12-31", -kDay, 0},
      {"0001", -62135596800000, -62104060800000},
      {"9999-12-31T23:59:59.999Z", 253402300799999, 253402300800000},
      {"2000-02-29", 951782400000, 951782400000 + kDay},  // divisible by 400: leap
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    const std::optional<DateRange> r = date_range(c.input);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->low, c.low);
    EXPECT_EQ(r->high, c.high);
  }
}

TEST(DateRange, RejectsMalformed) {
  for (const char* input : {"",
                            "20",
                            "202",
                            "20200",
                            "2020-",
                            "2020-1",
                            "2020-13",
                            "2020-00",
                            "2020-03-",
                            "2020-03-4",
                            "2020-03-00",
                            "2021-02-29",
                            "1900-02-29",
                            "2020-02-30",
                            "2020-04-31",
                            "0000",
                            "2020-03-04T",
                            "2020-03-04T10",
                            "2020-03-04T24:00",
                            "2020-03-04T10:60",
                            "2020-03-04T10:31:60Z",
                            "2020-03-04T10:31:00.Z",
                            "2020-03-04T10:31:00+2:00",
                            "2020-03-04T10:31:00+02",
                            "2020-03-04T10:31:00+15:00",
                            "2020-03-04 10:31",
                            "2020-03-04T10:31:00ZZ",
                            "abcd",
                            "2020/03/04",
                            "-2020",
                            "+2020"}) {
    SCOPED_TRACE(input);
    EXPECT_FALSE(date_range(input).has_value());
  }
}

TEST(DecimalRange, SignificantDigits) {
  struct Case {
    std::string input;
    double low;
    double high;
  };
  const std::vector<Case> cases = {
      {"100", 99.5, 100.5},
      {"1.50", 1.495, 1.505},
      {"1e2", 50, 150},
      {"1.0e2", 95, 105},
      {"0", -0.5, 0.5},
      {"-1.5", -1.55, -1.45},
      {"+3", 2.5, 3.5},
      {"100.00", 99.995, 100.005},
      {"2.5E-3", 0.00245, 0.00255},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    const auto r = decimal_range(c.input);
    ASSERT_TRUE(r.has_value());
    EXPECT_DOUBLE_EQ(r->first, c.low);
    EXPECT_DOUBLE_EQ(r->second, c.high);
  }
}

TEST(DecimalRange, RejectsMalformed) {
  for (const char* input : {"", "abc", "1.", ".5", "1e", "1e+", "--1", "1,5", "1.5.2", "0x10",
                            "1e999", " 1", "1 ", "+-1", "1e++2"}) {
    SCOPED_TRACE(input);
    EXPECT_FALSE(decimal_range(input).has_value());
  }
}

}  // namespace
}  // namespace ipa::search

namespace ipa::search {
namespace {

// Adjacent precision ranges meet at exactly the same double (found by the differential test:
// 0.6 with sa0.5 must match).
TEST(DecimalRange, AdjacentRangesMeetExactly) {
  for (auto [a, b] : std::vector<std::pair<const char*, const char*>>{{"0.5", "0.6"},
                                                                      {"0.6", "0.7"},
                                                                      {"-31.9", "-31.8"},
                                                                      {"44.034", "44.035"},
                                                                      {"-41.001", "-41.000"},
                                                                      {"160.3", "160.4"},
                                                                      {"-0.1", "0.0"},
                                                                      {"0", "1"},
                                                                      {"9", "10"}}) {
    SCOPED_TRACE(std::string(a) + " " + b);
    auto lo = decimal_range(a);
    auto hi = decimal_range(b);
    ASSERT_TRUE(lo && hi);
    EXPECT_EQ(lo->second, hi->first);
  }
  auto zero = decimal_range("0");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->first, -0.5);
  EXPECT_EQ(zero->second, 0.5);
  auto neg = decimal_range("-1.50");
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->first, -1.505);
  EXPECT_EQ(neg->second, -1.495);
}

}  // namespace
}  // namespace ipa::search
