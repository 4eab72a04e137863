#include "client/oauth.h"

#include <gtest/gtest.h>

#include "client/testing.h"
#include "client/url.h"
#include "http/fetch.h"
#include "jose/bytes.h"
#include "jose/jws.h"

namespace ipa::client {
namespace {

using testing::FakeTransport;

TEST(ClientScopes, FallsBackToV1) {
  struct Case {
    std::string in;
    std::string out;
  };
  for (const Case& c : std::vector<Case>{
           {kDefaultScope, "launch/patient openid fhirUser offline_access patient/*.read"},
           {"patient/Observation.rs?category=laboratory", "patient/Observation.read"},
           {"patient/Observation.r patient/Observation.s", "patient/Observation.read"},
           {"user/Patient.cruds", "user/Patient.read user/Patient.write"},
           {"patient/*.read", "patient/*.read"},
       }) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(to_v1_scopes(c.in), c.out);
  }
}

TEST(ClientScopes, ReportsWhatWasNotGranted) {
  ScopeReport r = compare_scopes("launch/patient openid patient/*.rs offline_access",
                                 "launch/patient patient/Observation.rs openid");
  EXPECT_EQ(r.not_granted, (std::vector<std::string>{"patient/*.rs", "offline_access"}));
  EXPECT_EQ(r.extra, (std::vector<std::string>{"patient/Observation.rs"}));
}

TEST(ClientAuthorize, BuildsTheRequestWithPkceStateAndAud) {
  SmartConfig c;
  c.authorization_endpoint = "https://ehr.example/auth/authorize";
  AuthorizeRequest r = build_authorize_request(c, "https://ehr.example/fhir", "app",
                                               "http://127.0.0.1:5000/callback", kDefaultScope);
  Fields q = parse_query(query_of(r.url));
  EXPECT_EQ(r.url.rfind(c.authorization_endpoint + "?", 0), 0u);
  EXPECT_EQ(field(q, "response_type"), "code");
  EXPECT_EQ(field(q, "client_id"), "app");
  EXPECT_EQ(field(q, "redirect_uri"), "http://127.0.0.1:5000/callback");
  EXPECT_EQ(field(q, "scope"), kDefaultScope);
  EXPECT_EQ(field(q, "aud"), "https://ehr.example/fhir");
  EXPECT_EQ(field(q, "state"), r.state);
  EXPECT_GE(r.state.size(), 22u);  // >= 122 bits of entropy in base64url
  EXPECT_EQ(field(q, "nonce"), r.nonce);
  EXPECT_EQ(field(q, "code_challenge_method"), "S256");
  EXPECT_EQ(field(q, "code_challenge"), jose::base64url_encode(jose::sha256(r.code_verifier)));
  EXPECT_GE(r.code_verifier.size(), 43u);
  AuthorizeRequest again = build_authorize_request(c, "a", "app", "r", "s");
  EXPECT_NE(again.state, r.state);
  EXPECT_NE(again.code_verifier, r.code_verifier);
}

TEST(ClientAuthorize, ChecksTheCallback) {
  AuthorizeRequest req;
  req.state = "the-state";
  EXPECT_EQ(*accept_callback({"code1", "the-state", "", ""}, req), "code1");
  EXPECT_EQ(accept_callback({"code1", "other", "", ""}, req).error().http_status, 401);
  EXPECT_EQ(accept_callback({"code1", "", "", ""}, req).error().http_status, 401);
  auto denied = accept_callback({"", "the-state", "access_denied", "the user said no"}, req);
  EXPECT_EQ(denied.error().http_status, 403);
  EXPECT_NE(denied.error().diagnostics.find("the user said no"), std::string::npos);
  EXPECT_EQ(accept_callback({"", "the-state", "", ""}, req).error().http_status, 400);
}

TEST(ClientAuthorize, LoopbackListenerReceivesTheRedirect) {
  auto l = LoopbackListener::start();
  ASSERT_TRUE(l.ok());
  std::string uri = (*l)->redirect_uri();
  EXPECT_EQ(uri.rfind("http://127.0.0.1:", 0), 0u);
  EXPECT_EQ(http::fetch("GET", uri.substr(0, uri.rfind('/')) + "/other", {}, "")->status, 404);
  auto r = http::fetch("GET", uri + "?code=c%201&state=s", {}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  auto cb = (*l)->wait(std::chrono::milliseconds(1000));
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb->code, "c 1");
  EXPECT_EQ(cb->state, "s");
}

TEST(ClientAuthorize, ListenerTimesOut) {
  auto l = LoopbackListener::start();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->wait(std::chrono::milliseconds(1)).error().http_status, 503);
}

TEST(ClientKey, AssertionFollowsSmartAsymmetric) {
  auto key = jose::Key::generate(jose::Alg::kES384);
  ASSERT_TRUE(key.ok());
  auto creds = load_client_key("c2", key->private_pem());
  ASSERT_TRUE(creds.ok()) << creds.error().diagnostics;
  EXPECT_EQ(creds->alg, jose::Alg::kES384);
  EXPECT_EQ(creds->key->kid(), key->thumbprint());
  auto a = client_assertion(*creds, "https://ehr.example/auth/token", 1000);
  ASSERT_TRUE(a.ok());
  auto jws = jose::parse_jws(*a);
  ASSERT_TRUE(jws.ok());
  EXPECT_TRUE(jose::verify_jws(*jws, *key));
  EXPECT_EQ(jws->header.get_string("alg"), "ES384");
  EXPECT_EQ(jws->header.get_string("typ"), "JWT");
  EXPECT_EQ(jws->header.get_string("kid"), key->thumbprint());
  EXPECT_EQ(jws->payload.get_string("iss"), "c2");
  EXPECT_EQ(jws->payload.get_string("sub"), "c2");
  EXPECT_EQ(jws->payload.get_string("aud"), "https://ehr.example/auth/token");
  EXPECT_FALSE(jws->payload.get_string("jti").empty());
  int64_t exp = *jws->payload.find("exp")->as_int();
  EXPECT_GT(exp, 1000);
  EXPECT_LE(exp, 1300);
  auto longer = client_assertion(*creds, "t", 1000, 3600);
  EXPECT_LE(*jose::parse_jws(*longer)->payload.find("exp")->as_int(), 1300);

  auto rsa = jose::Key::generate(jose::Alg::kRS384);
  EXPECT_EQ(load_client_key("c", rsa->private_pem())->alg, jose::Alg::kRS384);
  auto p256 = jose::Key::generate(jose::Alg::kES256);
  EXPECT_FALSE(load_client_key("c", p256->private_pem()).ok());
  EXPECT_FALSE(load_client_key("c", key->public_pem()).ok());
  EXPECT_FALSE(load_client_key("c", "not a key").ok());
}

class IdTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = std::make_unique<jose::Key>(std::move(jose::Key::generate(jose::Alg::kRS256).value()));
    config_.issuer = "https://ehr.example/fhir";
    config_.jwks_uri = "https://ehr.example/auth/jwks";
    json::Value keys = json::Value::object();
    json::Value list = json::Value::array();
    list.push_back(key_->public_jwk());
    keys.set("keys", list);
    t_.on_json("GET https://ehr.example/auth/jwks", 200, json::write(keys));
  }
  std::string token(const std::function<void(json::Value&)>& change,
                    const jose::Key* with = nullptr) {
    json::Value c = json::Value::object();
    c.set("iss", json::Value::string("https://ehr.example/fhir"));
    c.set("sub", json::Value::string("u1"));
    c.set("aud", json::Value::string("app"));
    c.set("exp", json::Value::number(2000));
    c.set("nonce", json::Value::string("n1"));
    c.set("fhirUser", json::Value::string("Patient/p1"));
    change(c);
    return *jose::sign_jwt(with ? *with : *key_, jose::Alg::kRS256, c, "JWT");
  }
  std::unique_ptr<jose::Key> key_;
  SmartConfig config_;
  FakeTransport t_;
};

TEST_F(IdTokenTest, AcceptsAValidToken) {
  auto claims = verify_id_token(t_, config_, token([](json::Value&) {}), "app", "n1", 1000);
  ASSERT_TRUE(claims.ok()) << claims.error().diagnostics;
  EXPECT_EQ(claims->get_string("fhirUser"), "Patient/p1");
}

TEST_F(IdTokenTest, RefusesEachBrokenClaim) {
  auto other = jose::Key::generate(jose::Alg::kRS256);
  struct Case {
    std::string name;
    std::string token;
    std::string client_id = "app";
    std::string nonce = "n1";
  };
  std::vector<Case> cases = {
      {"bad signature", token([](json::Value&) {}, &*other)},
      {"wrong issuer",
       token([](json::Value& c) { c.set("iss", json::Value::string("https://x")); })},
      {"wrong audience", token([](json::Value&) {}), "other-app"},
      {"expired", token([](json::Value& c) { c.set("exp", json::Value::number(900)); })},
      {"wrong nonce", token([](json::Value&) {}), "app", "n2"},
      {"malformed", "a.b.c"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = verify_id_token(t_, config_, c.token, c.client_id, c.nonce, 1000);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status, 401);
  }
}

TEST(ClientToken, ExchangeSendsPkceAndNeverEchoesTheBody) {
  FakeTransport t;
  SmartConfig c;
  c.token_endpoint = "https://ehr.example/auth/token";
  std::string sent_body;
  t.on("POST https://ehr.example/auth/token", [&](const testing::Sent& s) {
    sent_body = s.body;
    return testing::json_response(
        200, R"({"access_token":"AT","token_type":"bearer","expires_in":300,)"
             R"("refresh_token":"RT","scope":"launch/patient patient/*.rs","patient":"p1"})");
  });
  ClientCredentials pub{"app", nullptr};
  auto r = exchange_code(t, c, pub, "CODE", "http://127.0.0.1:1/callback", "VERIFIER", 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->patient, "p1");
  EXPECT_EQ(r->expires_in, 300);
  Fields f = parse_query(sent_body);
  EXPECT_EQ(field(f, "grant_type"), "authorization_code");
  EXPECT_EQ(field(f, "code_verifier"), "VERIFIER");
  EXPECT_EQ(field(f, "client_id"), "app");
  EXPECT_EQ(field(f, "client_assertion"), "");

  t.on_json("POST https://ehr.example/auth/token", 400,
            R"({"error":"invalid_grant","error_description":"code used","access_token":"LEAK"})");
  auto bad = exchange_code(t, c, pub, "CODE", "r", "v", 1000);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().diagnostics.find("invalid_grant"), std::string::npos);
  EXPECT_EQ(bad.error().diagnostics.find("LEAK"), std::string::npos);

  t.on_json("POST https://ehr.example/auth/token", 200,
            R"({"access_token":"A","token_type":"mac"})");
  EXPECT_FALSE(exchange_code(t, c, pub, "CODE", "r", "v", 1000).ok());
}

TEST(ClientToken, ConfidentialClientSendsAnAssertion) {
  FakeTransport t;
  SmartConfig c;
  c.token_endpoint = "https://ehr.example/auth/token";
  std::string sent_body;
  t.on("POST https://ehr.example/auth/token", [&](const testing::Sent& s) {
    sent_body = s.body;
    return testing::json_response(200, R"({"access_token":"AT","token_type":"Bearer"})");
  });
  auto key = jose::Key::generate(jose::Alg::kES384);
  auto creds = load_client_key("c2", key->private_pem());
  ASSERT_TRUE(refresh_tokens(t, c, *creds, "RT", 1000).ok());
  Fields f = parse_query(sent_body);
  EXPECT_EQ(field(f, "grant_type"), "refresh_token");
  EXPECT_EQ(field(f, "client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  auto jws = jose::parse_jws(field(f, "client_assertion"));
  ASSERT_TRUE(jws.ok());
  EXPECT_TRUE(jose::verify_jws(*jws, *key));
}

}  // namespace
}  // namespace ipa::client

namespace ipa::client {
namespace {

TEST(ClientRegister, SendsRfc7591AndReadsTheClientId) {
  FakeTransport t;
  SmartConfig c;
  EXPECT_EQ(register_client(t, c, {"", nullptr}, "app", kDefaultScope).error().http_status, 503);
  c.registration_endpoint = "https://ehr.example/auth/register";
  std::string body;
  t.on("POST https://ehr.example/auth/register", [&](const testing::Sent& s) {
    body = s.body;
    return testing::json_response(201, R"({"client_id":"new-id"})");
  });
  auto key = jose::Key::generate(jose::Alg::kES384);
  auto creds = load_client_key("", key->private_pem());
  auto id = register_client(t, c, *creds, "my app", kDefaultScope);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "new-id");
  auto sent = json::parse(body);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->get_string("token_endpoint_auth_method"), "private_key_jwt");
  EXPECT_EQ(sent->find("jwks")->find("keys")->items()[0].find("d"), nullptr);
  EXPECT_EQ(json::write(*sent->find("redirect_uris")), R"(["http://127.0.0.1/callback"])");
}

}  // namespace
}  // namespace ipa::client
