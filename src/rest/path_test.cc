#include "rest/internal/path.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace ipa::rest::internal {
namespace {

TEST(SplitPath, Table) {
  struct Case {
    std::string path;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"", {}},
      {"/", {}},
      {"//", {}},
      {"Patient", {"Patient"}},
      {"/Patient", {"Patient"}},
      {"/Patient/1", {"Patient", "1"}},
      {"/Patient//1/", {"Patient", "1"}},
      {"Patient/1/_history/2", {"Patient", "1", "_history", "2"}},
      {"/.well-known/smart-configuration", {".well-known", "smart-configuration"}},
      {"/Patient/a%2Fb", {"Patient", "a%2Fb"}},  // no decoding
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    EXPECT_EQ(split_path(c.path), c.parts);
    std::vector<std::string_view> views = split_path<std::string_view>(c.path);
    EXPECT_EQ(std::vector<std::string>(views.begin(), views.end()), c.parts);
  }
}

TEST(SplitPath, ViewsPointIntoThePath) {
  std::string_view path = "/Observation/o1";
  std::vector<std::string_view> views = split_path<std::string_view>(path);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].data(), path.data() + 1);
  EXPECT_EQ(views[1].data(), path.data() + 13);
}

}  // namespace
}  // namespace ipa::rest::internal
