// The SMART App Launch standalone launch through the real server: discovery, the authorize
// endpoint's error handling, login, patient picker, consent (approving a subset), the token
// endpoint, refresh with rotation, introspection, revocation, and the grant enforced on reads and
// searches. Drives the pages through their documented form contract.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "backend_helpers.h"
#include "core/percent.h"
#include "harness.h"
#include "jose/bytes.h"
#include "jose/jws.h"
#include "jose/key.h"

namespace ipa::testing {
namespace {

const char* kClient = "ipa-demo-app";
const char* kRedirect = "http://127.0.0.1:9999/callback";

using launch::form;
using launch::hidden_value;
using launch::input_values;
using launch::path_of;
using launch::url_param;

// A browser: keeps the session cookie, follows nothing by itself.
class Browser {
 public:
  explicit Browser(const ServerProcess& s) : s_(s) {}
  http::ClientResponse get(const std::string& path) {
    return remember(s_.get(path, cookie_header()));
  }
  http::ClientResponse post(const std::string& path, const std::string& body) {
    auto h = cookie_header();
    h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    return remember(s_.send("POST", path, body, h));
  }
  std::string cookie;

 private:
  std::vector<http::Header> cookie_header() {
    if (cookie.empty()) return {};
    return {{"Cookie", "ipa_session=" + cookie}};
  }
  http::ClientResponse remember(http::ClientResponse r) {
    for (const auto& h : r.headers) {
      if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 && h.value.rfind("ipa_session=", 0) == 0) {
        cookie = h.value.substr(12, h.value.find(';') - 12);
      }
    }
    return r;
  }
  const ServerProcess& s_;
};

class SmartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"},
                                "demo", /*with_auth=*/true);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  struct Launch {
    std::string verifier = std::string("v") + jose::random_token(40);
    std::string state = jose::random_token(16);
    std::string scope =
        "launch/patient openid fhirUser offline_access patient/Patient.rs "
        "patient/Observation.rs patient/Condition.rs patient/Practitioner.rs";
    std::string username = "pat-0001";
    std::string patient = "pat-0002";
    std::vector<std::string> uncheck = {"patient/Condition.rs"};
  };

  static std::string authorize_path(const Launch& l, const std::string& extra = "") {
    std::string challenge = jose::base64url_encode(jose::sha256(l.verifier));
    return "/auth/authorize?" +
           form({{"response_type", "code"},
                 {"client_id", kClient},
                 {"redirect_uri", kRedirect},
                 {"scope", l.scope},
                 {"state", l.state},
                 {"aud", server_->base()},
                 {"code_challenge", challenge},
                 {"code_challenge_method", "S256"},
                 {"nonce", "n-123"}}) +
           extra;
  }

  // Runs the browser side up to the redirect back to the app; returns that Location.
  static std::string browse(Browser& b, const Launch& l) {
    auto r = b.get(authorize_path(l));
    EXPECT_EQ(r.status, 303) << r.body;
    std::string login = path_of(r.header("Location"));
    EXPECT_NE(login.find("/auth/login?request="), std::string::npos);
    auto page = b.get(login);
    EXPECT_EQ(page.status, 200);
    std::string request = hidden_value(page.body, "request");
    std::string before = b.cookie;
    r = b.post("/auth/login", form({{"request", request},
                                    {"csrf_token", hidden_value(page.body, "csrf_token")},
                                    {"username", l.username},
                                    {"password", "ipa-demo"}}));
    EXPECT_EQ(r.status, 303) << r.body;
    EXPECT_NE(b.cookie, before) << "the session id must rotate at login";
    std::string next = path_of(r.header("Location"));
    if (next.find("/auth/select-patient") != std::string::npos) {
      page = b.get(next);
      EXPECT_EQ(page.status, 200);
      r = b.post("/auth/select-patient",
                 form({{"request", request},
                       {"csrf_token", hidden_value(page.body, "csrf_token")},
                       {"patient", l.patient}}));
      EXPECT_EQ(r.status, 303) << r.body;
      next = path_of(r.header("Location"));
    }
    EXPECT_NE(next.find("/auth/consent"), std::string::npos) << next;
    page = b.get(next);
    EXPECT_EQ(page.status, 200);
    std::vector<std::pair<std::string, std::string>> fields = {
        {"request", request}, {"csrf_token", hidden_value(page.body, "csrf_token")}};
    for (const std::string& sc : input_values(page.body, "scope")) {
      if (std::find(l.uncheck.begin(), l.uncheck.end(), sc) == l.uncheck.end()) {
        fields.emplace_back("scope", sc);
      }
    }
    fields.emplace_back("decision", "approve");
    r = b.post("/auth/consent", form(fields));
    EXPECT_EQ(r.status, 303) << r.body;
    return r.header("Location");
  }

  static http::ClientResponse token(const std::vector<std::pair<std::string, std::string>>& f) {
    return server_->send("POST", "/auth/token", form(f),
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  }

  static json::Value exchange(const Launch& l, const std::string& code) {
    auto r = token({{"grant_type", "authorization_code"},
                    {"code", code},
                    {"redirect_uri", kRedirect},
                    {"client_id", kClient},
                    {"code_verifier", l.verifier}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_EQ(r.header("Pragma"), "no-cache");
    return body_json(r);
  }

  static http::ClientResponse api(const std::string& token, const std::string& path) {
    return server_->get(path, {{"Authorization", "Bearer " + token}});
  }

  static TempDir* dir_;
  static ServerProcess* server_;
};

TempDir* SmartTest::dir_ = nullptr;
ServerProcess* SmartTest::server_ = nullptr;

TEST_F(SmartTest, DiscoveryDocumentsAreOpenAndComplete) {
  auto r = server_->get("/fhir/.well-known/smart-configuration", {{"Accept", "text/html"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type").rfind("application/json", 0), 0u);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
  json::Value c = body_json(r);
  std::string auth_base = "http://127.0.0.1:" + std::to_string(server_->port()) + "/auth";
  EXPECT_EQ(c.get_string("authorization_endpoint"), auth_base + "/authorize");
  EXPECT_EQ(c.get_string("token_endpoint"), auth_base + "/token");
  EXPECT_EQ(c.get_string("issuer"), server_->base());
  std::set<std::string> caps;
  for (const auto& v : c.find("capabilities")->items()) caps.insert(v.text());
  for (const char* need :
       {"launch-standalone", "context-standalone-patient", "permission-patient",
        "permission-offline", "sso-openid-connect", "client-public",
        "client-confidential-asymmetric", "permission-v1", "permission-v2", "authorize-post"}) {
    EXPECT_TRUE(caps.count(need)) << need;
  }
  std::string methods = json::write(*c.find("code_challenge_methods_supported"));
  EXPECT_EQ(methods, R"(["S256"])");
  json::Value oidc = body_json(server_->get("/fhir/.well-known/openid-configuration"));
  EXPECT_EQ(oidc.get_string("issuer"), server_->base());
  EXPECT_NE(json::write(*oidc.find("id_token_signing_alg_values_supported")).find("RS256"),
            std::string::npos);
  auto jwks = server_->get("/auth/jwks");
  ASSERT_EQ(jwks.status, 200);
  json::Value keys = body_json(jwks);
  ASSERT_FALSE(keys.find("keys")->items().empty());
  for (const auto& k : keys.find("keys")->items()) {
    EXPECT_EQ(k.find("d"), nullptr) << "a private member is published";
    EXPECT_FALSE(k.get_string("kid").empty());
  }
  json::Value cs = body_json(server_->get("/fhir/metadata"));
  const json::Value& sec = *cs.find("rest")->items()[0].find("security");
  EXPECT_NE(json::write(sec).find("SMART-on-FHIR"), std::string::npos);
  EXPECT_NE(json::write(sec).find(auth_base + "/authorize"), std::string::npos);
}

TEST_F(SmartTest, TheApiNeedsAToken) {
  auto r = server_->get("/fhir/Patient/pat-0001");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer realm=\"ipa-server\"");
  auto bad = server_->get("/fhir/Patient/pat-0001", {{"Authorization", "Bearer not-a-token"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.header("WWW-Authenticate").find("invalid_token"), std::string::npos);
  EXPECT_EQ(server_->get("/fhir/metadata").status, 200);
}

TEST_F(SmartTest, StandaloneLaunchWithPickerAndPartialConsent) {
  Launch l;
  Browser b(*server_);
  std::string back = browse(b, l);
  ASSERT_EQ(back.rfind(kRedirect, 0), 0u) << back;
  EXPECT_EQ(url_param(back, "state"), l.state);
  std::string code = url_param(back, "code");
  ASSERT_FALSE(code.empty());
  json::Value t = exchange(l, code);
  EXPECT_EQ(t.get_string("token_type"), "Bearer");
  EXPECT_EQ(t.get_string("patient"), "pat-0002");
  EXPECT_TRUE(t.find("expires_in")->is_number());
  std::string scope(t.get_string("scope"));
  EXPECT_EQ(scope.find("patient/Condition.rs"), std::string::npos) << scope;
  EXPECT_NE(scope.find("patient/Observation.rs"), std::string::npos);
  EXPECT_FALSE(t.get_string("id_token").empty());
  // S75: the parent holds the child's record as a RelatedPerson of it, readable with the token.
  auto id_token = jose::parse_jws(std::string(t.get_string("id_token")));
  ASSERT_TRUE(id_token.ok());
  std::string fhir_user(id_token->payload.get_string("fhirUser"));
  EXPECT_EQ(fhir_user, server_->base() + "/RelatedPerson/rp-0002-01");
  EXPECT_FALSE(t.get_string("refresh_token").empty());
  std::string at(t.get_string("access_token"));

  // The grant is enforced: the picked patient only, the granted types only.
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0002").status, 200);
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0001").status, 404);
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0003").status, 404);
  json::Value obs = body_json(api(at, "/fhir/Observation?patient=pat-0002&category=vital-signs"));
  ASSERT_NE(obs.find("entry"), nullptr);
  for (const auto& e : obs.find("entry")->items()) {
    EXPECT_EQ(e.find("resource")->find("subject")->get_string("reference"), "Patient/pat-0002");
  }
  json::Value other = body_json(api(at, "/fhir/Observation?patient=pat-0001"));
  EXPECT_EQ(other.find("entry"), nullptr) << "another patient's data leaked";
  json::Value none = body_json(api(at, "/fhir/Observation?category=laboratory"));
  if (const json::Value* entries = none.find("entry")) {
    for (const auto& e : entries->items()) {
      EXPECT_EQ(e.find("resource")->find("subject")->get_string("reference"), "Patient/pat-0002");
    }
  }
  EXPECT_EQ(api(at, "/fhir/Observation/obs-0001-001").status, 404);
  EXPECT_EQ(api(std::string(t.get_string("access_token")), "/fhir/RelatedPerson/rp-0002-01").status,
            403);  // this grant did not include RelatedPerson (patient/*.rs would)
  // Supporting resources: those the record references are readable (R39), others are not found.
  json::Value me = body_json(api(at, "/fhir/Patient/pat-0002"));
  ASSERT_NE(me.find("generalPractitioner"), nullptr);
  std::string gp(me.find("generalPractitioner")->items()[0].get_string("reference"));
  EXPECT_EQ(api(at, "/fhir/" + gp).status, 200) << gp;
  {
    std::ofstream(dir_->file("lonely.ndjson"))
        << R"({"resourceType":"Practitioner","id":"prac-lonely","name":[{"family":"Nobody"}]})"
        << "\n";
    auto imported = run_server_command(
        {"import", "--store", dir_->file("ipa.db"), dir_->file("lonely.ndjson")});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_EQ(api(at, "/fhir/Practitioner/prac-lonely").status, 404);
  }
  EXPECT_EQ(api(at, "/fhir/Condition?patient=pat-0002").status, 403);
  // Paging cursors are bound to the grant that asked: another grant cannot continue them.
  {
    json::Value page = body_json(api(at, "/fhir/Observation?patient=pat-0002&_count=2"));
    std::string next;
    for (const auto& link : page.find("link")->items()) {
      if (link.get_string("relation") == "next")
        next = path_of(std::string(link.get_string("url")));
    }
    ASSERT_FALSE(next.empty());
    EXPECT_EQ(api(at, next).status, 200);
    Launch other;
    other.username = "pat-0006";
    Browser ob(*server_);
    json::Value t_other = exchange(other, url_param(browse(ob, other), "code"));
    auto stolen = api(std::string(t_other.get_string("access_token")), next);
    EXPECT_EQ(stolen.status, 400);
    EXPECT_EQ(issue_expression(body_json(stolen)), "_cursor");
  }
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0001/Observation").status, 200);
  EXPECT_EQ(body_json(api(at, "/fhir/Patient/pat-0001/Observation")).find("entry"), nullptr);
  auto write = server_->send("PUT", "/fhir/Patient/pat-0002",
                             R"({"resourceType":"Patient","id":"pat-0002"})",
                             {{"Authorization", "Bearer " + at}});
  EXPECT_EQ(write.status, 403);

  // Introspection reports the same context.
  auto intro = server_->send("POST", "/auth/introspect", form({{"token", at}}),
                             {{"Content-Type", "application/x-www-form-urlencoded"}});
  json::Value i = body_json(intro);
  EXPECT_TRUE(i.find("active")->as_bool());
  EXPECT_EQ(i.get_string("patient"), "pat-0002");
  EXPECT_EQ(i.get_string("client_id"), kClient);

  // Refresh rotates; reusing the old refresh token revokes the grant at once.
  std::string rt(t.get_string("refresh_token"));
  auto refreshed =
      token({{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", kClient}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  json::Value t2 = body_json(refreshed);
  EXPECT_EQ(t2.get_string("patient"), "pat-0002");
  std::string at2(t2.get_string("access_token"));
  EXPECT_EQ(api(at2, "/fhir/Patient/pat-0002").status, 200);
  auto wider = token({{"grant_type", "refresh_token"},
                      {"refresh_token", std::string(t2.get_string("refresh_token"))},
                      {"client_id", kClient},
                      {"scope", "patient/*.rs"}});
  EXPECT_EQ(wider.status, 400);
  EXPECT_EQ(body_json(wider).get_string("error"), "invalid_scope");
  auto reuse =
      token({{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", kClient}});
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(body_json(reuse).get_string("error"), "invalid_grant");
  EXPECT_EQ(api(at2, "/fhir/Patient/pat-0002").status, 401);
  json::Value dead =
      body_json(server_->send("POST", "/auth/introspect", form({{"token", at2}}),
                              {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_FALSE(dead.find("active")->as_bool());
  EXPECT_EQ(dead.members().size(), 1u);
}

TEST_F(SmartTest, ASecondUseOfACodeFailsAndRevokesTheFirstTokens) {
  Launch l;
  l.username = "pat-0006";
  Browser b(*server_);
  std::string code = url_param(browse(b, l), "code");
  json::Value t = exchange(l, code);
  std::string at(t.get_string("access_token"));
  EXPECT_EQ(t.get_string("patient"), "pat-0006");  // one record: no picker
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0006").status, 200);
  auto again = token({{"grant_type", "authorization_code"},
                      {"code", code},
                      {"redirect_uri", kRedirect},
                      {"client_id", kClient},
                      {"code_verifier", l.verifier}});
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(body_json(again).get_string("error"), "invalid_grant");
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0006").status, 401);
}

TEST_F(SmartTest, TokenEndpointChecksPkceClientAndRedirect) {
  Launch l;
  l.username = "pat-0006";
  Browser b(*server_);
  std::string code = url_param(browse(b, l), "code");
  auto wrong_verifier = token({{"grant_type", "authorization_code"},
                               {"code", code},
                               {"redirect_uri", kRedirect},
                               {"client_id", kClient},
                               {"code_verifier", std::string(50, 'x')}});
  EXPECT_EQ(wrong_verifier.status, 400);
  EXPECT_EQ(body_json(wrong_verifier).get_string("error"), "invalid_grant");
  EXPECT_EQ(token({{"grant_type", "password"}, {"client_id", kClient}}).status, 400);
  auto unknown = token({{"grant_type", "authorization_code"},
                        {"code", "x"},
                        {"client_id", "nobody"},
                        {"code_verifier", l.verifier}});
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(body_json(unknown).get_string("error"), "invalid_client");
}

TEST_F(SmartTest, AuthorizeErrorsFollowRfc6749) {
  Launch l;
  Browser b(*server_);
  // No redirect for an unknown client or an unregistered redirect_uri.
  auto unknown = b.get("/auth/authorize?response_type=code&client_id=nobody&redirect_uri=" +
                       core::percent_encode(kRedirect) + "&state=s");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(unknown.header("Location").empty());
  auto bad_redirect = b.get(
      "/auth/authorize?response_type=code&client_id=ipa-demo-app&"
      "redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s");
  EXPECT_EQ(bad_redirect.status, 400);
  EXPECT_TRUE(bad_redirect.header("Location").empty());
  struct Case {
    std::string extra_or_replacement;
    std::string error;
  };
  auto error_of = [&](const std::string& path) {
    auto r = b.get(path);
    EXPECT_EQ(r.status, 303) << path;
    std::string loc = r.header("Location");
    EXPECT_EQ(loc.rfind(kRedirect, 0), 0u) << loc;
    EXPECT_EQ(url_param(loc, "state"), l.state);
    EXPECT_TRUE(url_param(loc, "code").empty());
    return url_param(loc, "error");
  };
  std::string good = authorize_path(l);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string p = good;
    size_t at = p.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    p.replace(at, from.size(), to);
    return p;
  };
  EXPECT_EQ(error_of(replace("code_challenge_method=S256", "code_challenge_method=plain")),
            "invalid_request");
  EXPECT_EQ(error_of(replace("code_challenge_method=S256", "x=y")), "invalid_request");
  EXPECT_EQ(error_of(replace("response_type=code", "response_type=token")),
            "unsupported_response_type");
  EXPECT_EQ(error_of(replace("aud=", "aud=https%3A%2F%2Fother.example%2Ffhir&x=")),
            "invalid_request");
  EXPECT_EQ(error_of(replace("scope=", "scope=patient%2FObservation.sr&x=")), "invalid_scope");
  EXPECT_EQ(error_of(good + "&state=again"), "invalid_request");  // a repeated parameter
  // authorize-post works like GET.
  auto post = b.post("/auth/authorize", good.substr(good.find('?') + 1));
  EXPECT_EQ(post.status, 303);
  EXPECT_NE(post.header("Location").find("/auth/login"), std::string::npos);
}

TEST_F(SmartTest, TamperedFormsAreRefused) {
  Launch l;
  Browser b(*server_);
  auto r = b.get(authorize_path(l));
  std::string login = path_of(r.header("Location"));
  auto page = b.get(login);
  std::string request = hidden_value(page.body, "request");
  // A wrong CSRF token is refused; so is a login for another browser's request.
  auto forged = b.post("/auth/login", form({{"request", request},
                                            {"csrf_token", "forged"},
                                            {"username", "pat-0001"},
                                            {"password", "ipa-demo"}}));
  EXPECT_EQ(forged.status, 403);
  Browser other(*server_);
  auto stolen =
      other.post("/auth/login", form({{"request", request},
                                      {"csrf_token", hidden_value(page.body, "csrf_token")},
                                      {"username", "pat-0001"},
                                      {"password", "ipa-demo"}}));
  EXPECT_EQ(stolen.status, 403);
  auto wrong_password =
      b.post("/auth/login", form({{"request", request},
                                  {"csrf_token", hidden_value(page.body, "csrf_token")},
                                  {"username", "pat-0001"},
                                  {"password", "wrong-password"}}));
  EXPECT_EQ(wrong_password.status, 401);
  r = b.post("/auth/login", form({{"request", request},
                                  {"csrf_token", hidden_value(page.body, "csrf_token")},
                                  {"username", "pat-0001"},
                                  {"password", "ipa-demo"}}));
  ASSERT_EQ(r.status, 303);
  page = b.get(path_of(r.header("Location")));
  ASSERT_EQ(page.status, 200);
  auto choices = input_values(page.body, "patient");
  EXPECT_EQ(choices, (std::vector<std::string>{"pat-0001", "pat-0002", "pat-0003"}));
  // A record the user may not see cannot be picked.
  auto not_mine =
      b.post("/auth/select-patient", form({{"request", request},
                                           {"csrf_token", hidden_value(page.body, "csrf_token")},
                                           {"patient", "pat-0006"}}));
  EXPECT_EQ(not_mine.status, 400);
  auto deny_page =
      b.post("/auth/select-patient", form({{"request", request},
                                           {"csrf_token", hidden_value(page.body, "csrf_token")},
                                           {"patient", "pat-0003"}}));
  ASSERT_EQ(deny_page.status, 303);
  page = b.get(path_of(deny_page.header("Location")));
  auto denied = b.post("/auth/consent", form({{"request", request},
                                              {"csrf_token", hidden_value(page.body, "csrf_token")},
                                              {"decision", "deny"}}));
  ASSERT_EQ(denied.status, 303);
  EXPECT_EQ(url_param(denied.header("Location"), "error"), "access_denied");
  EXPECT_EQ(url_param(denied.header("Location"), "state"), l.state);
  // The request is used up: replaying the consent form finds nothing.
  auto replay = b.post("/auth/consent", form({{"request", request},
                                              {"csrf_token", hidden_value(page.body, "csrf_token")},
                                              {"decision", "approve"},
                                              {"scope", "openid"}}));
  EXPECT_EQ(replay.status, 403);
}

TEST_F(SmartTest, LoginIsThrottledPerUser) {
  Launch l;
  Browser b(*server_);
  auto r = b.get(authorize_path(l));
  auto page = b.get(path_of(r.header("Location")));
  std::string request = hidden_value(page.body, "request");
  std::string csrf = hidden_value(page.body, "csrf_token");
  auto attempt = [&](const std::string& password) {
    return b.post("/auth/login", form({{"request", request},
                                       {"csrf_token", csrf},
                                       {"username", "pat-0003"},
                                       {"password", password}}));
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(attempt("wrong-" + std::to_string(i)).status, 401);
  auto blocked = attempt("ipa-demo");  // even the right password, once the limit is reached
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(blocked.header("Retry-After"), "900");
  EXPECT_NE(blocked.body.find("Too many sign-in attempts"), std::string::npos);
}

TEST_F(SmartTest, RevocationEndsTheGrant) {
  Launch l;
  l.username = "pat-0006";
  Browser b(*server_);
  json::Value t = exchange(l, url_param(browse(b, l), "code"));
  std::string at(t.get_string("access_token"));
  ASSERT_EQ(api(at, "/fhir/Patient/pat-0006").status, 200);
  auto r = server_->send(
      "POST", "/auth/revoke",
      form({{"token", std::string(t.get_string("refresh_token"))}, {"client_id", kClient}}),
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0006").status, 401);
}

TEST_F(SmartTest, DemoJsonAndTheSymmetricClient) {
  std::ifstream in(dir_->file("demo.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto demo = json::parse(ss.str());
  ASSERT_TRUE(demo.ok()) << ss.str();
  EXPECT_EQ(demo->get_string("fhir_base"), server_->base());
  std::string secret;
  for (const auto& c : demo->find("clients")->items()) {
    if (c.get_string("client_id") == "demo-symmetric")
      secret = std::string(c.get_string("client_secret"));
  }
  ASSERT_FALSE(secret.empty());
  bool caregiver = false;
  for (const auto& u : demo->find("users")->items()) {
    if (u.get_string("username") == "caregiver") {
      caregiver = true;
      EXPECT_EQ(u.find("fhir_user")->get_string("pat-0002"), "RelatedPerson/rp-0002-01");
    }
  }
  EXPECT_TRUE(caregiver);
  // A launch with the symmetric client, authenticated with HTTP Basic (S51).
  Launch l;
  l.username = "caregiver";
  l.patient = "pat-0003";
  Browser b(*server_);
  std::string path = authorize_path(l);
  path.replace(path.find("client_id=ipa-demo-app"), 22, "client_id=demo-symmetric");
  auto r = b.get(path);
  ASSERT_EQ(r.status, 303);
  auto page = b.get(path_of(r.header("Location")));
  std::string request = hidden_value(page.body, "request");
  r = b.post("/auth/login", form({{"request", request},
                                  {"csrf_token", hidden_value(page.body, "csrf_token")},
                                  {"username", "caregiver"},
                                  {"password", "ipa-demo"}}));
  page = b.get(path_of(r.header("Location")));
  r = b.post("/auth/select-patient", form({{"request", request},
                                           {"csrf_token", hidden_value(page.body, "csrf_token")},
                                           {"patient", "pat-0003"}}));
  page = b.get(path_of(r.header("Location")));
  r = b.post("/auth/consent", form({{"request", request},
                                    {"csrf_token", hidden_value(page.body, "csrf_token")},
                                    {"scope", "launch/patient"},
                                    {"scope", "patient/Patient.rs"},
                                    {"decision", "approve"}}));
  std::string code = url_param(r.header("Location"), "code");
  ASSERT_FALSE(code.empty());
  auto basic = [&](const std::string& pw) {
    return "Basic " + jose::base64url_encode("demo-symmetric:" + pw);
  };
  std::string body = form({{"grant_type", "authorization_code"},
                           {"code", code},
                           {"redirect_uri", kRedirect},
                           {"code_verifier", l.verifier}});
  auto wrong = server_->send("POST", "/auth/token", body,
                             {{"Content-Type", "application/x-www-form-urlencoded"},
                              {"Authorization", basic("not-the-secret")}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(body_json(wrong).get_string("error"), "invalid_client");
  EXPECT_NE(wrong.header("WWW-Authenticate").find("Basic"), std::string::npos);
  auto ok = server_->send(
      "POST", "/auth/token", body,
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"Authorization", basic(secret)}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(body_json(ok).get_string("patient"), "pat-0003");
}

TEST_F(SmartTest, ManagementPageListsAndRevokesTheUsersApps) {
  Launch l;
  l.username = "pat-0006";
  Browser launch(*server_);
  json::Value t = exchange(l, url_param(browse(launch, l), "code"));
  std::string at(t.get_string("access_token"));
  ASSERT_EQ(api(at, "/fhir/Patient/pat-0006").status, 200);
  Browser b(*server_);
  auto page = b.get("/auth/manage");
  ASSERT_EQ(page.status, 200);
  auto wrong = b.post("/auth/manage", form({{"csrf_token", hidden_value(page.body, "csrf_token")},
                                            {"username", "pat-0006"},
                                            {"password", "nope-nope"}}));
  EXPECT_EQ(wrong.status, 401);
  auto r = b.post("/auth/manage", form({{"csrf_token", hidden_value(page.body, "csrf_token")},
                                        {"username", "pat-0006"},
                                        {"password", "ipa-demo"}}));
  ASSERT_EQ(r.status, 303);
  page = b.get("/auth/manage");
  ASSERT_EQ(page.status, 200);
  // The grant behind this token (its "grant" claim) is listed.
  auto jws = jose::parse_jws(at);
  ASSERT_TRUE(jws.ok());
  std::string grant(jws->payload.get_string("grant"));
  ASSERT_NE(page.body.find("value=\"" + grant + "\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("IPA demo app"), std::string::npos);
  // Another user's session cannot revoke it; a forged CSRF token is refused.
  auto forged =
      b.post("/auth/manage", form({{"csrf_token", "x"}, {"grant", grant}, {"decision", "revoke"}}));
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0006").status, 200);
  auto revoked = b.post("/auth/manage", form({{"csrf_token", hidden_value(page.body, "csrf_token")},
                                              {"grant", grant},
                                              {"decision", "revoke"}}));
  EXPECT_EQ(revoked.status, 303);
  EXPECT_EQ(api(at, "/fhir/Patient/pat-0006").status, 401);
}

TEST_F(SmartTest, DynamicRegistrationAndPrivateKeyJwt) {
  auto reg = [&](const std::string& body) {
    return server_->send("POST", "/auth/register", body, {{"Content-Type", "application/json"}});
  };
  EXPECT_EQ(body_json(reg(R"({"redirect_uris":["http://evil.example/cb"]})")).get_string("error"),
            "invalid_redirect_uri");
  EXPECT_EQ(body_json(reg(R"({"redirect_uris":[]})")).get_string("error"), "invalid_redirect_uri");
  // A loopback redirect registered without a port matches any port (RFC 8252 section 7.3).
  auto portless = reg(R"({"redirect_uris":["http://127.0.0.1/callback"]})");
  ASSERT_EQ(portless.status, 201) << portless.body;
  std::string portless_id(body_json(portless).get_string("client_id"));
  {
    Launch pl;
    Browser pb(*server_);
    std::string p = authorize_path(pl);
    p.replace(p.find("client_id=ipa-demo-app"), 22, "client_id=" + portless_id);
    auto r = pb.get(p);
    EXPECT_EQ(r.status, 303) << r.body;
    EXPECT_NE(r.header("Location").find("/auth/login"), std::string::npos);
    std::string other = p;
    other.replace(other.find("%2Fcallback"), 11, "%2Fother");
    EXPECT_EQ(pb.get(other).status, 400);  // the path must still match
  }
  EXPECT_EQ(
      body_json(reg(R"({"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]})"))
          .get_string("error"),
      "invalid_client_metadata");
  auto key = jose::Key::generate(jose::Alg::kES384);
  ASSERT_TRUE(key.ok());
  json::Value priv_set = json::Value::object();
  priv_set.set("keys", json::Value::array({key->private_jwk()}));
  auto leaked = reg(
      R"({"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":)" +
      json::write(priv_set) + "}");
  EXPECT_EQ(body_json(leaked).get_string("error"), "invalid_client_metadata");

  json::Value set = json::Value::object();
  set.set("keys", json::Value::array({key->public_jwk()}));
  auto ok =
      reg(R"({"client_name":"Asymmetric test app","redirect_uris":[")" + std::string(kRedirect) +
          R"("],"token_endpoint_auth_method":"private_key_jwt","jwks":)" + json::write(set) + "}");
  ASSERT_EQ(ok.status, 201) << ok.body;
  std::string client_id(body_json(ok).get_string("client_id"));
  ASSERT_FALSE(client_id.empty());

  // A launch with the new client, then the code exchange with a private_key_jwt assertion.
  Launch l;
  l.username = "pat-0006";
  Browser b(*server_);
  std::string path = authorize_path(l);
  path.replace(path.find("client_id=ipa-demo-app"), 22, "client_id=" + client_id);
  auto r = b.get(path);
  ASSERT_EQ(r.status, 303) << r.body;
  auto page = b.get(path_of(r.header("Location")));
  std::string request = hidden_value(page.body, "request");
  r = b.post("/auth/login", form({{"request", request},
                                  {"csrf_token", hidden_value(page.body, "csrf_token")},
                                  {"username", "pat-0006"},
                                  {"password", "ipa-demo"}}));
  page = b.get(path_of(r.header("Location")));
  r = b.post("/auth/consent", form({{"request", request},
                                    {"csrf_token", hidden_value(page.body, "csrf_token")},
                                    {"scope", "launch/patient"},
                                    {"scope", "patient/Patient.rs"},
                                    {"decision", "approve"}}));
  std::string code = url_param(r.header("Location"), "code");
  ASSERT_FALSE(code.empty()) << r.header("Location");
  std::string token_url = token_endpoint(*server_);
  auto assertion = [&](const std::string& aud, int64_t exp_in) {
    return sign_assertion(*key, assertion_claims(client_id, aud, exp_in));
  };
  std::string jwt = assertion(token_url, 240);
  auto exchanged = token({{"grant_type", "authorization_code"},
                          {"code", code},
                          {"redirect_uri", kRedirect},
                          {"code_verifier", l.verifier},
                          {"client_assertion_type", kClientAssertionType},
                          {"client_assertion", jwt}});
  ASSERT_EQ(exchanged.status, 200) << exchanged.body;
  EXPECT_EQ(body_json(exchanged).get_string("scope"), "launch/patient patient/Patient.rs");
  // A replayed assertion (same jti), a wrong audience and a too-long lifetime are refused.
  auto refresh_with = [&](const std::string& a) {
    return token({{"grant_type", "refresh_token"},
                  {"refresh_token", "whatever"},
                  {"client_assertion_type", kClientAssertionType},
                  {"client_assertion", a}});
  };
  EXPECT_EQ(body_json(refresh_with(jwt)).get_string("error"), "invalid_client");
  EXPECT_EQ(
      body_json(refresh_with(assertion("https://other.example/token", 240))).get_string("error"),
      "invalid_client");
  EXPECT_EQ(body_json(refresh_with(assertion(token_url, 3600))).get_string("error"),
            "invalid_client");
  // A fresh, valid assertion authenticates; the unknown refresh token is then invalid_grant.
  EXPECT_EQ(body_json(refresh_with(assertion(token_url, 240))).get_string("error"),
            "invalid_grant");
}

}  // namespace
}  // namespace ipa::testing
