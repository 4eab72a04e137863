// Which patient an audited FHIR interaction concerns when the token names none (a backend
// service's system/ token): the Patient named by the path, `Patient/[id]...`, whether the read
// took the fast path (GET [type]/[id]) or the general one (instance history); nothing for
// `Patient/_history`, `Patient/_search` or another type. Read back from the AuthStore beside the
// server, on SQLite and PostgreSQL (IPA_TEST_POSTGRES).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend_helpers.h"
#include "harness.h"
#include "jose/key.h"
#include "pg_harness.h"
#include "store_helpers.h"

namespace ipa::testing {
namespace {

class AuditPatientTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_audpat");
    if (store_.empty()) return;
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{"--patients", "2"},
                                              std::vector<std::string>{"IPA_TEST_FAST_HASH=1"},
                                              "demo", /*with_auth=*/true, dir_.file("srv"));
    ASSERT_GT(server_->port(), 0);
    key_ = add_backend_client(store_, "auditor", "system/*.rs", dir_.file("auditor.jwks.json"));
    ASSERT_NE(key_, nullptr);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<jose::Key> key_;
};

TEST_P(AuditPatientTest, ThePatientOfTheEventComesFromThePathWhenTheTokenHasNone) {
  auto t = client_credentials_token(*server_, *key_, "auditor", "system/*.rs");
  ASSERT_EQ(t.status, 200) << t.body;
  const std::string token(body_json(t).get_string("access_token"));
  ASSERT_FALSE(token.empty());
  auto get = [&](const std::string& path) {
    auto r = server_->get(path, {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.status, 200) << path << ": " << r.body.substr(0, 300);
  };
  get("/fhir/Patient/pat-0001");              // read: the fast path
  get("/fhir/Patient/pat-0002/_history");     // history-instance: the general path
  get("/fhir/Patient/_history");              // history-type: no patient
  get("/fhir/Patient?_id=pat-0001");          // search-type: no patient (a value is not a path)
  get("/fhir/Observation?patient=pat-0002");  // another type: no patient

  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  // The trail is written every ~150 ms by another thread: poll until the five events are there.
  std::vector<storage::AuditEvent> fhir;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    auto all = store->recent_audit(100);
    ASSERT_TRUE(all.ok());
    fhir.clear();
    for (const auto& e : *all) {
      if (e.client_id == "auditor" && !e.resource_type.empty()) fhir.push_back(e);
    }
    if (fhir.size() >= 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(fhir.size(), 5u) << "the audit trail did not show the five requests in time";
  std::map<std::string, std::string> patient_by_type;
  for (const auto& e : fhir) {
    SCOPED_TRACE(e.type + " " + e.resource_type + " " + e.resource_id);
    EXPECT_TRUE(patient_by_type.emplace(e.type + " " + e.resource_type, e.patient).second)
        << "one event per request expected";
  }
  const std::map<std::string, std::string> expected = {
      {"read Patient", "pat-0001"},    {"history-instance Patient", "pat-0002"},
      {"history-type Patient", ""},    {"search-type Patient", ""},
      {"search-type Observation", ""},
  };
  EXPECT_EQ(patient_by_type, expected);

  // The same rule as seen by find_audit: only the two requests on a named Patient.
  auto one = store->find_audit(storage::AuditQuery{"pat-0001"});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].type, "read");
  EXPECT_EQ((*one)[0].resource_id, "pat-0001");
  auto two = store->find_audit(storage::AuditQuery{"pat-0002"});
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 1u);
  EXPECT_EQ((*two)[0].type, "history-instance");
}

INSTANTIATE_TEST_SUITE_P(Stores, AuditPatientTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipa::testing
