// Transaction Bundles with conditional creates (FHIR R4 http.html#transaction, #ccreate,
// bundle.html#references), through the real server on SQLite and on PostgreSQL: an entry whose
// ifNoneExist matches an existing resource creates nothing, and every reference to its fullUrl is
// rewritten to the existing resource; more than one match fails the whole transaction with 412.
// GET entries run after the writes and see them (http.html#trules), also by a urn:uuid fullUrl
// and for a caller whose granular scopes the store cannot judge before the commit.
// PostgreSQL runs when IPA_TEST_POSTGRES names a cluster (scripts/pg-test-cluster.sh).
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "backend_helpers.h"
#include "harness.h"
#include "jose/key.h"
#include "pg_harness.h"

namespace ipa::testing {
namespace {

constexpr const char* kUrnPatient = "urn:uuid:0b0d4bb4-7f4c-4f43-9a8e-6a2c1d3e5f01";
constexpr const char* kUrnObs = "urn:uuid:0b0d4bb4-7f4c-4f43-9a8e-6a2c1d3e5f02";

std::string patient_json(const std::string& mrn) {
  return R"({"resourceType":"Patient","identifier":[{"system":"urn:tx:mrn","value":")" + mrn +
         R"("}],"active":true})";
}

// A transaction: a conditional create of the Patient with `mrn` (fullUrl kUrnPatient), an
// Observation whose subject and performer reference that fullUrl, and a PUT of an Encounter
// referencing it too.
std::string bundle_for(const std::string& mrn, const std::string& obs_code,
                       const std::string& encounter_id) {
  return R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":")" +
         std::string(kUrnObs) +
         R"(","resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:tx:code","code":")" +
         obs_code + R"("}]},"subject":{"reference":")" + kUrnPatient +
         R"("},"performer":[{"reference":")" + kUrnPatient +
         R"("}]},"request":{"method":"POST","url":"Observation"}},
    {"fullUrl":")" +
         kUrnPatient + R"(","resource":)" + patient_json(mrn) +
         R"(,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:tx:mrn|)" +
         mrn + R"("}},
    {"resource":{"resourceType":"Encounter","id":")" +
         encounter_id +
         R"(","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":")" +
         kUrnPatient + R"("}},"request":{"method":"PUT","url":"Encounter/)" + encounter_id +
         R"("}}]})";
}

class TransactionTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_tx");
    if (store_.empty()) return;
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{},
                                              std::vector<std::string>{}, "serve", false,
                                              dir_.file("srv"));
    ASSERT_GT(server_->port(), 0);
  }

  std::string create_patient(const std::string& mrn) {
    auto r = server_->send("POST", "/fhir/Patient", patient_json(mrn));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(body_json(r).get_string("id"));
  }

  // The ids of the current resources of a search.
  std::vector<std::string> search_ids(const std::string& query) {
    auto r = server_->get("/fhir/" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    json::Value bundle = body_json(r);
    std::vector<std::string> out;
    if (const json::Value* entries = bundle.find("entry")) {
      for (const auto& e : entries->items()) {
        out.emplace_back(e.find("resource")->get_string("id"));
      }
    }
    return out;
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_P(TransactionTest, MatchedConditionalCreateRewritesReferencesToTheExistingResource) {
  std::string existing = create_patient("mrn-1");
  auto r = server_->send("POST", "/fhir", bundle_for("mrn-1", "c-1", "enc-1"));
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const json::Value* list = resp.find("entry");
  ASSERT_NE(list, nullptr);
  const auto& entries = list->items();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].find("response")->get_string("status"), "200 OK");
  EXPECT_EQ(entries[1].find("resource")->get_string("id"), existing);
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "201 Created");
  std::string oid(entries[0].find("resource")->get_string("id"));

  json::Value obs = body_json(server_->get("/fhir/Observation/" + oid));
  EXPECT_EQ(obs.find("subject")->get_string("reference"), "Patient/" + existing);
  EXPECT_EQ(obs.find("performer")->items()[0].get_string("reference"), "Patient/" + existing);
  json::Value enc = body_json(server_->get("/fhir/Encounter/enc-1"));
  EXPECT_EQ(enc.find("subject")->get_string("reference"), "Patient/" + existing);
  // Nothing new was created, and the references resolve (search and compartment).
  EXPECT_EQ(search_ids("Patient?identifier=urn:tx:mrn|mrn-1"), std::vector<std::string>{existing});
  EXPECT_EQ(search_ids("Observation?subject=Patient/" + existing), std::vector<std::string>{oid});
  EXPECT_EQ(search_ids("Patient/" + existing + "/Encounter"), std::vector<std::string>{"enc-1"});
  json::Value history = body_json(server_->get("/fhir/Patient/" + existing + "/_history"));
  EXPECT_EQ(history.find("total")->as_int(), 1);
}

TEST_P(TransactionTest, UnmatchedConditionalCreateCreatesAndRewritesToTheNewId) {
  create_patient("mrn-other");
  auto r = server_->send("POST", "/fhir", bundle_for("mrn-2", "c-2", "enc-2"));
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const json::Value* list = resp.find("entry");
  ASSERT_NE(list, nullptr);
  const auto& entries = list->items();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].find("response")->get_string("status"), "201 Created");
  std::string pid(entries[1].find("resource")->get_string("id"));
  std::string oid(entries[0].find("resource")->get_string("id"));
  EXPECT_EQ(server_->get("/fhir/Patient/" + pid).status, 200);
  json::Value obs = body_json(server_->get("/fhir/Observation/" + oid));
  EXPECT_EQ(obs.find("subject")->get_string("reference"), "Patient/" + pid);
  EXPECT_EQ(search_ids("Patient?identifier=urn:tx:mrn|mrn-2"), std::vector<std::string>{pid});

  // The same transaction again now matches what the first one created.
  auto again = server_->send("POST", "/fhir", bundle_for("mrn-2", "c-2b", "enc-2b"));
  ASSERT_EQ(again.status, 200) << again.body;
  json::Value resp2 = body_json(again);
  const auto& entries2 = resp2.find("entry")->items();
  EXPECT_EQ(entries2[1].find("response")->get_string("status"), "200 OK");
  EXPECT_EQ(entries2[1].find("resource")->get_string("id"), pid);
  json::Value obs2 = body_json(server_->get(
      "/fhir/Observation/" + std::string(entries2[0].find("resource")->get_string("id"))));
  EXPECT_EQ(obs2.find("subject")->get_string("reference"), "Patient/" + pid);
  EXPECT_EQ(search_ids("Patient?identifier=urn:tx:mrn|mrn-2").size(), 1u);
}

TEST_P(TransactionTest, SeveralMatchesFailTheWholeTransactionWith412) {
  create_patient("mrn-dup");
  create_patient("mrn-dup");
  auto r = server_->send("POST", "/fhir", bundle_for("mrn-dup", "c-3", "enc-3"));
  EXPECT_EQ(r.status, 412) << r.body;
  json::Value oo = body_json(r);
  EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(issue_expression(oo), "Bundle.entry[1]");
  EXPECT_TRUE(search_ids("Observation?code=urn:tx:code|c-3").empty());
  EXPECT_EQ(server_->get("/fhir/Encounter/enc-3").status, 404);
  EXPECT_EQ(search_ids("Patient?identifier=urn:tx:mrn|mrn-dup").size(), 2u);
}

TEST_P(TransactionTest, ConditionalCreatesThatMatchEachOtherAreRefused) {
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:0b0d4bb4-7f4c-4f43-9a8e-6a2c1d3e5f11","resource":)" +
      patient_json("mrn-twice") +
      R"(,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:tx:mrn|mrn-twice"}},
    {"fullUrl":"urn:uuid:0b0d4bb4-7f4c-4f43-9a8e-6a2c1d3e5f12","resource":)" +
      patient_json("mrn-twice") +
      R"(,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:tx:mrn|mrn-twice"}}]})";
  auto r = server_->send("POST", "/fhir", bundle);
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(issue_expression(body_json(r)), "Bundle.entry[1]");
  EXPECT_TRUE(search_ids("Patient?identifier=urn:tx:mrn|mrn-twice").empty());
}

TEST_P(TransactionTest, BadConditionalCreateCriteriaAreRefused) {
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:0b0d4bb4-7f4c-4f43-9a8e-6a2c1d3e5f21","resource":)" +
      patient_json("mrn-bad") +
      R"(,"request":{"method":"POST","url":"Patient","ifNoneExist":"no-such-param=1"}}]})";
  auto r = server_->send("POST", "/fhir", bundle);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(body_json(r).find("issue"), nullptr);
  EXPECT_TRUE(search_ids("Patient?identifier=urn:tx:mrn|mrn-bad").empty());
}

TEST_P(TransactionTest, ADeletionInTheSameTransactionComesBeforeTheMatch) {
  // DELETE runs before POST (FHIR R4 http.html#trules): the deleted Patient no longer matches,
  // so the conditional create makes a new one and the references follow it.
  std::string old_id = create_patient("mrn-del");
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":")" +
      std::string(kUrnPatient) + R"(","resource":)" + patient_json("mrn-del") +
      R"(,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:tx:mrn|mrn-del"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":")" +
      kUrnPatient + R"("}},"request":{"method":"POST","url":"Observation"}},
    {"request":{"method":"DELETE","url":"Patient/)" +
      old_id + R"("}}]})";
  auto r = server_->send("POST", "/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const auto& entries = resp.find("entry")->items();
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "201 Created");
  std::string pid(entries[0].find("resource")->get_string("id"));
  EXPECT_NE(pid, old_id);
  EXPECT_EQ(entries[1].find("resource")->find("subject")->get_string("reference"),
            "Patient/" + pid);
  EXPECT_EQ(server_->get("/fhir/Patient/" + old_id).status, 410);
}

// FHIR R4 http.html#trules: GET entries are processed after the writes, so they read what the
// transaction made: by the new id of a PUT, and by the urn:uuid fullUrl of a POST (rewritten as
// every matching urn in the Bundle is).
TEST_P(TransactionTest, GetEntriesReadWhatTheTransactionWrote) {
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":")" +
      std::string(kUrnPatient) + R"("}},
    {"request":{"method":"GET","url":"Encounter/enc-read"}},
    {"fullUrl":")" +
      kUrnPatient + R"(","resource":)" + patient_json("mrn-read") +
      R"(,"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Encounter","id":"enc-read","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":")" +
      kUrnPatient + R"("}},"request":{"method":"PUT","url":"Encounter/enc-read"}}]})";
  auto r = server_->send("POST", "/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const json::Value* list = resp.find("entry");
  ASSERT_NE(list, nullptr);
  const auto& entries = list->items();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[2].find("response")->get_string("status"), "201 Created");
  std::string pid(entries[2].find("resource")->get_string("id"));
  // The GET of the urn:uuid reads the Patient the POST created, under its new id.
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "200 OK") << r.body;
  ASSERT_NE(entries[0].find("resource"), nullptr) << r.body;
  EXPECT_EQ(entries[0].find("resource")->get_string("id"), pid);
  EXPECT_NE(std::string(entries[0].get_string("fullUrl")).find("/Patient/" + pid),
            std::string::npos);
  // The GET of the PUT's id reads the Encounter as written, its reference rewritten.
  EXPECT_EQ(entries[1].find("response")->get_string("status"), "200 OK") << r.body;
  ASSERT_NE(entries[1].find("resource"), nullptr) << r.body;
  EXPECT_EQ(entries[1].find("resource")->find("subject")->get_string("reference"),
            "Patient/" + pid);
}

// A GET url that is a urn:uuid no entry of the transaction has as fullUrl fails the transaction
// (400, nothing stored); in a batch, where entries do not refer to each other, it fails that entry.
TEST_P(TransactionTest, AGetOfAnUnknownFullUrlIsRefused) {
  std::string transaction =
      R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":")" +
      std::string(kUrnPatient) + R"(","resource":)" + patient_json("mrn-unknown-urn") +
      R"(,"request":{"method":"POST","url":"Patient"}},
    {"request":{"method":"GET","url":")" +
      kUrnObs + R"("}}]})";
  auto r = server_->send("POST", "/fhir", transaction);
  EXPECT_EQ(r.status, 400) << r.body;
  json::Value oo = body_json(r);
  EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(issue_expression(oo), "Bundle.entry[1].request.url");
  EXPECT_TRUE(search_ids("Patient?identifier=urn:tx:mrn|mrn-unknown-urn").empty());

  std::string batch = transaction;
  batch.replace(batch.find("transaction"), 11, "batch");
  r = server_->send("POST", "/fhir", batch);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const auto& entries = resp.find("entry")->items();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "201 Created");
  EXPECT_EQ(entries[1].find("response")->get_string("status"), "400 Bad Request");
}

INSTANTIATE_TEST_SUITE_P(Stores, TransactionTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// The same with access control on: a backend service whose scope carries a granular filter
// (system/Observation.cruds?category=vital-signs). Its visibility is judged by store queries
// that run outside the transaction, so an Observation written by an earlier entry was not
// found (404) before the GET judged it on its own content.
class TransactionAuthTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_txa");
    if (store_.empty()) return;
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{"--patients", "2"},
                                              std::vector<std::string>{"IPA_TEST_FAST_HASH=1"},
                                              "demo", /*with_auth=*/true, dir_.file("srv"));
    ASSERT_GT(server_->port(), 0);
    key_ = add_backend_client(store_, "vitals-loader",
                              std::string("system/Observation.cruds?category=") + kVitalSigns,
                              dir_.file("loader.jwks.json"));
    ASSERT_NE(key_, nullptr);
  }

  std::string backend_token() {
    auto r =
        client_credentials_token(*server_, *key_, "vitals-loader",
                                 std::string("system/Observation.cruds?category=") + kVitalSigns);
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(body_json(r).get_string("access_token"));
  }

  static std::string vital_sign(const std::string& id) {
    std::string out = R"({"resourceType":"Observation",)";
    if (!id.empty()) out += R"("id":")" + id + R"(",)";
    return out +
           R"("status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"text":"pulse"},"subject":{"reference":"Patient/pat-0001"}})";
  }

  static constexpr const char* kVitalSigns =
      "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs";

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<jose::Key> key_;
};

TEST_P(TransactionAuthTest, GetEntriesSeeWritesUnderGranularScopes) {
  std::string token = backend_token();
  ASSERT_FALSE(token.empty());
  auto post = [&](const std::string& bundle) {
    return server_->send(
        "POST", "/fhir", bundle,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/fhir+json"}});
  };
  // By the id a PUT gave it.
  auto r = post(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":"Observation/obs-tx-granular"}},
    {"resource":)" +
                vital_sign("obs-tx-granular") +
                R"(,"request":{"method":"PUT","url":"Observation/obs-tx-granular"}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  const auto& entries = resp.find("entry")->items();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "200 OK");
  ASSERT_NE(entries[0].find("resource"), nullptr) << r.body;
  EXPECT_EQ(entries[0].find("resource")->get_string("id"), "obs-tx-granular");
  // By the urn:uuid of a POST.
  r = post(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":")" +
           std::string(kUrnObs) + R"("}},
    {"fullUrl":")" +
           kUrnObs + R"(","resource":)" + vital_sign("") +
           R"(,"request":{"method":"POST","url":"Observation"}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp2 = body_json(r);
  const auto& entries2 = resp2.find("entry")->items();
  ASSERT_EQ(entries2.size(), 2u);
  EXPECT_EQ(entries2[0].find("response")->get_string("status"), "200 OK");
  ASSERT_NE(entries2[0].find("resource"), nullptr) << r.body;
  EXPECT_EQ(entries2[0].find("resource")->get_string("id"),
            entries2[1].find("resource")->get_string("id"));
}

INSTANTIATE_TEST_SUITE_P(Stores, TransactionAuthTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipa::testing
