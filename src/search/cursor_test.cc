#include "search/cursor.h"

#include <gtest/gtest.h>

namespace ipa::search {
namespace {

const std::string kKey(32, 'k');
const core::TimePoint kNow = core::TimePoint(std::chrono::seconds(1'800'000'000));

TEST(Cursor, RoundTripsAndRevealsNothing) {
  storage::Keyset k{{"1700000000000", "glucose"}, "obs-0001-002"};
  std::string c = seal_cursor(k, "Observation?patient=1", kKey, kNow);
  EXPECT_EQ(c.find("obs-0001"), std::string::npos);
  EXPECT_EQ(c.find("glucose"), std::string::npos);
  auto back = open_cursor(c, "Observation?patient=1", kKey, kNow);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->values, k.values);
  EXPECT_EQ(back->id, k.id);
}

TEST(Cursor, RejectsForgeryOtherQueriesAndAge) {
  storage::Keyset k{{}, "a"};
  std::string c = seal_cursor(k, "q1", kKey, kNow);
  EXPECT_FALSE(open_cursor(c, "q2", kKey, kNow).ok());
  EXPECT_FALSE(open_cursor(c, "q1", std::string(32, 'x'), kNow).ok());
  std::string altered = c;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(open_cursor(altered, "q1", kKey, kNow).ok());
  EXPECT_FALSE(open_cursor("not-a-cursor", "q1", kKey, kNow).ok());
  EXPECT_FALSE(open_cursor("", "q1", kKey, kNow).ok());
  auto old = open_cursor(c, "q1", kKey, kNow + std::chrono::hours(25));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().expression, "_cursor");
}

}  // namespace
}  // namespace ipa::search
