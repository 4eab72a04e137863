#include "client/conformance.h"

#include <gtest/gtest.h>

#include "client/testing.h"

namespace ipa::client {
namespace {

using testing::FakeTransport;

json::Value j(const std::string& text) { return json::parse(text).value(); }

TEST(ConformanceDates, FollowFhirRangeSemantics) {
  struct Case {
    std::string search;
    std::string target;  // JSON
    bool match;
  };
  std::vector<Case> cases = {
      {"2020-03-04", R"("2020-03-04")", true},
      {"2020-03-04", R"("2020-03-04T10:00:00Z")", true},
      {"2020-03-04T10:00:00Z", R"("2020-03-04")", false},  // the day is wider than the second
      {"2020-03-04T10:00:00.123Z", R"("2020-03-04T10:00:00.123Z")", true},
      {"2020-03-04T10:00:00Z", R"("2020-03-04T10:00:00.123Z")", true},
      {"2020-03-04T12:00:00+02:00", R"("2020-03-04T10:00:00Z")", true},
      {"2020", R"("2020-12-31")", true},
      {"2020-02", R"("2020-03-01")", false},
      {"gt2020-03-03", R"("2020-03-04")", true},
      {"gt2020-03-04", R"("2020-03-04")", false},
      {"ge2020-03-04", R"("2020-03-04")", true},
      {"lt2020-03-04", R"("2020-03-03T23:59:59Z")", true},
      {"le2020-03-04", R"("2020-03-05")", false},
      {"gt2020-01-01", R"({"start":"2019-06-01"})", true},  // open end
      {"gt2020-01-01", R"({"start":"2019-06-01","end":"2019-07-01"})", false},
      {"lt2020-01-01", R"({"end":"2021-01-01"})", true},  // open start
      {"2020-03-04", R"("not a date")", false},
      {"2020-13-04", R"("2020-03-04")", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.search + " vs " + c.target);
    EXPECT_EQ(date_matches(c.search, j(c.target)), c.match);
  }
}

// A server with a broken CapabilityStatement and discovery document: the checks name the kit's
// tests that fail, and the launch-bound tests skip (no client_id).
TEST(Conformance, NamesTheFailedKitTests) {
  FakeTransport t;
  t.on_json(
      "GET https://ehr.example/fhir/metadata", 200,
      R"({"resourceType":"CapabilityStatement","kind":"requirements","fhirVersion":"4.0.1",)"
      R"("format":["json"],"instantiates":["http://hl7.org/fhir/uv/ipa/CapabilityStatement/ipa"],)"
      R"("rest":[{"mode":"server","resource":[{"type":"Patient"}]}]})");
  t.on("GET https://ehr.example/fhir/.well-known/smart-configuration", [](const auto&) {
    ClientResponse r;
    r.status = 200;
    r.headers = {{"Content-Type", "text/plain"}};
    r.body =
        R"({"authorization_endpoint":"https://ehr.example/a","token_endpoint":"https://ehr.example/t",)"
        R"("capabilities":["launch-standalone"],"code_challenge_methods_supported":["S256","plain"]})";
    return r;
  });
  CheckOptions o;
  o.now = [] { return int64_t{1000}; };
  ConformanceReport report = run_conformance_check(t, "https://ehr.example/fhir/", o);
  std::map<std::string, Verdict> by_id;
  for (const TestResult& r : report.results) by_id[r.group + "/" + r.id] = r.verdict;
  EXPECT_EQ(by_id["ipa_v100_capability_statement/ipa_100_instantiates_ig"], Verdict::kFail);
  EXPECT_EQ(by_id["ipa_v100_capability_statement/ipa_100_profile_support"], Verdict::kFail);
  EXPECT_EQ(by_id["ipa_v100_capability_statement/ipa_100_fhir_version"], Verdict::kPass);
  EXPECT_EQ(by_id["ipa_v100_capability_statement/ipa_100_json_support"], Verdict::kPass);
  EXPECT_EQ(by_id["smart_discovery_stu2/well_known_endpoint"], Verdict::kFail);
  EXPECT_EQ(by_id["smart_discovery_stu2/well_known_capabilities_stu2"], Verdict::kFail);
  EXPECT_EQ(by_id["ipa_v100_smart_launch/ipa_smart_capabilities"], Verdict::kFail);
  EXPECT_EQ(by_id["pitfalls/p2_instance_capability_statement"], Verdict::kFail);
  EXPECT_EQ(by_id["smart_standalone_launch_stu2/smart_token_exchange"], Verdict::kSkip);
  EXPECT_TRUE(report.shall_failed());
  // No token was ever sent: there was none.
  for (const auto& s : t.sent) EXPECT_EQ(s.header("Authorization"), "") << s.url;
  std::string text = report.text();
  EXPECT_NE(text.find("FAIL  ipa_100_instantiates_ig"), std::string::npos) << text;
  EXPECT_NE(text.find("Not conformant"), std::string::npos);
}

TEST(Conformance, JunitNamesEveryTestAndEscapes) {
  ConformanceReport r;
  r.base = "https://x/fhir";
  r.results = {{"g1", "a_test", true, Verdict::kPass, ""},
               {"g1", "b_test", true, Verdict::kFail, "answered <403> & \"no\""},
               {"g2", "c_test", false, Verdict::kSkip, "no data"}};
  std::string x = r.junit();
  EXPECT_NE(x.find(R"(<testsuite name="g1" tests="2" failures="1" skipped="0">)"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find(R"(<testcase classname="g1" name="a_test"/>)"), std::string::npos) << x;
  EXPECT_NE(x.find("answered &lt;403&gt; &amp; &quot;no&quot;"), std::string::npos) << x;
  EXPECT_NE(x.find(R"(<skipped message="no data"/>)"), std::string::npos) << x;
  EXPECT_TRUE(r.shall_failed());
  r.results[1].shall = false;
  EXPECT_FALSE(r.shall_failed());
}

}  // namespace
}  // namespace ipa::client
