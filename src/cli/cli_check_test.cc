// `ipa-client check` end to end: against the real demo server every SHALL test passes and the
// JUnit file names the kits' tests; against a small broken server served by the test the
// failing tests are named and the exit status says so. The same check runs against the demo
// over TLS (the test's CA given with --ca-file), where the TLS version probes run, and against
// a certificate the client does not trust.
#include <gtest/gtest.h>

#include <memory>

#include "cli_testing.h"
#include "harness.h"
#include "http/server.h"
#include "http/testing/tls_cert.h"
#include "json/json.h"

namespace ipa::testing {
namespace {

struct Target {
  std::string base;
  std::vector<std::string> extra_args;  // e.g. a CA bundle for a TLS variant
};

// The <testcase> element of `name` in group `group`, or "".
std::string testcase(const std::string& junit, const std::string& group, const std::string& name) {
  return junit_testcase(junit, group, name);
}

RunResult run_check(const Target& t, std::vector<std::string> args) {
  args.insert(args.begin(), {"check", t.base});
  args.insert(args.end(), t.extra_args.begin(), t.extra_args.end());
  return run_ipa_client(args);
}

// Runs the check against a demo server as `target` and expects every SHALL test to pass, the
// kits' names in the JUnit file, and no token in the output. Returns the report and the JUnit.
std::pair<RunResult, std::string> expect_every_shall_passes(const Target& target,
                                                            const TempDir& dir) {
  std::string junit_path = dir.file("check.xml");
  RunResult r =
      run_check(target, {"--client-id", "ipa-demo-app", "--username", "pat-0006", "--password",
                         "ipa-demo", "--timeout", "20", "--junit", junit_path});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Every SHALL test that could run passed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL "), std::string::npos) << r.out;
  std::string junit = slurp_file(junit_path);
  EXPECT_FALSE(junit.empty());
  // The kits' names, and a pass where the demo data allows one.
  for (const auto& [group, name] : std::vector<std::pair<std::string, std::string>>{
           {"ipa_v100_capability_statement", "ipa_100_instantiates_ig"},
           {"ipa_v100_capability_statement", "ipa_100_profile_support"},
           {"smart_discovery_stu2", "well_known_capabilities_stu2"},
           {"ipa_v100_smart_launch", "ipa_smart_capabilities"},
           {"smart_standalone_launch_stu2", "smart_token_exchange"},
           {"smart_standalone_launch_stu2", "smart_token_response_headers"},
           {"smart_openid_connect", "smart_openid_token_payload"},
           {"ipa_v100_patient", "patient__id_search_test"},
           {"ipa_v100_patient", "patient_identifier_search_test"},
           {"ipa_v100_condition", "condition_patient_search_test"},
           {"ipa_v100_observation", "observation_patient_category_search_test"},
           {"ipa_v100_observation", "observation_patient_category_date_search_test"},
           {"ipa_v100_vitalsigns", "vitalsigns_patient_code_search_test"},
           {"ipa_v100_medication_request", "medication_request_patient_search_test"},
           {"ipa_v100_document_reference", "document_reference_patient_category_date_search_test"},
           {"ipa_v100_condition", "condition_read_test"},
           {"smart_token_refresh_stu2_without_scopes", "smart_token_refresh_body"},
           {"smart_token_introspection_response_group",
            "smart_token_introspection_response_group-Test02"}}) {
    SCOPED_TRACE(group + "/" + name);
    std::string tc = testcase(junit, group, name);
    EXPECT_FALSE(tc.empty()) << junit;
    EXPECT_EQ(tc.find("<failure"), std::string::npos) << tc;
    EXPECT_EQ(tc.find("<skipped"), std::string::npos) << tc;
  }
  EXPECT_EQ(count_of(junit, "type=\"SHALL\""), 0) << junit;
  EXPECT_GT(count_of(junit, "<testcase "), 100);
  // The check printed no token.
  EXPECT_EQ(r.out.find("access_token\":"), std::string::npos);
  return {r, junit};
}

// The TLS test kit's tests as the kits name them: the FHIR server's, the authorize
// endpoint's and the token endpoint's.
const std::vector<std::pair<std::string, std::string>>& tls_tests() {
  static const std::vector<std::pair<std::string, std::string>> kTests = {
      {"ipa_v100_capability_statement", "standalone_auth_tls"},
      {"smart_standalone_launch_stu2", "standalone_auth_tls"},
      {"smart_standalone_launch_stu2", "standalone_token_tls"}};
  return kTests;
}

TEST(CliCheck, EveryShallPassesAgainstTheDemoServer) {
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"}, "demo",
                       /*with_auth=*/true);
  auto [r, junit] = expect_every_shall_passes(Target{server.base(), {}}, dir);
  // Plain http on loopback: no TLS to probe, said as the reason.
  for (const auto& [group, name] : tls_tests()) {
    SCOPED_TRACE(group + "/" + name);
    EXPECT_NE(testcase(junit, group, name).find("<skipped message=\"plain http (loopback)"),
              std::string::npos)
        << junit;
  }
}

TEST(CliCheck, EveryShallPassesAgainstTheDemoServerOverTls) {
  TempDir dir;
  auto tls = http::testing::make_self_signed(dir.file("tls"));
  ASSERT_FALSE(tls.certificate.empty());
  ServerProcess server(
      dir.file("ipa.db"),
      {"--patients", "6", "--tls-cert", tls.certificate, "--tls-key", tls.private_key},
      {"IPA_TEST_FAST_HASH=1"}, "demo", /*with_auth=*/true);
  std::string base = "https://127.0.0.1:" + std::to_string(server.port()) + "/fhir";
  // demo.json names the https base; the client's redirect URIs stay loopback http (they are
  // the client's own listener).
  auto demo = json::parse(slurp_file(dir.file("demo.json")));
  ASSERT_TRUE(demo.ok()) << slurp_file(dir.file("demo.json"));
  EXPECT_EQ(demo->get_string("fhir_base"), base);
  auto [r, junit] = expect_every_shall_passes(Target{base, {"--ca-file", tls.certificate}}, dir);
  // The TLS version probes ran: TLS 1.0 and 1.1 refused by the server, TLS 1.2 accepted.
  for (const auto& [group, name] : tls_tests()) {
    SCOPED_TRACE(group + "/" + name);
    std::string tc = testcase(junit, group, name);
    ASSERT_FALSE(tc.empty()) << junit;
    EXPECT_EQ(tc.find("<skipped"), std::string::npos) << tc;
    EXPECT_EQ(tc.find("<failure"), std::string::npos) << tc;
  }
  EXPECT_NE(r.out.find("pass  standalone_token_tls: https://127.0.0.1:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("TLS 1.0 refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TLS 1.1 refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TLS 1.2 accepted"), std::string::npos) << r.out;
}

TEST(CliCheck, AnUntrustedCertificateFailsWithAClearMessage) {
  TempDir dir;
  auto tls = http::testing::make_self_signed(dir.file("tls"));
  auto other = http::testing::make_self_signed(dir.file("other"));
  ASSERT_FALSE(other.certificate.empty());
  ServerProcess server(
      dir.file("ipa.db"),
      {"--patients", "2", "--tls-cert", tls.certificate, "--tls-key", tls.private_key},
      {"IPA_TEST_FAST_HASH=1"}, "demo", /*with_auth=*/true);
  std::string base = "https://127.0.0.1:" + std::to_string(server.port()) + "/fhir";
  std::string junit_path = dir.file("check.xml");
  // Trusting another CA than the one that signed the server's certificate.
  RunResult r = run_check(Target{base, {"--ca-file", other.certificate}},
                          {"--client-id", "ipa-demo-app", "--username", "pat-0001", "--password",
                           "ipa-demo", "--timeout", "20", "--junit", junit_path});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // a verdict, not a crash
  EXPECT_NE(r.err.find("SSL certificate problem"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not chain to a CA in " + other.certificate), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--ca-file"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("FAIL  standalone_auth_tls: https://127.0.0.1:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("certificate does not verify"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Not conformant"), std::string::npos) << r.out;
  std::string junit = slurp_file(junit_path);
  EXPECT_NE(testcase(junit, "ipa_v100_capability_statement", "ipa_100_conformance_support")
                .find("<failure"),
            std::string::npos)
      << junit;
  // A CA file that cannot be read is refused before any request.
  RunResult missing = run_check(Target{base, {"--ca-file", dir.file("no-such.pem")}}, {});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("Cannot read the CA file"), std::string::npos) << missing.err;
}

// A tiny server that is not an IPA server: its CapabilityStatement lacks `instantiates` and
// copies IPA-CS (kind requirements), its discovery document is served as text/plain and lacks
// most capabilities, and its FHIR API wants a token it never issues.
class BrokenServer {
 public:
  BrokenServer() {
    http::ServerOptions o;
    o.port = 0;
    o.threads = 1;
    auto s = http::Server::start(o, [this](const http::Request& req) { return handle(req); });
    if (!s.ok()) ADD_FAILURE() << s.error().log_detail;
    server_ = std::move(s).value();
  }
  std::string base() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/fhir";
  }

 private:
  http::Response handle(const http::Request& req) {
    http::Response r;
    if (req.path == "/fhir/metadata") {
      r.headers = {{"Content-Type", "application/fhir+json"}};
      r.body =
          R"({"resourceType":"CapabilityStatement","status":"active","kind":"requirements",)"
          R"("fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":)"
          R"([{"type":"Patient","supportedProfile":["http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-patient"]},)"
          R"({"type":"Condition"}]}]})";
    } else if (req.path == "/fhir/.well-known/smart-configuration") {
      r.headers = {{"Content-Type", "text/plain"}};
      r.body =
          R"({"authorization_endpoint":"http://127.0.0.1:1/authorize","token_endpoint":)"
          R"("http://127.0.0.1:1/token","capabilities":["launch-standalone","client-public"],)"
          R"("code_challenge_methods_supported":["S256"],"grant_types_supported":["authorization_code"]})";
    } else {
      r.status = 401;
    }
    return r;
  }
  std::unique_ptr<http::Server> server_;
};

TEST(CliCheck, NamesWhatABrokenServerFails) {
  BrokenServer broken;
  TempDir dir;
  std::string junit_path = dir.file("check.xml");
  RunResult r = run_check(Target{broken.base(), {}}, {"--junit", junit_path});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("Not conformant"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  ipa_100_instantiates_ig"), std::string::npos) << r.out;
  std::string junit = slurp_file(junit_path);
  for (const auto& [group, name] : std::vector<std::pair<std::string, std::string>>{
           {"ipa_v100_capability_statement", "ipa_100_instantiates_ig"},
           {"ipa_v100_capability_statement", "ipa_100_profile_support"},
           {"smart_discovery_stu2", "well_known_endpoint"},
           {"ipa_v100_smart_launch", "ipa_smart_capabilities"},
           {"pitfalls", "p2_instance_capability_statement"}}) {
    SCOPED_TRACE(group + "/" + name);
    std::string tc = testcase(junit, group, name);
    EXPECT_NE(tc.find("<failure"), std::string::npos) << junit;
  }
  for (const auto& [group, name] : std::vector<std::pair<std::string, std::string>>{
           {"ipa_v100_capability_statement", "ipa_100_fhir_version"},
           {"ipa_v100_capability_statement", "ipa_100_json_support"}}) {
    SCOPED_TRACE(group + "/" + name);
    std::string tc = testcase(junit, group, name);
    ASSERT_FALSE(tc.empty()) << junit;
    EXPECT_EQ(tc.find("<failure"), std::string::npos) << tc;
  }
  // Without a client_id the launch-bound tests are skipped, with the reason.
  std::string tc = testcase(junit, "smart_standalone_launch_stu2", "smart_token_exchange");
  EXPECT_NE(tc.find("<skipped message=\"no client_id"), std::string::npos) << tc;
}

}  // namespace
}  // namespace ipa::testing
