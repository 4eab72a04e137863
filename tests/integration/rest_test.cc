// FHIR REST interactions through the real server on a loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "harness.h"

namespace ipa::testing {
namespace {

const char* kPatient =
    R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"12345"}],"active":true,"name":[{"family":"Müller","given":["Jörg"],"text":"Jörg Müller"}],"gender":"male","birthDate":"1974-12-25"})";

class RestTest : public ::testing::Test {
 protected:
  TempDir dir_;
  ServerProcess server_{dir_.file("ipa.db")};

  std::string create_patient(const std::string& body = kPatient) {
    auto r = server_.send("POST", "/fhir/Patient", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(body_json(r).get_string("id"));
  }
};

TEST_F(RestTest, MetadataIsAnInstanceStatementInstantiatingIpa) {
  auto r = server_.get("/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").find("application/fhir+json"), std::string::npos);
  json::Value cs = body_json(r);
  EXPECT_EQ(cs.get_string("resourceType"), "CapabilityStatement");
  EXPECT_EQ(cs.get_string("kind"), "instance");
  EXPECT_EQ(cs.get_string("fhirVersion"), "4.0.1");
  EXPECT_EQ(cs.get_string("status"), "active");
  EXPECT_FALSE(cs.get_string("date").empty());
  EXPECT_EQ(cs.find("instantiates")->items()[0].text(),
            "http://hl7.org/fhir/uv/ipa/CapabilityStatement/ipa-server");
  EXPECT_EQ(cs.find("implementation")->get_string("url"), server_.base());
  const json::Value& rest = cs.find("rest")->items()[0];
  EXPECT_EQ(rest.get_string("mode"), "server");
  bool patient = false, observation = false;
  for (const auto& res : rest.find("resource")->items()) {
    if (res.get_string("type") == "Patient") {
      patient = true;
      EXPECT_EQ(res.find("supportedProfile")->items()[0].text(),
                "http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-patient");
    }
    if (res.get_string("type") == "Observation") {
      observation = true;
      bool category = false;
      for (const auto& sp : res.find("searchParam")->items()) {
        if (sp.get_string("name") == "category") {
          category = true;
          EXPECT_EQ(sp.get_string("type"), "token");
          EXPECT_EQ(sp.get_string("definition"),
                    "http://hl7.org/fhir/SearchParameter/Observation-category");
        }
      }
      EXPECT_TRUE(category);
      EXPECT_EQ(res.find("searchRevInclude")->items()[0].text(), "Provenance:target");
      EXPECT_EQ(res.find("supportedProfile")->items()[1].text(),
                "http://hl7.org/fhir/StructureDefinition/vitalsigns");
    }
  }
  EXPECT_TRUE(patient && observation);
  EXPECT_GE(rest.find("resource")->items().size(), 140u);
}

TEST_F(RestTest, CreateThenReadReturnsTheResourceWithVersionHeaders) {
  auto created = server_.send("POST", "/fhir/Patient", kPatient);
  ASSERT_EQ(created.status, 201) << created.body;
  json::Value p = body_json(created);
  std::string id(p.get_string("id"));
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(created.header("Location"), server_.base() + "/Patient/" + id + "/_history/1");
  EXPECT_EQ(created.header("ETag"), "W/\"1\"");
  EXPECT_FALSE(created.header("Last-Modified").empty());
  EXPECT_EQ(p.find("meta")->get_string("versionId"), "1");

  auto read = server_.get("/fhir/Patient/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body, created.body);
  EXPECT_EQ(read.header("ETag"), "W/\"1\"");
  EXPECT_EQ(body_json(read).find("name")->items()[0].get_string("family"), "Müller");
}

TEST_F(RestTest, UnknownIdIs404WithOperationOutcome) {
  auto r = server_.get("/fhir/Patient/does-not-exist");
  EXPECT_EQ(r.status, 404);
  json::Value oo = body_json(r);
  EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(issue_code(oo), "not-found");
  EXPECT_EQ(server_.get("/fhir/NotAType/1").status, 404);
  EXPECT_EQ(server_.get("/fhir/Patient/bad_id!").status, 400);
}

TEST_F(RestTest, DecimalsKeepTheirPrecision) {
  auto r = server_.send(
      "POST", "/fhir/Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"mmol/L"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find("\"value\":1.50"), std::string::npos) << r.body;
}

TEST_F(RestTest, UpdateIfMatchVreadAndDelete) {
  std::string id = create_patient();
  std::string v2 = std::string(kPatient).insert(1, "\"id\":\"" + id + "\",");
  v2.replace(v2.find("\"active\":true"), 13, "\"active\":false");

  auto stale = server_.send("PUT", "/fhir/Patient/" + id, v2, {{"If-Match", "W/\"9\""}});
  EXPECT_EQ(stale.status, 412);
  auto updated = server_.send("PUT", "/fhir/Patient/" + id, v2, {{"If-Match", "W/\"1\""}});
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.header("ETag"), "W/\"2\"");

  auto v1 = server_.get("/fhir/Patient/" + id + "/_history/1");
  ASSERT_EQ(v1.status, 200);
  EXPECT_EQ(body_json(v1).find("active")->as_bool(), true);
  EXPECT_EQ(server_.get("/fhir/Patient/" + id + "/_history/3").status, 404);

  auto del = server_.send("DELETE", "/fhir/Patient/" + id, "");
  EXPECT_EQ(del.status, 204);
  auto gone = server_.get("/fhir/Patient/" + id);
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(issue_code(body_json(gone)), "deleted");
}

TEST_F(RestTest, UpdateCreatesWithClientIdAndChecksTheBodyId) {
  std::string body = std::string(kPatient).insert(1, R"("id":"client-chosen",)");
  auto r = server_.send("PUT", "/fhir/Patient/client-chosen", body);
  EXPECT_EQ(r.status, 201) << r.body;
  auto mismatch = server_.send("PUT", "/fhir/Patient/other", body);
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(issue_expression(body_json(mismatch)), "Patient.id");
  auto missing = server_.send("PUT", "/fhir/Patient/x1", kPatient);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(server_.get("/fhir/Patient/other").status, 404);
}

TEST_F(RestTest, ConditionalReadAnswers304) {
  std::string id = create_patient();
  auto r = server_.get("/fhir/Patient/" + id);
  EXPECT_EQ(server_.get("/fhir/Patient/" + id, {{"If-None-Match", "W/\"1\""}}).status, 304);
  EXPECT_EQ(server_.get("/fhir/Patient/" + id, {{"If-None-Match", "W/\"0\""}}).status, 200);
  EXPECT_EQ(
      server_.get("/fhir/Patient/" + id, {{"If-Modified-Since", r.header("Last-Modified")}}).status,
      304);
  EXPECT_EQ(
      server_.get("/fhir/Patient/" + id, {{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}})
          .status,
      200);
}

TEST_F(RestTest, PreferReturn) {
  auto minimal = server_.send("POST", "/fhir/Patient", kPatient, {{"Prefer", "return=minimal"}});
  EXPECT_EQ(minimal.status, 201);
  EXPECT_TRUE(minimal.body.empty());
  EXPECT_FALSE(minimal.header("Location").empty());
  auto oo =
      server_.send("POST", "/fhir/Patient", kPatient, {{"Prefer", "return=OperationOutcome"}});
  EXPECT_EQ(oo.status, 201);
  EXPECT_EQ(body_json(oo).get_string("resourceType"), "OperationOutcome");
}

TEST_F(RestTest, PrettySummaryAndElements) {
  std::string id = create_patient();
  auto pretty = server_.get("/fhir/Patient/" + id + "?_pretty=true");
  EXPECT_NE(pretty.body.find("\n  \"id\""), std::string::npos);
  auto elements = body_json(server_.get("/fhir/Patient/" + id + "?_elements=gender,birthDate"));
  EXPECT_EQ(elements.get_string("gender"), "male");
  EXPECT_EQ(elements.find("name"), nullptr);
  EXPECT_EQ(elements.find("meta")->find("tag")->items()[0].get_string("code"), "SUBSETTED");
  auto summary = body_json(server_.get("/fhir/Patient/" + id + "?_summary=true"));
  EXPECT_NE(summary.find("name"), nullptr);  // Patient.name is a summary element
  EXPECT_NE(summary.find("birthDate"), nullptr);
  auto text = body_json(server_.get("/fhir/Patient/" + id + "?_summary=text"));
  EXPECT_EQ(text.find("name"), nullptr);
  auto data = body_json(server_.get("/fhir/Patient/" + id + "?_summary=data"));
  EXPECT_NE(data.find("name"), nullptr);
  EXPECT_EQ(server_.get("/fhir/Patient/" + id + "?_summary=bogus").status, 400);
}

TEST_F(RestTest, ContentNegotiation) {
  for (const char* accept :
       {"*/*", "application/*", "application/json", "application/fhir+json",
        "application/fhir+json; fhirVersion=4.0", "application/fhir+json; charset=utf-8",
        "application/fhir+xml;q=0.5, application/fhir+json;q=0.9"}) {
    SCOPED_TRACE(accept);
    auto r = server_.get("/fhir/metadata", {{"Accept", accept}});
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.header("Content-Type").find("application/fhir+json"), std::string::npos);
  }
  EXPECT_EQ(server_.get("/fhir/metadata?_format=json").status, 200);
  EXPECT_EQ(server_.get("/fhir/metadata", {{"Accept", "application/fhir+xml"}}).status, 406);
  EXPECT_EQ(server_.get("/fhir/metadata?_format=xml").status, 406);
  auto wrong_type =
      server_.send("POST", "/fhir/Patient", kPatient, {{"Content-Type", "application/xml"}});
  EXPECT_EQ(wrong_type.status, 415);
}

TEST_F(RestTest, BinaryReadServesRawBytesSafely) {
  auto r = server_.send(
      "PUT", "/fhir/Binary/b1",
      R"({"resourceType":"Binary","id":"b1","contentType":"text/html","data":"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto raw = server_.get("/fhir/Binary/b1", {{"Accept", "text/html"}});
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, "<script>alert(1)</script>");
  EXPECT_EQ(raw.header("Content-Type"), "text/html");
  EXPECT_EQ(raw.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(raw.header("Content-Security-Policy"), "sandbox");
  EXPECT_EQ(raw.header("Content-Disposition"), "attachment");
  auto fhir = server_.get("/fhir/Binary/b1", {{"Accept", "application/fhir+json"}});
  EXPECT_EQ(body_json(fhir).get_string("resourceType"), "Binary");
}

TEST_F(RestTest, HistoryInstanceTypeSystemPagedAndSince) {
  std::string id = create_patient();
  std::string body = std::string(kPatient).insert(1, "\"id\":\"" + id + "\",");
  ASSERT_EQ(server_.send("PUT", "/fhir/Patient/" + id, body).status, 200);
  ASSERT_EQ(server_.send("DELETE", "/fhir/Patient/" + id, "").status, 204);
  for (int i = 0; i < 4; ++i) create_patient();

  json::Value h = body_json(server_.get("/fhir/Patient/" + id + "/_history"));
  EXPECT_EQ(h.get_string("type"), "history");
  ASSERT_EQ(h.find("entry")->items().size(), 3u);
  EXPECT_EQ(h.find("entry")->items()[0].find("request")->get_string("method"), "DELETE");
  EXPECT_EQ(h.find("entry")->items()[2].find("request")->get_string("method"), "POST");

  std::set<std::string> seen;
  std::string next = "/fhir/Patient/_history?_count=2";
  int pages = 0;
  while (!next.empty() && pages < 10) {
    json::Value page = body_json(server_.get(next));
    EXPECT_EQ(page.find("total")->as_int(), 7);
    for (const auto& e : page.find("entry")->items()) {
      seen.insert(std::string(e.get_string("fullUrl")) +
                  std::string(e.find("response")->get_string("etag")));
    }
    next.clear();
    for (const auto& l : page.find("link")->items()) {
      if (l.get_string("relation") == "next") {
        next = std::string(l.get_string("url")).substr(server_.base().size() - 5);
      }
    }
    ++pages;
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen.size(), 7u);
  json::Value sys = body_json(server_.get("/fhir/_history?_since=2000-01-01T00:00:00Z"));
  EXPECT_EQ(sys.find("total")->as_int(), 7);
  json::Value none = body_json(server_.get("/fhir/_history?_since=2999-01-01T00:00:00Z"));
  EXPECT_EQ(none.find("total")->as_int(), 0);
  EXPECT_EQ(server_.get("/fhir/_history?_since=yesterday").status, 400);
  EXPECT_EQ(server_.get("/fhir/_history?_count=x").status, 400);
}

TEST_F(RestTest, ConditionalCreateMakesNoDuplicates) {
  std::vector<http::Header> h = {
      {"If-None-Exist", "identifier=urn:oid:1.2.36.146.595.217.0.1|12345"}};
  auto first = server_.send("POST", "/fhir/Patient", kPatient, h);
  ASSERT_EQ(first.status, 201);
  auto second = server_.send("POST", "/fhir/Patient", kPatient, h);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(body_json(second).get_string("id"), body_json(first).get_string("id"));
  auto unsupported =
      server_.send("POST", "/fhir/Patient", kPatient, {{"If-None-Exist", "frobnicate=1"}});
  EXPECT_EQ(unsupported.status, 400);
}

TEST_F(RestTest, ConcurrentConditionalCreatesMakeExactlyOne) {
  std::string body = std::string(kPatient);
  body.replace(body.find("12345"), 5, "race-1");
  std::atomic<int> created{0};
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = http::request(
          server_.port(), "POST", "/fhir/Patient",
          {{"Content-Type", "application/fhir+json"}, {"If-None-Exist", "identifier=race-1"}},
          body);
      if (r.ok() && r->status == 201) ++created;
      if (r.ok() && r->status == 200) ++found;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(found.load(), 15);
}

TEST_F(RestTest, TransactionRewritesUrnUuidReferences) {
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":)" +
                       std::string(kPatient) + R"(,"request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059","resource":{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},"request":{"method":"POST","url":"Observation"}}]})";
  auto r = server_.send("POST", "/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value resp = body_json(r);
  EXPECT_EQ(resp.get_string("type"), "transaction-response");
  const auto& entries = resp.find("entry")->items();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "201 Created");
  std::string pid(entries[0].find("resource")->get_string("id"));
  std::string oid(entries[1].find("resource")->get_string("id"));
  json::Value obs = body_json(server_.get("/fhir/Observation/" + oid));
  EXPECT_EQ(obs.find("subject")->get_string("reference"), "Patient/" + pid);
}

TEST_F(RestTest, TransactionIsAllOrNothing) {
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"tx-a","active":true},"request":{"method":"PUT","url":"Patient/tx-a"}},
    {"resource":{"resourceType":"Patient","id":"tx-b","active":true},"request":{"method":"PUT","url":"Patient/tx-b"},"request2":1}]})";
  auto r = server_.send("POST", "/fhir", bundle);
  EXPECT_EQ(r.status, 400) << r.body;
  std::string bundle2 = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"tx-a","active":true},"request":{"method":"PUT","url":"Patient/tx-a"}},
    {"resource":{"resourceType":"Patient","id":"tx-b","active":true},"request":{"method":"PUT","url":"Patient/tx-b","ifMatch":"W/\"4\""}}]})";
  auto r2 = server_.send("POST", "/fhir", bundle2);
  EXPECT_EQ(r2.status, 412) << r2.body;
  EXPECT_NE(issue_expression(body_json(r2)).find("Bundle.entry[1]"), std::string::npos);
  EXPECT_EQ(server_.get("/fhir/Patient/tx-a").status, 404);
  EXPECT_EQ(server_.get("/fhir/Patient/tx-b").status, 404);
}

TEST_F(RestTest, BatchRunsEntriesIndependently) {
  std::string bundle = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"ba-a","active":true},"request":{"method":"PUT","url":"Patient/ba-a"}},
    {"resource":{"resourceType":"Patient","id":"ba-b","active":"yes"},"request":{"method":"PUT","url":"Patient/ba-b"}},
    {"request":{"method":"GET","url":"Patient/ba-a"}}]})";
  auto r = server_.send("POST", "/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value first_bundle = body_json(r);
  const auto& first = first_bundle.find("entry")->items();
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].find("response")->get_string("status"), "201 Created");
  EXPECT_EQ(first[1].find("response")->get_string("status"), "400 Bad Request");
  EXPECT_EQ(issue_expression(*first[1].find("response")->find("outcome")), "Patient.active");
  EXPECT_EQ(first[2].find("response")->get_string("status"), "200 OK");
  EXPECT_EQ(server_.get("/fhir/Patient/ba-b").status, 404);
  std::string good = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"ba-a","active":true},"request":{"method":"PUT","url":"Patient/ba-a"}},
    {"resource":{"resourceType":"Patient","id":"ba-b","active":true},"request":{"method":"PUT","url":"Patient/ba-b","ifMatch":"W/\"3\""}},
    {"request":{"method":"GET","url":"Patient/ba-a"}}]})";
  auto r2 = server_.send("POST", "/fhir", good);
  ASSERT_EQ(r2.status, 200) << r2.body;
  json::Value bundle2 = body_json(r2);
  const auto& entries = bundle2.find("entry")->items();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].find("response")->get_string("status"), "200 OK");
  EXPECT_EQ(entries[1].find("response")->get_string("status"), "412 Precondition Failed");
  EXPECT_EQ(entries[2].find("response")->get_string("status"), "200 OK");
  EXPECT_EQ(server_.get("/fhir/Patient/ba-a").status, 200);
  EXPECT_EQ(server_.get("/fhir/Patient/ba-b").status, 404);
}

TEST_F(RestTest, LivenessAndReadiness) {
  EXPECT_EQ(server_.get("/livez").status, 200);
  EXPECT_EQ(server_.get("/readyz").status, 200);
}

TEST_F(RestTest, RequestLogHasNoQueryValues) {
  server_.get("/fhir/Patient/x?secret-value=abc123");
  std::string log;
  for (int i = 0; i < 200; ++i) {  // the line is written just after the response
    log = server_.log();
    if (log.find("path=/fhir/Patient/x") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(log.find("path=/fhir/Patient/x"), std::string::npos) << log;
  EXPECT_EQ(log.find("abc123"), std::string::npos) << log;
  EXPECT_NE(log.find("access control is OFF"), std::string::npos);
}

}  // namespace
}  // namespace ipa::testing
