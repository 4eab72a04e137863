#include "search/text.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ipa::search {
namespace {

TEST(Fold, CaseAndAccentInsensitive) {
  struct Case {
    std::string input;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"Müller", "muller"},
      {"MULLER", "muller"},
      {"muller", "muller"},
      {"MÜLLER", "muller"},
      {"Straße", "strasse"},
      {"Łódź", "lodz"},
      {"Øster", "oster"},
      {"Æsir", "aesir"},
      {"Nguyễn", "nguyen"},
      {"José García", "jose garcia"},
      {"Zoë", "zoe"},
      {"", ""},
      {"Plain ASCII 123!", "plain ascii 123!"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(fold(c.input), c.expected);
  }
}

TEST(Fold, LeavesChineseUnchanged) {
  EXPECT_EQ(fold("王小明"), "王小明");
  EXPECT_EQ(fold("王小明 ABC"), "王小明 abc");
}

TEST(Fold, FoldsOtherScriptsCase) {
  EXPECT_EQ(fold("ΣΟΦΊΑ"), fold("σοφια"));
  EXPECT_EQ(fold("Иванов"), fold("ИВАНОВ"));
}

TEST(Fold, InvalidUtf8DoesNotCrash) {
  const std::string bad = "ab\xff\xfe";
  EXPECT_FALSE(fold(bad).empty());
}

TEST(Fold, ThreadSafe) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 500; ++i) {
        if (fold("Müller-Łukasz") != "muller-lukasz") ++failures[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace ipa::search
