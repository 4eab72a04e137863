// HTTP-level attacks on the token endpoint and the FHIR API of the real server (issue 4 item
// 13): forged client assertions (HS256 keyed with the client's public key, alg none, expired,
// future-dated, replayed), an id_token or a tampered access token used as a bearer token, and a
// token minted for another server. Each gets the RFC 6749 error or a 401 with
// WWW-Authenticate: Bearer error="invalid_token".
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>

#include "backend_helpers.h"
#include "harness.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "launch_helpers.h"

namespace ipa::testing {
namespace {

using json::Value;
using launch::form;
using launch::post_form;

std::string b64(const std::string& s) { return jose::base64url_encode(s); }

class AttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"},
                                "demo", /*with_auth=*/true);
    key_ = new jose::Key(std::move(jose::Key::generate(jose::Alg::kRS384)).value());
    key_->set_kid("attack-key");
    Value set = Value::object();
    set.set("keys", Value::array({key_->public_jwk()}));
    auto reg = server_->send("POST", "/auth/register",
                             R"({"redirect_uris":["http://127.0.0.1:8000/callback"],)"
                             R"("token_endpoint_auth_method":"private_key_jwt","jwks":)" +
                                 json::write(set) + "}",
                             {{"Content-Type", "application/json"}});
    ASSERT_EQ(reg.status, 201) << reg.body;
    client_id_ = new std::string(body_json(reg).get_string("client_id"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    delete key_;
    delete client_id_;
  }

  // Valid claims for this client (a fresh jti, aud the token endpoint), expiring in `exp_in` s.
  static Value claims(int64_t exp_in = 240) {
    return assertion_claims(*client_id_, token_endpoint(*server_), exp_in);
  }
  // Presents `assertion` at the token endpoint (client_credentials is refused to this client
  // anyway, so only client authentication decides the error).
  static json::Value present(const std::string& assertion) {
    auto r = post_form(*server_, "/auth/token",
                       form({{"grant_type", "refresh_token"},
                             {"refresh_token", "unknown"},
                             {"client_assertion_type", kClientAssertionType},
                             {"client_assertion", assertion}}));
    EXPECT_TRUE(r.status == 400 || r.status == 401) << r.status << r.body;
    return body_json(r);
  }
  static void expect_invalid_token(const std::string& bearer) {
    auto r = server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + bearer}});
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_NE(r.header("WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos)
        << r.header("WWW-Authenticate");
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static jose::Key* key_;
  static std::string* client_id_;
};

TempDir* AttackTest::dir_ = nullptr;
ServerProcess* AttackTest::server_ = nullptr;
jose::Key* AttackTest::key_ = nullptr;
std::string* AttackTest::client_id_ = nullptr;

TEST_F(AttackTest, AValidAssertionAuthenticates) {
  // The control: the same client and key pass client authentication (then the unknown refresh
  // token is invalid_grant), so the refusals below are about the forgery alone.
  auto jwt = jose::sign_jwt(*key_, jose::Alg::kRS384, claims(), "JWT");
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(present(*jwt).get_string("error"), "invalid_grant");
}

TEST_F(AttackTest, Hs256KeyedWithThePublicKeyIsRefused) {
  Value header = Value::object();
  header.set("alg", Value::string("HS256"));
  header.set("typ", Value::string("JWT"));
  header.set("kid", Value::string("attack-key"));
  std::string input = b64(json::write(header)) + "." + b64(json::write(claims()));
  for (const std::string& secret : {json::write(key_->public_jwk()), key_->public_pem()}) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    std::string jwt = input + "." + b64(std::string(reinterpret_cast<char*>(mac), len));
    EXPECT_EQ(present(jwt).get_string("error"), "invalid_client");
  }
}

TEST_F(AttackTest, AlgNoneIsRefused) {
  for (const char* alg : {"none", "None", "NONE"}) {
    SCOPED_TRACE(alg);
    Value header = Value::object();
    header.set("alg", Value::string(alg));
    header.set("kid", Value::string("attack-key"));
    std::string jwt = b64(json::write(header)) + "." + b64(json::write(claims())) + ".";
    EXPECT_EQ(present(jwt).get_string("error"), "invalid_client");
  }
}

TEST_F(AttackTest, ExpiredFutureDatedAndReplayedAssertionsAreRefused) {
  Value expired = claims(-600);
  EXPECT_EQ(present(*jose::sign_jwt(*key_, jose::Alg::kRS384, expired, "JWT")).get_string("error"),
            "invalid_client");
  int64_t now = std::time(nullptr);
  Value future_iat = claims();
  future_iat.set("iat", Value::number(now + 3600));
  EXPECT_EQ(
      present(*jose::sign_jwt(*key_, jose::Alg::kRS384, future_iat, "JWT")).get_string("error"),
      "invalid_client");
  Value future_nbf = claims();
  future_nbf.set("nbf", Value::number(now + 3600));
  EXPECT_EQ(
      present(*jose::sign_jwt(*key_, jose::Alg::kRS384, future_nbf, "JWT")).get_string("error"),
      "invalid_client");
  std::string once = *jose::sign_jwt(*key_, jose::Alg::kRS384, claims(), "JWT");
  EXPECT_EQ(present(once).get_string("error"), "invalid_grant");   // authenticated once
  EXPECT_EQ(present(once).get_string("error"), "invalid_client");  // replayed jti
}

TEST_F(AttackTest, IdTokenAndTamperedTokensAreNotBearerTokens) {
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_EQ(server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + t.access_token}})
                .status,
            200);
  ASSERT_FALSE(t.id_token.empty());
  expect_invalid_token(t.id_token);
  // A payload edited to another patient keeps the old signature: refused.
  size_t a = t.access_token.find('.'), b = t.access_token.rfind('.');
  auto payload = jose::base64url_decode(t.access_token.substr(a + 1, b - a - 1));
  ASSERT_TRUE(payload.ok());
  auto v = json::parse(*payload);
  ASSERT_TRUE(v.ok());
  v->set("patient", Value::string("pat-0001"));
  v->set("scope", Value::string("patient/*.cruds"));
  std::string forged =
      t.access_token.substr(0, a + 1) + b64(json::write(*v)) + t.access_token.substr(b);
  expect_invalid_token(forged);
  std::string truncated = t.access_token.substr(0, b + 5);
  expect_invalid_token(truncated);
  expect_invalid_token("not-a-jwt");
}

// The server remembers the last token verified on a keep-alive connection (rest/smart.cc,
// BearerMemo). Every request on that connection is still checked: a token of the same length
// that differs in one byte, another user's token, and the remembered token after its grant was
// revoked. (The test client keeps one connection per thread, so all of these share one.)
TEST_F(AttackTest, AConnectionThatCarriedAValidTokenStillChecksEveryRequest) {
  auto a = launch::standalone(*server_, "patient", "pat-0006");
  auto b = launch::standalone(*server_, "caregiver", "pat-0002");
  ASSERT_FALSE(a.access_token.empty());
  ASSERT_FALSE(b.access_token.empty());
  auto read = [&](const std::string& token, const std::string& patient) {
    return server_->get("/fhir/Patient/" + patient, {{"Authorization", "Bearer " + token}}).status;
  };
  EXPECT_EQ(read(a.access_token, "pat-0006"), 200);
  EXPECT_EQ(read(a.access_token, "pat-0006"), 200);
  std::string flipped = a.access_token;
  size_t sig = flipped.rfind('.') + 5;
  flipped[sig] = flipped[sig] == 'A' ? 'B' : 'A';
  ASSERT_EQ(flipped.size(), a.access_token.size());
  expect_invalid_token(flipped);
  EXPECT_EQ(read(a.access_token, "pat-0006"), 200);
  // The same valid token sent twice is not one credential: refused, not picked from.
  auto twice =
      server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + a.access_token},
                                              {"Authorization", "Bearer " + a.access_token}});
  EXPECT_EQ(twice.status, 401) << twice.body;
  EXPECT_EQ(read(a.access_token, "pat-0006"), 200);
  // Another user's token on the same connection reads that user's patient only.
  EXPECT_EQ(read(b.access_token, "pat-0002"), 200);
  EXPECT_EQ(read(b.access_token, "pat-0006"), 404);
  EXPECT_EQ(read(a.access_token, "pat-0006"), 200);
  EXPECT_EQ(read(a.access_token, "pat-0002"), 404);
  // Revoked (RFC 7009, through its refresh token): refused at once on the same connection.
  auto rv = post_form(*server_, "/auth/revoke",
                      form({{"token", a.refresh_token}, {"client_id", "ipa-demo-app"}}));
  EXPECT_EQ(rv.status, 200) << rv.body;
  expect_invalid_token(a.access_token);
  EXPECT_EQ(read(b.access_token, "pat-0002"), 200);
}

TEST_F(AttackTest, ATokenForAnotherServerIsRefused) {
  // A second node on the same store (same keys, same clients) that calls itself another server:
  // its tokens carry its own aud and must not open this server's API.
  ServerProcess other(dir_->file("ipa.db"), {"--base-url", "http://other.example/fhir"},
                      {"IPA_TEST_FAST_HASH=1"}, "serve", /*with_auth=*/true, dir_->file("other"));
  auto t = launch::standalone(other, "patient", "pat-0006", "launch/patient patient/*.rs",
                              "http://other.example/fhir");
  ASSERT_FALSE(t.access_token.empty());
  expect_invalid_token(t.access_token);
}

}  // namespace
}  // namespace ipa::testing
