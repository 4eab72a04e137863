// Reads by id with a patient-bound token go through ResourceStore::read_for_patient (the token's
// patient in the query, docs/scale-out.md): through the real server on SQLite and PostgreSQL,
// the patient's own resources are served and another patient's are not found, both by read and
// by instance history. PostgreSQL runs when IPA_TEST_POSTGRES names a cluster
// (scripts/pg-test-cluster.sh).
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "harness.h"
#include "launch_helpers.h"
#include "pg_harness.h"

namespace ipa::testing {
namespace {

class OwnerReadTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_owner");
    if (store_.empty()) return;
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{"--patients", "6"},
                                              std::vector<std::string>{"IPA_TEST_FAST_HASH=1"},
                                              "demo", true, dir_.file("srv"));
    ASSERT_GT(server_->port(), 0);
  }

  int status(const std::string& token, const std::string& path) {
    return server_->get(path, {{"Authorization", "Bearer " + token}}).status;
  }

  // The id of one Observation of the token's patient.
  std::string an_observation(const std::string& token, const std::string& patient) {
    auto r = server_->get("/fhir/Observation?patient=" + patient + "&_count=1",
                          {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.status, 200) << r.body;
    json::Value bundle = body_json(r);
    const json::Value* entries = bundle.find("entry");
    if (entries == nullptr || entries->items().empty()) return "";
    return std::string(entries->items()[0].find("resource")->get_string("id"));
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_P(OwnerReadTest, APatientTokenReadsItsOwnResourcesOnly) {
  // The demo's caregiver may act for pat-0001 and pat-0002 (tests/integration/admin_test.cc).
  auto one = launch::standalone(*server_, "caregiver", "pat-0001");
  auto two = launch::standalone(*server_, "caregiver", "pat-0002");
  ASSERT_FALSE(one.access_token.empty());
  ASSERT_FALSE(two.access_token.empty());
  std::string obs1 = an_observation(one.access_token, "pat-0001");
  std::string obs2 = an_observation(two.access_token, "pat-0002");
  ASSERT_FALSE(obs1.empty());
  ASSERT_FALSE(obs2.empty());

  EXPECT_EQ(status(one.access_token, "/fhir/Observation/" + obs1), 200);
  EXPECT_EQ(status(one.access_token, "/fhir/Observation/" + obs1 + "/_history"), 200);
  EXPECT_EQ(status(one.access_token, "/fhir/Patient/pat-0001"), 200);
  EXPECT_EQ(status(two.access_token, "/fhir/Observation/" + obs2), 200);

  auto other =
      server_->get("/fhir/Observation/" + obs2, {{"Authorization", "Bearer " + one.access_token}});
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(body_json(other).get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(status(one.access_token, "/fhir/Observation/" + obs2 + "/_history"), 404);
  EXPECT_EQ(status(two.access_token, "/fhir/Observation/" + obs1), 404);
  EXPECT_EQ(status(one.access_token, "/fhir/Patient/pat-0002"), 404);
  EXPECT_EQ(status(one.access_token, "/fhir/Observation/no-such-id"), 404);
}

// A Binary is owned by the Patient its securityContext names (src/search/extract.cc), so a
// patient token reads it through read_for_patient too: the patient's own document content is
// served, another patient's is not found, by read and by history.
TEST_P(OwnerReadTest, APatientTokenReadsItsOwnBinariesOnly) {
  auto one = launch::standalone(*server_, "caregiver", "pat-0001");
  auto two = launch::standalone(*server_, "caregiver", "pat-0002");
  auto binary_of = [&](const std::string& token, const std::string& patient) -> std::string {
    auto r = server_->get("/fhir/DocumentReference?patient=" + patient + "&_count=1",
                          {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::smatch m;
    static const std::regex kUrl("\"url\":\"(?:[^\"]*/)?Binary/([A-Za-z0-9.-]+)\"");
    if (!std::regex_search(r.body, m, kUrl)) return "";
    return m[1];
  };
  std::string bin1 = binary_of(one.access_token, "pat-0001");
  std::string bin2 = binary_of(two.access_token, "pat-0002");
  ASSERT_FALSE(bin1.empty());
  ASSERT_FALSE(bin2.empty());
  EXPECT_EQ(status(one.access_token, "/fhir/Binary/" + bin1), 200);
  EXPECT_EQ(status(one.access_token, "/fhir/Binary/" + bin1 + "/_history"), 200);
  EXPECT_EQ(status(two.access_token, "/fhir/Binary/" + bin2), 200);
  EXPECT_EQ(status(one.access_token, "/fhir/Binary/" + bin2), 404);
  EXPECT_EQ(status(one.access_token, "/fhir/Binary/" + bin2 + "/_history"), 404);
  EXPECT_EQ(status(two.access_token, "/fhir/Binary/" + bin1), 404);
}

INSTANTIATE_TEST_SUITE_P(Stores, OwnerReadTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipa::testing
