// The golden search file (tests/data/search_golden.json): the worked examples of FHIR R4
// search.html and the value forms of R20-R23, each with the exact set of ids it must match.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "harness.h"

namespace ipa::testing {
namespace {

TEST(GoldenSearch, WorkedExamplesMatchExactly) {
  std::ifstream in(IPA_SOURCE_DIR "/tests/data/search_golden.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto golden = json::parse(ss.str());
  ASSERT_TRUE(golden.ok()) << golden.error().diagnostics;
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  for (const auto& r : golden->find("resources")->items()) {
    std::string path = "/fhir/" + std::string(r.get_string("resourceType")) + "/" +
                       std::string(r.get_string("id"));
    auto put = server.send("PUT", path, json::write(r));
    ASSERT_EQ(put.status, 201) << path << ": " << put.body;
  }
  int cases = 0;
  for (const auto& c : golden->find("cases")->items()) {
    std::string query(c.get_string("query"));
    SCOPED_TRACE(query + "  (" + std::string(c.get_string("why")) + ")");
    std::set<std::string> expected;
    for (const auto& id : c.find("match")->items()) expected.insert(id.text());
    auto r = server.get(
        "/fhir/" + query + (query.find('?') == std::string::npos ? "?" : "&") + "_count=1000",
        {{"Prefer", "handling=strict"}});
    ASSERT_EQ(r.status, 200) << r.body;
    json::Value bundle = body_json(r);
    std::set<std::string> got;
    if (const json::Value* entries = bundle.find("entry")) {
      for (const auto& e : entries->items()) {
        got.insert(std::string(e.find("resource")->get_string("id")));
      }
    }
    EXPECT_EQ(got, expected);
    ++cases;
  }
  EXPECT_GE(cases, 40);
}

}  // namespace
}  // namespace ipa::testing
