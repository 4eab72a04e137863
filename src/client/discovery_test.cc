#include "client/discovery.h"

#include <gtest/gtest.h>

#include "client/testing.h"

namespace ipa::client {
namespace {

using testing::FakeTransport;

const char* kBase = "https://ehr.example/fhir";

std::string metadata(const std::string& instantiates, const std::string& version) {
  return R"({"resourceType":"CapabilityStatement","instantiates":[")" + instantiates +
         R"("],"fhirVersion":")" + version +
         R"(","format":["json"],"rest":[{"mode":"server","resource":[{"type":"Patient"},)"
         R"({"type":"Observation"}]}]})";
}

std::string smart(const std::string& caps, const std::string& pkce) {
  return R"({"issuer":"https://ehr.example/fhir","authorization_endpoint":"https://ehr.example/a",)"
         R"("token_endpoint":"https://ehr.example/t","jwks_uri":"https://ehr.example/k",)"
         R"("capabilities":[)" +
         caps + R"(],"code_challenge_methods_supported":[)" + pkce + "]}";
}

const char* kGoodCaps =
    R"("launch-standalone","context-standalone-patient","client-public","permission-v2")";

TEST(ClientDiscovery, AcceptsAnIpaServer) {
  FakeTransport t;
  t.on_json("GET https://ehr.example/fhir/metadata", 200, metadata(kIpaServerStatement, "4.0.1"));
  t.on_json("GET https://ehr.example/fhir/.well-known/smart-configuration", 200,
            smart(kGoodCaps, R"("S256")"));
  Discovery d = discover(t, std::string(kBase) + "/");
  EXPECT_TRUE(d.usable()) << d.report();
  EXPECT_EQ(d.base, kBase);
  EXPECT_EQ(d.config.token_endpoint, "https://ehr.example/t");
  EXPECT_EQ(d.resource_types, (std::vector<std::string>{"Patient", "Observation"}));
  EXPECT_NE(d.report().find("Usable"), std::string::npos);
}

TEST(ClientDiscovery, SaysWhyAServerIsNotUsable) {
  struct Case {
    std::string name;
    std::string metadata;
    std::string smart;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"not IPA", metadata("http://example.org/other", "4.0.1"), smart(kGoodCaps, R"("S256")"),
       "instantiates IPA"},
      {"R5", metadata(kIpaServerStatement, "5.0.0"), smart(kGoodCaps, R"("S256")"), "FHIR 4.0.x"},
      {"plain PKCE only", metadata(kIpaServerStatement, "4.0.1"), smart(kGoodCaps, R"("plain")"),
       "PKCE S256"},
      {"no standalone", metadata(kIpaServerStatement, "4.0.1"),
       smart(R"("context-standalone-patient","client-public")", R"("S256")"), "launch-standalone"},
      {"symmetric only", metadata(kIpaServerStatement, "4.0.1"),
       smart(R"("launch-standalone","context-standalone-patient","client-confidential-symmetric")",
             R"("S256")"),
       "client type"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTransport t;
    t.on_json("GET https://ehr.example/fhir/metadata", 200, c.metadata);
    t.on_json("GET https://ehr.example/fhir/.well-known/smart-configuration", 200, c.smart);
    Discovery d = discover(t, kBase);
    EXPECT_FALSE(d.usable());
    std::string report = d.report();
    EXPECT_NE(report.find("Not usable: " + c.reason), std::string::npos) << report;
  }
}

TEST(ClientDiscovery, UnreachableDocumentsAreFailedChecks) {
  FakeTransport t;  // answers 404 to everything
  Discovery d = discover(t, "http://127.0.0.1:9/fhir");
  EXPECT_FALSE(d.usable());
  EXPECT_NE(d.report().find("metadata"), std::string::npos);
  EXPECT_NE(d.report().find("smart-configuration"), std::string::npos);
}

TEST(ClientDiscovery, PlainHttpIsRefusedOffLoopback) {
  std::vector<Check> checks =
      check_smart_config(parse_smart_config(json::parse(smart(kGoodCaps, R"("S256")")).value()),
                         "http://ehr.example/fhir");
  bool refused = false;
  for (const Check& c : checks) refused |= c.name == "TLS" && !c.ok && c.required;
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace ipa::client
