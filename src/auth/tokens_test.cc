#include "auth/tokens.h"

#include <gtest/gtest.h>

#include "auth/testing.h"
#include "jose/bytes.h"
#include "jose/jws.h"

namespace ipa::auth {
namespace {

using std::chrono::seconds;

class TokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::fresh_store(clock_);
    ASSERT_NE(store_, nullptr);
    config_.issuer = "https://ehr.example.org";
    config_.audience = "https://ehr.example.org/fhir";
    keys_ = std::make_shared<SigningKeys>(store_, clock_, config_);
    issuer_ = std::make_unique<TokenIssuer>(config_, keys_, clock_, random_);
    validator_ = std::make_unique<TokenValidator>(config_, keys_, store_, clock_);
    grant_.id = "g1";
    grant_.client_id = "app";
    grant_.username = "alice";
    grant_.patient = "pat-0001";
    grant_.scope = "launch/patient openid fhirUser patient/*.rs";
    grant_.aud = config_.audience;
    grant_.created = clock_->now();
    ASSERT_TRUE(store_->create_grant(grant_).ok());
  }

  std::string issue() {
    auto t = issuer_->issue_access_token(grant_, grant_.scope, "Patient/pat-0001");
    EXPECT_TRUE(t.ok());
    return t.ok() ? t->token : std::string();
  }

  std::shared_ptr<testing::ManualClock> clock_ = std::make_shared<testing::ManualClock>();
  std::shared_ptr<testing::SequentialRandom> random_ =
      std::make_shared<testing::SequentialRandom>();
  std::shared_ptr<storage::AuthStore> store_;
  TokenConfig config_;
  std::shared_ptr<SigningKeys> keys_;
  std::unique_ptr<TokenIssuer> issuer_;
  std::unique_ptr<TokenValidator> validator_;
  storage::Grant grant_;
};

TEST_F(TokensTest, AccessTokenRoundTrip) {
  auto issued = issuer_->issue_access_token(grant_, "patient/*.rs", "Patient/pat-0001");
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->expires_in, 3600);
  auto jws = jose::parse_jws(issued->token);
  ASSERT_TRUE(jws.ok());
  EXPECT_EQ(jws->header.get_string("typ"), "at+jwt");
  EXPECT_EQ(jws->header.get_string("alg"), "RS256");
  EXPECT_FALSE(jws->header.get_string("kid").empty());
  const json::Value& p = jws->payload;
  EXPECT_EQ(p.get_string("iss"), "https://ehr.example.org");
  EXPECT_EQ(p.get_string("aud"), "https://ehr.example.org/fhir");
  EXPECT_EQ(p.get_string("sub"), "alice");
  EXPECT_EQ(p.get_string("client_id"), "app");
  EXPECT_EQ(p.get_string("scope"), "patient/*.rs");
  EXPECT_EQ(p.get_string("patient"), "pat-0001");
  EXPECT_EQ(p.get_string("fhirUser"), "Patient/pat-0001");
  EXPECT_EQ(p.get_string("grant"), "g1");
  EXPECT_EQ(p.get_string("jti"), "r1");
  EXPECT_EQ(*p.find("exp")->as_int() - *p.find("iat")->as_int(), 3600);

  auto claims = validator_->validate(issued->token);
  ASSERT_TRUE(claims.ok()) << claims.error().diagnostics;
  EXPECT_EQ((*claims)->grant_id, "g1");
  EXPECT_EQ((*claims)->patient, "pat-0001");
  EXPECT_EQ((*claims)->scope, "patient/*.rs");
  EXPECT_EQ((*claims)->exp, issued->claims.exp);
  // Cached path gives the same answer.
  EXPECT_EQ((*validator_->validate(issued->token))->jti, "r1");
}

TEST_F(TokensTest, IdTokenClaimsAndNeverAnAccessToken) {
  IdTokenRequest r;
  r.sub = "alice";
  r.client_id = "app";
  r.nonce = "n-0S6";
  r.fhir_user = "https://ehr.example.org/fhir/Patient/pat-0001";
  auto id_token = issuer_->issue_id_token(r);
  ASSERT_TRUE(id_token.ok());
  auto jws = jose::parse_jws(*id_token);
  ASSERT_TRUE(jws.ok());
  EXPECT_EQ(jws->header.get_string("typ"), "JWT");
  EXPECT_EQ(jws->header.get_string("alg"), "RS256");  // S73
  EXPECT_FALSE(jws->header.get_string("kid").empty());
  const json::Value& p = jws->payload;
  EXPECT_EQ(p.get_string("iss"), "https://ehr.example.org");
  EXPECT_EQ(p.get_string("aud"), "app");
  EXPECT_EQ(p.get_string("sub"), "alice");
  EXPECT_EQ(p.get_string("nonce"), "n-0S6");
  EXPECT_EQ(p.get_string("fhirUser"), "https://ehr.example.org/fhir/Patient/pat-0001");
  EXPECT_EQ(*p.find("iat")->as_int(), numeric_date(clock_->now()));
  EXPECT_GT(*p.find("exp")->as_int(), numeric_date(clock_->now()));
  // The id_token is signed by the same server key, but its typ makes it no access token.
  auto refused = validator_->validate(*id_token);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().http_status, 401);
}

TEST_F(TokensTest, ExpiryWithLeewayAlsoOnCachedTokens) {
  std::string token = issue();
  ASSERT_TRUE(validator_->validate(token).ok());
  clock_->advance(seconds(3600 + 59));
  EXPECT_TRUE(validator_->validate(token).ok());  // within leeway
  clock_->advance(seconds(1));
  auto r = validator_->validate(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 401);
  // A validator that never saw it (no cache) agrees.
  TokenValidator fresh(config_, keys_, store_, clock_);
  EXPECT_FALSE(fresh.validate(token).ok());
}

TEST_F(TokensTest, WrongIssuerAudienceSignatureOrGarbage) {
  std::string token = issue();
  TokenConfig other = config_;
  other.audience = "https://evil.example.org/fhir";
  EXPECT_FALSE(TokenValidator(other, keys_, store_, clock_).validate(token).ok());
  other = config_;
  other.audience = config_.audience + "/";  // trailing slash is the same base
  EXPECT_TRUE(TokenValidator(other, keys_, store_, clock_).validate(token).ok());
  other = config_;
  other.issuer = "https://other.example.org";
  EXPECT_FALSE(TokenValidator(other, keys_, store_, clock_).validate(token).ok());

  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(validator_->validate(tampered).ok());
  // A payload swapped under the original signature.
  size_t dot1 = token.find('.');
  size_t dot2 = token.find('.', dot1 + 1);
  std::string payload = jose::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1)).value();
  size_t at = payload.find("pat-0001");
  payload.replace(at, 8, "pat-0002");
  std::string swapped =
      token.substr(0, dot1 + 1) + jose::base64url_encode(payload) + token.substr(dot2);
  EXPECT_FALSE(validator_->validate(swapped).ok());
  for (const char* garbage : {"", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30."}) {
    SCOPED_TRACE(garbage);
    auto r = validator_->validate(garbage);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status, 401);
  }
}

TEST_F(TokensTest, RevocationSeenAtOnceLocallyAndWithinTtlElsewhere) {
  std::string token = issue();
  TokenValidator other_node(config_, keys_, store_, clock_);
  ASSERT_TRUE(validator_->validate(token).ok());
  ASSERT_TRUE(other_node.validate(token).ok());

  ASSERT_TRUE(store_->revoke_grant("g1").ok());
  validator_->grant_revoked("g1");
  EXPECT_FALSE(validator_->validate(token).ok());  // this node: at once
  EXPECT_TRUE(other_node.validate(token).ok());    // the other node: stale for < 1 s
  clock_->advance(std::chrono::milliseconds(999));
  EXPECT_TRUE(other_node.validate(token).ok());
  clock_->advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(other_node.validate(token).ok());
}

TEST_F(TokensTest, UnknownGrantIsRefused) {
  storage::Grant ghost = grant_;
  ghost.id = "not-stored";
  auto issued = issuer_->issue_access_token(ghost, ghost.scope, "");
  ASSERT_TRUE(issued.ok());
  EXPECT_FALSE(validator_->validate(issued->token).ok());
}

TEST_F(TokensTest, FirstKeyCreatedOnceAndSharedByNodes) {
  std::string token = issue();
  auto jwks = keys_->jwks();
  ASSERT_TRUE(jwks.ok());
  ASSERT_EQ(jwks->find("keys")->items().size(), 1u);
  const json::Value& jwk = jwks->find("keys")->items()[0];
  EXPECT_EQ(jwk.get_string("kty"), "RSA");
  EXPECT_EQ(jwk.find("d"), nullptr);  // never a private member (S77)
  EXPECT_EQ(jwk.find("p"), nullptr);
  // Another node over the same store signs with the same key and validates our tokens.
  auto keys2 = std::make_shared<SigningKeys>(store_, clock_, config_);
  TokenIssuer issuer2(config_, keys2, clock_, random_);
  TokenValidator validator2(config_, keys2, store_, clock_);
  EXPECT_TRUE(validator2.validate(token).ok());
  auto t2 = issuer2.issue_access_token(grant_, grant_.scope, "");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(jose::parse_jws(t2->token)->header.get_string("kid"), jwk.get_string("kid"));
  EXPECT_EQ(store_->list_signing_keys()->size(), 1u);
}

TEST_F(TokensTest, RotationKeepsRetiredKeyPublishedForTheRetention) {
  config_.key_retention = seconds(7200);
  keys_ = std::make_shared<SigningKeys>(store_, clock_, config_);
  issuer_ = std::make_unique<TokenIssuer>(config_, keys_, clock_, random_);
  validator_ = std::make_unique<TokenValidator>(config_, keys_, store_, clock_);
  std::string old_token = issue();
  std::string old_kid(jose::parse_jws(old_token)->header.get_string("kid"));
  auto new_kid = keys_->rotate(jose::Alg::kRS256);
  ASSERT_TRUE(new_kid.ok());
  EXPECT_NE(*new_kid, old_kid);
  std::string new_token = issue();
  EXPECT_EQ(jose::parse_jws(new_token)->header.get_string("kid"), *new_kid);
  EXPECT_EQ(keys_->jwks()->find("keys")->items().size(), 2u);
  TokenValidator fresh(config_, keys_, store_, clock_);
  EXPECT_TRUE(fresh.validate(old_token).ok());  // retired key still verifies
  clock_->advance(seconds(7200));
  EXPECT_EQ(keys_->jwks()->find("keys")->items().size(), 1u);
  EXPECT_FALSE(keys_->verification_key(old_kid).ok());
}

TEST_F(TokensTest, Es384AccessTokensOnOffer) {
  config_.access_token_alg = jose::Alg::kES384;
  TokenIssuer issuer(config_, keys_, clock_, random_);
  TokenValidator validator(config_, keys_, store_, clock_);
  auto t = issuer.issue_access_token(grant_, grant_.scope, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(jose::parse_jws(t->token)->header.get_string("alg"), "ES384");
  EXPECT_TRUE(validator.validate(t->token).ok());
}

TEST_F(TokensTest, SmallCacheStillValidatesEverything) {
  config_.token_cache_entries = 2;
  TokenValidator small(config_, keys_, store_, clock_);
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.push_back(issue());
  for (int round = 0; round < 2; ++round) {
    for (const std::string& t : tokens) EXPECT_TRUE(small.validate(t).ok());
  }
}

}  // namespace
}  // namespace ipa::auth
