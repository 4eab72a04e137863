#include "client/record.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/testing.h"
#include "client/url.h"

namespace ipa::client {
namespace {

namespace fs = std::filesystem;
using testing::FakeTransport;
using testing::json_response;
using testing::Sent;

const std::string kBase = "https://ehr.example/fhir";

std::string bundle(const std::string& self, const std::vector<std::string>& resources,
                   const std::string& next = "") {
  std::string out =
      R"({"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":")" + self +
      "\"}";
  if (!next.empty()) out += R"(,{"relation":"next","url":")" + next + "\"}";
  out += R"(],"entry":[)";
  for (size_t i = 0; i < resources.size(); ++i) {
    out += (i ? "," : "") + std::string(R"({"search":{"mode":"match"},"resource":)") +
           resources[i] + "}";
  }
  return out + "]}";
}

std::string obs(const std::string& id, const std::string& patient, const std::string& cat) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":")" +
         cat + R"("}]}],"subject":{"reference":"Patient/)" + patient +
         R"("},"effectiveDateTime":"2020-0)" + id.substr(1, 1) + "-01\"}";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int lines(const std::string& path) {
  std::string s = slurp(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (fs::temp_directory_path() / ("ipa-client-record-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    profile_.base = kBase;
    profile_.patient = "p1";
    profile_.access_token = "AT1";
    profile_.refresh_token = "RT1";
    profile_.granted_scope =
        "launch/patient patient/Patient.rs patient/Observation.rs patient/Condition.rs "
        "patient/AllergyIntolerance.rs patient/MedicationRequest.rs "
        "patient/DocumentReference.rs patient/Immunization.rs";
    config_.token_endpoint = "https://ehr.example/auth/token";

    t_.on_json("GET " + kBase + "/Patient/p1", 200,
               R"({"resourceType":"Patient","id":"p1","name":[{"given":["Ana"],"family":"Silva"}],)"
               R"("birthDate":"1980-02-03","identifier":[{"system":"urn:mrn","value":"42"}],)"
               R"("link":[{"other":{"reference":"Patient/p0"},"type":"replaces"}]})");
    t_.on("GET " + kBase + "/Observation?*", [](const Sent& s) {
      if (s.url.find("laboratory") == std::string::npos) {
        return json_response(200, bundle(s.url, {}));
      }
      return json_response(200, bundle(s.url, {obs("o1", "p1", "laboratory")},
                                       kBase + "/Observation?_cursor=page2"));
    });
    t_.on_json(
        "GET " + kBase + "/Observation?_cursor=page2", 200,
        bundle(kBase + "/Observation?patient=p1&category=x", {obs("o2", "p1", "laboratory")}));
    t_.on_json(
        "GET " + kBase + "/Condition?patient=p1", 403,
        R"({"resourceType":"OperationOutcome","issue":[{"code":"forbidden","diagnostics":"no"}]})");
    // This server ignores `patient`: its self link lacks it and it returns someone else's too.
    t_.on_json(
        "GET " + kBase + "/AllergyIntolerance?patient=p1", 200,
        bundle(
            kBase + "/AllergyIntolerance",
            {R"({"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/p1"}})",
             R"({"resourceType":"AllergyIntolerance","id":"a2","patient":{"reference":"Patient/p9"}})"}));
    t_.on_json(
        "GET " + kBase + "/MedicationRequest?patient=p1", 200,
        bundle(
            kBase + "/MedicationRequest?patient=p1",
            {R"({"resourceType":"MedicationRequest","id":"m1","subject":{"reference":"Patient/p1"},)"
             R"("medicationReference":{"reference":"Medication/med1"},)"
             R"("requester":{"reference":"https://ehr.example/fhir/PractitionerRole/r1"},)"
             R"("performer":{"reference":"https://elsewhere.example/Practitioner/x"}})"}));
    t_.on_json("GET " + kBase + "/Medication/med1", 200,
               R"({"resourceType":"Medication","id":"med1"})");
    t_.on_json(
        "GET " + kBase + "/PractitionerRole/r1", 200,
        R"({"resourceType":"PractitionerRole","id":"r1","practitioner":{"reference":"Practitioner/pr1"}})");
    t_.on_json("GET " + kBase + "/Practitioner/pr1", 200,
               R"({"resourceType":"Practitioner","id":"pr1"})");
    t_.on_json(
        "GET " + kBase + "/DocumentReference?patient=p1", 200,
        bundle(
            kBase + "/DocumentReference?patient=p1",
            {R"({"resourceType":"DocumentReference","id":"d1","subject":{"reference":"Patient/p1"},)"
             R"("content":[{"attachment":{"contentType":"text/plain","url":"Binary/b1"}},)"
             R"({"attachment":{"contentType":"application/pdf","url":"https://cdn.example/d.pdf"}}]})"}));
    t_.on("GET " + kBase + "/Binary/b1", [](const Sent&) {
      ClientResponse r;
      r.status = 200;
      r.body = "note text";
      return r;
    });
    t_.on("GET https://cdn.example/d.pdf", [](const Sent&) {
      ClientResponse r;
      r.status = 200;
      r.body = "%PDF";
      return r;
    });
    // The first Immunization search meets an expired token.
    t_.on("GET " + kBase + "/Immunization?patient=p1", [](const Sent& s) {
      if (s.header("Authorization") != "Bearer AT2") return json_response(401, "{}");
      return json_response(
          200,
          bundle(
              s.url,
              {R"({"resourceType":"Immunization","id":"i1","patient":{"reference":"Patient/p1"}})"}));
    });
    t_.on("POST https://ehr.example/auth/token", [this](const Sent& s) {
      ++refresh_calls_;
      EXPECT_EQ(field(parse_query(s.body), "refresh_token"), "RT1");
      return json_response(
          200,
          R"({"access_token":"AT2","token_type":"Bearer","refresh_token":"RT2","expires_in":60})");
    });
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  Profile profile_;
  SmartConfig config_;
  FakeTransport t_;
  int refresh_calls_ = 0;
};

TEST_F(RecordTest, FetchesTheWholeRecord) {
  int persisted = 0;
  Session s(
      t_, config_, ClientCredentials{"app", nullptr}, profile_,
      [&](const Profile& p) {
        ++persisted;
        EXPECT_EQ(p.refresh_token, "RT2");
        return core::Status();
      },
      [] { return int64_t{1000}; });
  std::ostringstream progress;
  auto r = fetch_record(s, profile_, {}, dir_, progress);
  ASSERT_TRUE(r.ok()) << r.error().diagnostics;
  EXPECT_NE(progress.str().find("Patient p1: Ana Silva, born 1980-02-03"), std::string::npos);
  EXPECT_NE(progress.str().find("urn:mrn|42"), std::string::npos);

  EXPECT_EQ(r->counts["Patient"], 1);
  EXPECT_EQ(r->counts["Observation"], 2);         // both pages
  EXPECT_EQ(r->counts["AllergyIntolerance"], 1);  // filtered on the client side
  EXPECT_EQ(r->counts["Immunization"], 1);        // after one refresh
  EXPECT_EQ(r->counts["Medication"], 1);
  EXPECT_EQ(r->counts["PractitionerRole"], 1);
  EXPECT_EQ(r->counts["Practitioner"], 1);  // followed from the PractitionerRole
  EXPECT_FALSE(r->counts.contains("Condition"));
  EXPECT_EQ(refresh_calls_, 1);
  EXPECT_EQ(persisted, 1);
  EXPECT_EQ(profile_.access_token, "AT2");
  EXPECT_EQ(profile_.refresh_token, "RT2");

  for (const auto& [type, n] : r->counts) {
    EXPECT_EQ(lines(dir_ + "/" + type + ".ndjson"), n) << type;
  }
  const json::Value& sum = r->summary;
  EXPECT_EQ(*sum.find("counts")->find("Observation")->as_int(), 2);
  EXPECT_EQ(json::write(*sum.find("not_granted")), R"(["MedicationStatement"])");
  ASSERT_EQ(sum.find("errors")->items().size(), 1u);
  EXPECT_EQ(sum.find("errors")->items()[0].get_string("type"), "Condition");
  EXPECT_EQ(*sum.find("errors")->items()[0].find("status")->as_int(), 403);
  EXPECT_NE(json::write(*sum.find("warnings")).find("ignored the parameter 'patient'"),
            std::string::npos);
  EXPECT_EQ(json::write(*sum.find("external_references")),
            R"(["https://elsewhere.example/Practitioner/x"])");
  EXPECT_EQ(sum.find("date_range")->get_string("start"), "2020-01-01");
  EXPECT_EQ(sum.find("date_range")->get_string("end"), "2020-02-01");
  EXPECT_NE(json::write(*sum.find("linked_records")).find("Patient/p0"), std::string::npos);

  // C8: the token goes to the server only, never to the CDN.
  for (const Sent& sent : t_.sent) {
    if (sent.url.rfind("https://cdn.example/", 0) == 0) {
      EXPECT_EQ(sent.header("Authorization"), "") << sent.url;
    } else if (sent.url.rfind(kBase, 0) == 0) {
      EXPECT_NE(sent.header("Authorization"), "") << sent.url;
    }
    EXPECT_EQ(sent.url.find("elsewhere.example"), std::string::npos);
  }
  EXPECT_EQ(slurp(dir_ + "/attachments/d1-1.txt"), "note text");
  EXPECT_EQ(slurp(dir_ + "/attachments/d1-2.pdf"), "%PDF");

  auto b = json::parse(slurp(dir_ + "/bundle.json"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->get_string("type"), "collection");
  EXPECT_EQ(b->find("entry")->items().size(), 10u);
}

TEST_F(RecordTest, AFailedRefreshStopsWithAClearMessage) {
  t_.on_json("POST https://ehr.example/auth/token", 400, R"({"error":"invalid_grant"})");
  Session s(t_, config_, ClientCredentials{"app", nullptr}, profile_, nullptr,
            [] { return int64_t{1000}; });
  std::ostringstream progress;
  auto r = fetch_record(s, profile_, {}, dir_, progress);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_NE(r.error().diagnostics.find("sign in again"), std::string::npos);
}

TEST_F(RecordTest, AMissingNextPageIsReportedAndTheRestGoesOn) {
  t_.on_json("GET " + kBase + "/Observation?_cursor=page2", 404, "{}");
  Session s(t_, config_, ClientCredentials{"app", nullptr}, profile_, nullptr,
            [] { return int64_t{1000}; });
  std::ostringstream progress;
  auto r = fetch_record(s, profile_, {"Patient", "Observation", "Immunization"}, dir_, progress);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counts["Observation"], 1);
  EXPECT_EQ(r->counts["Immunization"], 1);
  std::string errors = json::write(*r->summary.find("errors"));
  EXPECT_NE(errors.find("a next page failed"), std::string::npos) << errors;
  EXPECT_NE(json::write(*r->summary.find("not_supported")).find("Condition"), std::string::npos);
}

TEST(ClientGrant, TypeAccessFollowsV1V2AndGranularScopes) {
  EXPECT_TRUE(type_access("patient/*.rs", "Condition").search);
  EXPECT_TRUE(type_access("patient/*.read", "Condition").search);
  EXPECT_TRUE(type_access("user/Condition.s", "Condition").search);
  EXPECT_FALSE(type_access("patient/Condition.r", "Condition").search);
  EXPECT_FALSE(type_access("patient/Observation.rs openid", "Condition").search);
  TypeAccess g = type_access(
      "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
      "observation-category|laboratory",
      "Observation");
  EXPECT_TRUE(g.search);
  ASSERT_EQ(g.queries.size(), 1u);
  EXPECT_TRUE(
      type_access("patient/Observation.rs?category=x patient/*.rs", "Observation").queries.empty());
}

}  // namespace
}  // namespace ipa::client
