#include "client/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ipa::client {
namespace {

TEST(ProgressBar, DrawsCountBarAndRateOnATerminal) {
  std::ostringstream out;
  double now = 100;
  ProgressBar bar(out, /*enabled=*/true, [&] { return now; });
  bar.start("Observation", 40);
  now = 102;
  bar.add(10);
  std::string line = bar.render();
  EXPECT_NE(line.find("Observation"), std::string::npos) << line;
  EXPECT_NE(line.find("[#####...............]"), std::string::npos) << line;
  EXPECT_NE(line.find("10/40"), std::string::npos) << line;
  EXPECT_NE(line.find("5.0/s"), std::string::npos) << line;
  bar.finish("done");
  EXPECT_NE(out.str().find('\r'), std::string::npos);
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_NE(out.str().find("done"), std::string::npos);
}

TEST(ProgressBar, UnknownTotalShowsTheCountOnly) {
  std::ostringstream out;
  double now = 0;
  ProgressBar bar(out, true, [&] { return now; });
  bar.start("Condition");
  now = 1;
  bar.add(3);
  EXPECT_EQ(bar.render().find('#'), std::string::npos);
  EXPECT_NE(bar.render().find(" 3 "), std::string::npos) << bar.render();
}

TEST(ProgressBar, PrintsNothingWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar(out, /*enabled=*/false);
  bar.start("Observation", 5);
  bar.add(5);
  bar.finish();
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace ipa::client
