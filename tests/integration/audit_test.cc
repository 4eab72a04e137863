// The audit trail through the real server, on SQLite and on PostgreSQL: a standalone launch and
// FHIR reads land in the trail (asynchronously; the tests poll with a deadline), the patient
// reads them back as AuditEvent resources about their own record only, newest first and paged,
// filtered by date; writes to AuditEvent are refused; SIGTERM writes what is still queued; no
// token, code, password or search value is ever stored.
#include <gtest/gtest.h>
#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <set>
#include <thread>

#include "client/discovery.h"
#include "client/oauth.h"
#include "client/transport.h"
#include "harness.h"
#include "pg_harness.h"
#include "store_helpers.h"

namespace ipa::testing {
namespace {

constexpr const char* kPassword = "ipa-demo";
constexpr const char* kRedirect = "http://127.0.0.1:1/callback";

// The client library's transport, except that the final redirect to the app is answered here
// (no app listens on the redirect URI).
class AppTransport final : public client::Transport {
 public:
  AppTransport() : curl_(client::curl_transport()) {}
  core::Result<http::ClientResponse> send(const std::string& method, const std::string& url,
                                          const std::vector<http::Header>& headers,
                                          const std::string& body) override {
    if (url.rfind(kRedirect, 0) == 0) {
      http::ClientResponse r;
      r.status = 200;
      return r;
    }
    return curl_->send(method, url, headers, body);
  }

 private:
  std::unique_ptr<client::Transport> curl_;
};

std::string url_param(const std::string& url, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(url, m, std::regex("[?&]" + name + "=([^&]*)"))) return "";
  return m[1].str();
}

struct Tokens {
  std::string access_token;
  std::string refresh_token;
  std::string code;
};

class AuditTest : public BackendTest {
 protected:
  void SetUp() override { use_backend("ipa_audit"); }

  void start(std::vector<std::string> env = {}) {
    env.push_back("IPA_TEST_FAST_HASH=1");
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{"--patients", "6"},
                                              env, "demo", /*with_auth=*/true, dir_.file("srv"));
  }

  // A standalone launch of demo-public through the documented form contract.
  Tokens launch(const std::string& user, const std::string& scope) {
    AppTransport t;
    auto doc = t.send("GET", server_->base() + "/.well-known/smart-configuration", {}, "");
    EXPECT_TRUE(doc.ok());
    client::SmartConfig config = client::parse_smart_config(body_json(*doc));
    auto req =
        client::build_authorize_request(config, server_->base(), "demo-public", kRedirect, scope);
    auto back = client::drive_form_login(t, req.url, {user, kPassword, user, {}});
    EXPECT_TRUE(back.ok()) << back.error().diagnostics;
    Tokens out;
    if (!back.ok()) return out;
    out.code = url_param(*back, "code");
    client::ClientCredentials creds;
    creds.client_id = "demo-public";
    auto tok = client::exchange_code(t, config, creds, out.code, kRedirect, req.code_verifier,
                                     std::time(nullptr));
    EXPECT_TRUE(tok.ok()) << tok.error().diagnostics;
    if (!tok.ok()) return out;
    out.access_token = tok->access_token;
    out.refresh_token = tok->refresh_token;
    return out;
  }

  http::ClientResponse api(const std::string& token, const std::string& path,
                           const std::string& method = "GET", const std::string& body = "") {
    std::vector<http::Header> h = {{"Authorization", "Bearer " + token}};
    if (method == "GET") return server_->get(path, h);
    h.push_back({"Content-Type", "application/fhir+json"});
    return server_->send(method, path, body, h);
  }

  // Polls the patient's AuditEvent search until `pred` holds for its entries (deadline 15 s).
  // The trail is written every ~150 ms by another thread: a poll, not a fixed sleep.
  json::Value poll(const std::string& token, const std::string& query,
                   const std::function<bool(const json::Value& bundle)>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    json::Value last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = api(token, "/fhir/AuditEvent?" + query);
      EXPECT_EQ(r.status, 200) << r.body;
      last = body_json(r);
      if (pred(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "the audit trail did not show the expected events in time";
    return last;
  }

  std::unique_ptr<ServerProcess> server_;
};

std::vector<json::Value> entries(const json::Value& bundle) {
  std::vector<json::Value> out;
  if (const json::Value* e = bundle.find("entry")) {
    for (const json::Value& x : e->items()) out.push_back(*x.find("resource"));
  }
  return out;
}

std::string subtype(const json::Value& ev) {
  return std::string(ev.find("subtype")->items()[0].get_string("code"));
}

// The reference of the entity that is not the patient, or "".
std::string entity_what(const json::Value& ev, size_t i) {
  const json::Value* list = ev.find("entity");
  if (list == nullptr || list->items().size() <= i) return "";
  const json::Value* what = list->items()[i].find("what");
  return what ? std::string(what->get_string("reference")) : "";
}

bool has_event(const json::Value& bundle, const std::string& sub, const std::string& what) {
  for (const json::Value& ev : entries(bundle)) {
    if (subtype(ev) == sub && (what.empty() || entity_what(ev, 1) == what)) return true;
  }
  return false;
}

TEST_P(AuditTest, LaunchAndReadsAreRecordedForThePatient) {
  start();
  Tokens a = launch("pat-0003", "launch/patient openid fhirUser patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  EXPECT_EQ(api(a.access_token, "/fhir/Patient/pat-0003").status, 200);
  EXPECT_EQ(api(a.access_token, "/fhir/Observation?patient=pat-0003&category=vital-signs").status,
            200);
  json::Value b = poll(a.access_token, "patient=pat-0003&_count=100", [](const json::Value& b) {
    return has_event(b, "read", "Patient/pat-0003") && has_event(b, "search-type", "");
  });
  EXPECT_TRUE(has_event(b, "consent", ""));
  EXPECT_TRUE(has_event(b, "token", ""));
  bool search_seen = false;
  for (const json::Value& ev : entries(b)) {
    EXPECT_EQ(ev.get_string("resourceType"), "AuditEvent");
    EXPECT_EQ(entity_what(ev, 0), "Patient/pat-0003");
    EXPECT_FALSE(ev.get_string("recorded").empty());
    EXPECT_FALSE(ev.find("source")->get_string("site").empty());
    const json::Value& app = ev.find("agent")->items()[0];
    EXPECT_EQ(app.find("who")->find("identifier")->get_string("value"), "demo-public");
    if (subtype(ev) == "read") {
      EXPECT_EQ(ev.get_string("action"), "R");
      EXPECT_EQ(ev.get_string("outcome"), "0");
      EXPECT_EQ(ev.find("agent")->items()[1].find("who")->get_string("display"), "pat-0003");
    }
    if (subtype(ev) == "search-type") {
      std::string params(
          ev.find("entity")->items()[1].find("detail")->items()[0].get_string("valueString"));
      if (params == "patient category") search_seen = true;
    }
  }
  EXPECT_TRUE(search_seen) << "the search's parameter names are recorded";
  // Newest first, and a read by id gives the same event.
  auto list = entries(b);
  ASSERT_GE(list.size(), 2u);
  EXPECT_GT(std::stoll(std::string(list[0].get_string("id"))),
            std::stoll(std::string(list[1].get_string("id"))));
  auto one = api(a.access_token, "/fhir/AuditEvent/" + std::string(list[0].get_string("id")));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(body_json(one).get_string("id"), list[0].get_string("id"));
  // The compartment form answers the same.
  auto comp = body_json(api(a.access_token, "/fhir/Patient/pat-0003/AuditEvent?_count=100"));
  EXPECT_FALSE(entries(comp).empty());
}

TEST_P(AuditTest, NoSecretIsStored) {
  start();
  // A failed sign-in with a recognisable password, then a launch and a refresh.
  const std::string wrong = "Wrong-Secret-Password-4711";
  {
    AppTransport t;
    auto doc = t.send("GET", server_->base() + "/.well-known/smart-configuration", {}, "");
    ASSERT_TRUE(doc.ok());
    client::SmartConfig config = client::parse_smart_config(body_json(*doc));
    auto req = client::build_authorize_request(config, server_->base(), "demo-public", kRedirect,
                                               "launch/patient patient/*.rs");
    EXPECT_FALSE(client::drive_form_login(t, req.url, {"pat-0003", wrong, "", {}}).ok());
  }
  Tokens a = launch("pat-0003", "launch/patient openid fhirUser offline_access patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  ASSERT_FALSE(a.refresh_token.empty());
  EXPECT_EQ(api(a.access_token, "/fhir/Observation?patient=pat-0003&code=8867-4").status, 200);
  auto refreshed = server_->send(
      "POST", "/auth/token",
      "grant_type=refresh_token&client_id=demo-public&refresh_token=" + a.refresh_token,
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  // (An unknown code: reusing a.code would revoke the grant, RFC 6749 section 4.1.2.)
  auto bad = server_->send("POST", "/auth/token",
                           std::string("grant_type=authorization_code&client_id=demo-public&") +
                               "code=not-a-code&redirect_uri=" + kRedirect + "&code_verifier=x",
                           {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(bad.status, 400);
  poll(a.access_token, "patient=pat-0003&_count=500",
       [](const json::Value& b) { return has_event(b, "search-type", ""); });
  // Everything the store holds, not only what the patient sees.
  ASSERT_EQ(server_->terminate(), 0);
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  auto all = store->recent_audit(100000);
  ASSERT_TRUE(all.ok());
  std::set<std::string> types;
  bool login_failure = false;
  for (const storage::AuditEvent& e : *all) {
    types.insert(e.type);
    login_failure |= e.type == "login" && e.outcome == "failure" && e.username == "pat-0003";
    for (const std::string* f : {&e.type, &e.client_id, &e.username, &e.patient, &e.outcome,
                                 &e.detail, &e.resource_type, &e.resource_id, &e.node}) {
      EXPECT_EQ(f->find(wrong), std::string::npos) << "password in " << *f;
      EXPECT_EQ(f->find(kPassword), std::string::npos) << "password in " << *f;
      EXPECT_EQ(f->find(a.code), std::string::npos) << "code in " << *f;
      EXPECT_EQ(f->find(a.refresh_token), std::string::npos) << "refresh token in " << *f;
      EXPECT_EQ(f->find(a.access_token.substr(0, 40)), std::string::npos) << "token in " << *f;
      EXPECT_EQ(f->find("8867-4"), std::string::npos) << "search value in " << *f;
    }
  }
  EXPECT_TRUE(login_failure);
  for (const char* t : {"login", "consent", "token", "read", "search-type"}) {
    if (std::string(t) != "read") {
      EXPECT_EQ(types.count(t), 1u) << t;
    }
  }
  bool token_failure = false;
  for (const storage::AuditEvent& e : *all) {
    token_failure |= e.type == "token" && e.outcome == "failure" && e.status == 400 &&
                     e.detail.find("invalid_grant") != std::string::npos;
  }
  EXPECT_TRUE(token_failure);
}

TEST_P(AuditTest, APatientSeesNoOtherPatientsEvents) {
  start();
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  Tokens b = launch("pat-0006", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  ASSERT_FALSE(b.access_token.empty());
  EXPECT_EQ(api(b.access_token, "/fhir/Patient/pat-0006").status, 200);
  json::Value mine_b = poll(b.access_token, "patient=pat-0006", [](const json::Value& x) {
    return has_event(x, "read", "Patient/pat-0006");
  });
  std::string b_event(entries(mine_b)[0].get_string("id"));
  // A names B: 200 with nothing (R30); reads of B's events are unknown ids to A.
  json::Value other = body_json(api(a.access_token, "/fhir/AuditEvent?patient=pat-0006"));
  EXPECT_EQ(other.get_string("resourceType"), "Bundle");
  EXPECT_TRUE(entries(other).empty());
  EXPECT_TRUE(entries(body_json(api(a.access_token, "/fhir/Patient/pat-0006/AuditEvent"))).empty());
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent/" + b_event).status, 404);
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent/not-a-number").status, 404);
  // Without a patient parameter A gets its own events only.
  json::Value own = body_json(api(a.access_token, "/fhir/AuditEvent?_count=500"));
  for (const json::Value& ev : entries(own)) EXPECT_EQ(entity_what(ev, 0), "Patient/pat-0003");
  // A grant without AuditEvent in its scopes cannot search the trail.
  Tokens narrow = launch("pat-0003", "launch/patient patient/Patient.rs");
  ASSERT_FALSE(narrow.access_token.empty());
  EXPECT_EQ(api(narrow.access_token, "/fhir/AuditEvent?patient=pat-0003").status, 403);
}

// Repeated reads of one app for one patient are folded into few events (audit/audit_log.h):
// each event lists every resource read as an entity, says how many requests it stands for and
// the period they span; no read is lost.
TEST_P(AuditTest, RepeatedReadsAreFoldedAndNoneIsLost) {
  start();
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  auto obs = body_json(api(a.access_token, "/fhir/Observation?patient=pat-0003&_count=3"));
  std::vector<std::string> ids;
  for (const json::Value& r : entries(obs)) ids.emplace_back(r.get_string("id"));
  ASSERT_EQ(ids.size(), 3u);
  for (int round = 0; round < 4; ++round) {
    for (const std::string& id : ids) {
      EXPECT_EQ(api(a.access_token, "/fhir/Observation/" + id).status, 200);
    }
  }
  // 12 reads: the requests counted over the read events, and the resources they name.
  auto requests_of = [](const json::Value& ev) -> int64_t {
    std::string desc(ev.get_string("outcomeDesc"));
    size_t comma = desc.find(", ");
    if (comma == std::string::npos) return 1;
    EXPECT_NE(ev.find("period"), nullptr) << "a folded event has a period";
    return std::stoll(desc.substr(comma + 2));
  };
  auto reads = [&](const json::Value& b, std::set<std::string>* named) {
    int64_t n = 0;
    for (const json::Value& ev : entries(b)) {
      if (subtype(ev) != "read") continue;
      n += requests_of(ev);
      const json::Value* list = ev.find("entity");
      for (size_t i = 1; list != nullptr && i < list->items().size(); ++i) {
        if (named != nullptr) named->insert(entity_what(ev, i));
      }
    }
    return n;
  };
  json::Value b = poll(a.access_token, "patient=pat-0003&_count=100",
                       [&](const json::Value& b) { return reads(b, nullptr) >= 12; });
  std::set<std::string> named;
  EXPECT_EQ(reads(b, &named), 12);
  EXPECT_EQ(named, (std::set<std::string>{"Observation/" + ids[0], "Observation/" + ids[1],
                                          "Observation/" + ids[2]}));
  int events = 0;
  for (const json::Value& ev : entries(b)) events += subtype(ev) == "read";
  EXPECT_LT(events, 12) << "the reads were folded";
  for (const json::Value& ev : entries(b)) {
    if (subtype(ev) != "read" || ev.find("period") == nullptr) continue;
    std::string start(ev.find("period")->get_string("start"));
    std::string end(ev.find("period")->get_string("end"));
    EXPECT_LE(start, end);
    EXPECT_EQ(std::string(ev.get_string("recorded")), start);
  }
}

// _elements and _summary shape AuditEvents as any resource (marked SUBSETTED); _summary=count,
// which the paged trail cannot answer, is refused rather than answered with a wrong total.
TEST_P(AuditTest, ElementsAndSummaryShapeTheEvents) {
  start();
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  EXPECT_EQ(api(a.access_token, "/fhir/Patient/pat-0003").status, 200);
  json::Value all = poll(a.access_token, "patient=pat-0003&_count=100",
                         [](const json::Value& b) { return !entries(b).empty(); });
  auto shaped = body_json(
      api(a.access_token, "/fhir/AuditEvent?patient=pat-0003&_elements=outcome&_count=100"));
  ASSERT_FALSE(entries(shaped).empty());
  for (const json::Value& ev : entries(shaped)) {
    EXPECT_NE(ev.find("outcome"), nullptr);
    EXPECT_EQ(ev.find("agent"), nullptr);
    EXPECT_EQ(ev.find("entity"), nullptr);
    EXPECT_FALSE(ev.get_string("id").empty());
    std::string tags = json::write(*ev.find("meta"));
    EXPECT_NE(tags.find("SUBSETTED"), std::string::npos) << tags;
  }
  std::string id(entries(all)[0].get_string("id"));
  auto one = body_json(api(a.access_token, "/fhir/AuditEvent/" + id + "?_summary=true"));
  EXPECT_EQ(one.get_string("id"), id);
  EXPECT_NE(one.find("recorded"), nullptr);  // AuditEvent.recorded is a summary element
  EXPECT_NE(json::write(*one.find("meta")).find("SUBSETTED"), std::string::npos);
  auto count = api(a.access_token, "/fhir/AuditEvent?patient=pat-0003&_summary=count");
  EXPECT_EQ(count.status, 400) << count.body;
  EXPECT_NE(count.body.find("_summary=count"), std::string::npos) << count.body;
}

TEST_P(AuditTest, PagingDateFilterAndRefusedWrites) {
  start({"IPA_TEST_AUDIT_FOLD=0"});  // one event per request, to have pages to turn
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  for (int i = 0; i < 7; ++i) EXPECT_EQ(api(a.access_token, "/fhir/Patient/pat-0003").status, 200);
  json::Value all = poll(a.access_token, "patient=pat-0003&_count=1000", [](const json::Value& b) {
    int reads = 0;
    for (const json::Value& ev : entries(b)) reads += subtype(ev) == "read";
    return reads >= 7;
  });
  // Later polls add events (each search is recorded): page only through those up to now.
  std::vector<std::string> expected;
  for (const json::Value& ev : entries(all)) expected.emplace_back(ev.get_string("id"));
  ASSERT_GE(expected.size(), 8u);
  std::string first_id = expected.front();
  std::vector<std::string> seen;
  std::string next = "/fhir/AuditEvent?patient=pat-0003&_count=3&_cursor=" +
                     std::to_string(std::stoll(first_id) + 1);
  int pages = 0;
  while (!next.empty() && pages < 100) {
    auto r = api(a.access_token, next);
    ASSERT_EQ(r.status, 200) << r.body;
    json::Value page = body_json(r);
    auto list = entries(page);
    EXPECT_LE(list.size(), 3u);
    for (const json::Value& ev : list) seen.emplace_back(ev.get_string("id"));
    next.clear();
    for (const json::Value& l : page.find("link")->items()) {
      if (l.get_string("relation") == "next") {
        std::string url(l.get_string("url"));
        next = url.substr(url.find("/fhir/"));
      }
    }
    ++pages;
  }
  EXPECT_EQ(seen, expected) << "pages cover the trail once, newest first";
  EXPECT_GE(pages, 3);

  // date: everything is recorded before the year 3000 and after 2000; nothing before 2000.
  EXPECT_TRUE(entries(body_json(api(a.access_token, "/fhir/AuditEvent?date=lt2000"))).empty());
  EXPECT_TRUE(
      entries(body_json(api(a.access_token, "/fhir/AuditEvent?date=ge3000-01-01"))).empty());
  EXPECT_FALSE(
      entries(body_json(api(a.access_token, "/fhir/AuditEvent?date=ge2000-01-01&date=le3000")))
          .empty());
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent?date=yesterday").status, 400);
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent?date=ne2020").status, 400);
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent?_count=-1").status, 400);

  // The trail is append-only and made by the server.
  std::string body = R"({"resourceType":"AuditEvent","id":")" + first_id + R"("})";
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/fhir/AuditEvent"},
           {"PUT", "/fhir/AuditEvent/" + first_id},
           {"DELETE", "/fhir/AuditEvent/" + first_id}}) {
    auto r = api(a.access_token, path, method, body);
    EXPECT_EQ(r.status, 405) << method << " " << r.body;
    json::Value oo = body_json(r);
    EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
    EXPECT_NE(r.body.find("append-only"), std::string::npos);
  }
  EXPECT_EQ(api(a.access_token, "/fhir/AuditEvent/" + first_id).status, 200);

  // The CapabilityStatement lists what works: read and search-type with patient and date.
  json::Value cs = body_json(server_->get("/fhir/metadata"));
  bool listed = false;
  for (const json::Value& r : cs.find("rest")->items()[0].find("resource")->items()) {
    if (r.get_string("type") != "AuditEvent") continue;
    listed = true;
    std::set<std::string> codes, names;
    for (const json::Value& i : r.find("interaction")->items()) codes.emplace(i.get_string("code"));
    for (const json::Value& p : r.find("searchParam")->items()) names.emplace(p.get_string("name"));
    EXPECT_EQ(codes, (std::set<std::string>{"read", "search-type"}));
    EXPECT_EQ(names, (std::set<std::string>{"patient", "date"}));
  }
  EXPECT_TRUE(listed);
}

TEST_P(AuditTest, ShutdownWritesWhatIsQueued) {
  // An hour between batches: only the SIGTERM path can write the reads below.
  start({"IPA_TEST_AUDIT_FLUSH_MS=3600000"});
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(api(a.access_token, "/fhir/Patient/pat-0003").status, 200);
  ASSERT_EQ(server_->terminate(), 0);
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  storage::AuditQuery q;
  q.patient = "pat-0003";
  q.limit = 1000;
  auto events = store->find_audit(q);
  ASSERT_TRUE(events.ok());
  int64_t reads = 0;
  for (const storage::AuditEvent& e : *events) {
    if (e.type == "read" && e.resource_id == "pat-0003") {
      reads += e.count;  // the five reads may be folded into fewer events
      EXPECT_EQ(e.client_id, "demo-public");
      EXPECT_EQ(e.status, 200);
      EXPECT_FALSE(e.node.empty());
    }
  }
  EXPECT_EQ(reads, 5);
}

// Sign-ins through the management page are recorded like those of the launch: the username,
// never the password, success or failure.
TEST_P(AuditTest, ManagePageSignInsAreRecorded) {
  start();
  const std::string wrong = "Manage-Wrong-Password-77";
  auto sign_in = [&](const std::string& username, const std::string& password) {
    auto page = server_->get("/auth/manage");
    std::string cookie;
    for (const auto& h : page.headers) {
      if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 && h.value.rfind("ipa_session=", 0) == 0) {
        cookie = h.value.substr(12, h.value.find(';') - 12);
      }
    }
    std::smatch m;
    std::regex_search(page.body, m, std::regex("name=\"csrf_token\" value=\"([^\"]*)\""));
    return server_->send(
        "POST", "/auth/manage",
        "csrf_token=" + m[1].str() + "&username=" + username + "&password=" + password,
        {{"Content-Type", "application/x-www-form-urlencoded"},
         {"Cookie", "ipa_session=" + cookie}});
  };
  EXPECT_EQ(sign_in("pat-0003", wrong).status, 401);
  EXPECT_EQ(sign_in("pat-0003", kPassword).status, 303);
  // The page is throttled as /auth/login is: the sixth failure in 15 minutes gets 429.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(sign_in("pat-0005", wrong).status, 401);
  auto throttled = sign_in("pat-0005", kPassword);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.header("Retry-After"), "900");
  EXPECT_NE(throttled.body.find("Too many sign-in attempts"), std::string::npos);
  ASSERT_EQ(server_->terminate(), 0);  // writes what is queued
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  auto all = store->recent_audit(100000);
  ASSERT_TRUE(all.ok());
  int failures = 0, successes = 0;
  for (const storage::AuditEvent& e : *all) {
    for (const std::string* f : {&e.username, &e.detail, &e.client_id}) {
      EXPECT_EQ(f->find(wrong), std::string::npos);
      EXPECT_EQ(f->find(kPassword), std::string::npos);
    }
    if (e.type != "login" || e.username != "pat-0003") continue;
    EXPECT_NE(e.detail.find("management page"), std::string::npos) << e.detail;
    failures += e.outcome == "failure" && e.status == 401;
    successes += e.outcome == "success" && e.status == 303;
  }
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(successes, 1);
  bool throttled_event = false;
  for (const storage::AuditEvent& e : *all) {
    throttled_event |= e.type == "login" && e.username == "pat-0005" && e.status == 429 &&
                       e.detail == "throttled (management page)";
  }
  EXPECT_TRUE(throttled_event);
}

// AuditEvent writes inside batch and transaction Bundles are refused as direct ones are: 405
// with an OperationOutcome; a transaction fails as a whole and stores nothing.
TEST_P(AuditTest, AuditEventWritesInBundlesAreRefused) {
  start();
  Tokens a = launch("pat-0003", "launch/patient patient/*.rs");
  ASSERT_FALSE(a.access_token.empty());
  std::string event = R"({"resourceType":"AuditEvent","id":"1","recorded":"2020-01-01T00:00:00Z"})";
  std::string entries_json =
      R"([{"request":{"method":"POST","url":"AuditEvent"},"resource":)" + event + R"(},)" +
      R"({"request":{"method":"PUT","url":"AuditEvent/1"},"resource":)" + event + R"(},)" +
      R"({"request":{"method":"DELETE","url":"AuditEvent/1"}},)" +
      R"({"request":{"method":"GET","url":"Patient/pat-0003"}}])";
  auto batch = api(a.access_token, "/fhir", "POST",
                   R"({"resourceType":"Bundle","type":"batch","entry":)" + entries_json + "}");
  ASSERT_EQ(batch.status, 200) << batch.body;
  json::Value b = body_json(batch);
  const json::Value* list = b.find("entry");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->items().size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const json::Value& response = *list->items()[i].find("response");
    EXPECT_EQ(response.get_string("status"), "405 Method Not Allowed");
    const json::Value* oo = response.find("outcome");
    ASSERT_NE(oo, nullptr);
    EXPECT_EQ(oo->get_string("resourceType"), "OperationOutcome");
    EXPECT_NE(json::write(*oo).find("append-only"), std::string::npos);
  }
  EXPECT_EQ(list->items()[3].find("response")->get_string("status"), "200 OK");

  // A transaction with one AuditEvent entry fails whole: its Observation is not stored.
  std::string obs =
      R"({"resourceType":"Observation","id":"audit-tx-obs","status":"final","code":{"text":"x"},)"
      R"("subject":{"reference":"Patient/pat-0003"}})";
  auto tx = api(a.access_token, "/fhir", "POST",
                R"({"resourceType":"Bundle","type":"transaction","entry":[)"
                R"({"request":{"method":"PUT","url":"Observation/audit-tx-obs"},"resource":)" +
                    obs + R"(},{"request":{"method":"POST","url":"AuditEvent"},"resource":)" +
                    event + "}]}");
  EXPECT_EQ(tx.status, 405) << tx.body;
  json::Value oo = body_json(tx);
  EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
  EXPECT_NE(tx.body.find("append-only"), std::string::npos) << tx.body;
  EXPECT_EQ(api(a.access_token, "/fhir/Observation/audit-tx-obs").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipa::testing
