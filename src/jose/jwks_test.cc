#include "jose/jwks.h"

#include <gtest/gtest.h>

#include <string>

#include "jose/jws.h"
#include "jose/test_vectors.h"

namespace ipa::jose {
namespace {

using namespace vectors;  // NOLINT(google-build-using-namespace): RFC test vectors

json::Value parse(std::string_view text) { return json::parse(text).value(); }

std::string mixed_set() {
  const std::string n(kRfc7638N);
  return R"({"keys":[)"
         R"({"kty":"oct","k":"AAAA","kid":"hmac"},)"
         R"({"kty":"RSA","use":"enc","kid":"enc","e":"AQAB","n":")" +
         n +
         R"("},)"
         R"({"kty":"RSA","kid":"a","e":"AQAB","n":")" +
         n +
         R"("},)"
         R"({"kty":"EC","crv":"P-256","kid":"b",)"
         R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
         R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},)"
         R"({"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},)"
         R"({"kty":"RSA","kid":"c","alg":"RS384","e":"AQAB","n":")" +
         n +
         R"("})"
         R"(]})";
}

std::vector<std::string> kids(const std::vector<const Key*>& keys) {
  std::vector<std::string> out;
  for (const Key* k : keys) out.push_back(k->kid());
  return out;
}

using Kids = std::vector<std::string>;

TEST(Jwks, ParseSkipsUnusableKeys) {
  auto jwks = Jwks::parse(parse(mixed_set()));
  ASSERT_TRUE(jwks.ok()) << jwks.error().diagnostics;
  EXPECT_EQ(kids(std::vector<const Key*>{&jwks->keys()[0], &jwks->keys()[1], &jwks->keys()[2]}),
            (Kids{"a", "b", "c"}));
  EXPECT_EQ(jwks->keys().size(), 3u);
}

TEST(Jwks, Candidates) {
  auto jwks = Jwks::parse(parse(mixed_set())).value();
  const std::vector<std::pair<std::string, Kids>> cases = {
      {R"({"alg":"RS256","kid":"a"})", {"a"}},
      {R"({"alg":"RS384","kid":"a"})", {"a"}},
      {R"({"alg":"RS256","kid":"c"})", {}},  // c is declared RS384
      {R"({"alg":"ES256","kid":"a"})", {}},  // a is RSA
      {R"({"alg":"ES256","kid":"b"})", {"b"}},
      {R"({"alg":"ES384","kid":"b"})", {}},  // b is P-256
      {R"({"alg":"RS256","kid":"enc"})", {}},
      {R"({"alg":"RS256","kid":"zzz"})", {}},
      {R"({"alg":"RS256","kid":7})", {}},
      {R"({"alg":"RS256"})", {"a"}},
      {R"({"alg":"RS384"})", {"a", "c"}},
      {R"({"alg":"ES256"})", {"b"}},
      {R"({"alg":"ES384"})", {}},
      {R"({"alg":"none"})", {}},
      {R"({"alg":"HS256","kid":"hmac"})", {}},
      {R"({"kid":"a"})", {}},
  };
  for (const auto& [header, expected] : cases) {
    SCOPED_TRACE(header);
    EXPECT_EQ(kids(jwks.candidates(parse(header))), expected);
  }
}

TEST(Jwks, ParseErrors) {
  struct Case {
    std::string json;
    core::IssueType type;
  };
  const std::vector<Case> cases = {
      {R"([])", core::IssueType::kStructure},
      {R"({"keys":{}})", core::IssueType::kStructure},
      {R"({"key":[]})", core::IssueType::kStructure},
      {R"({"keys":[]})", core::IssueType::kNotSupported},
      {R"({"keys":[{"kty":"oct","k":"AAAA"}]})", core::IssueType::kNotSupported},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto jwks = Jwks::parse(parse(c.json));
    ASSERT_FALSE(jwks.ok());
    EXPECT_EQ(jwks.error().http_status, 400);
    EXPECT_EQ(jwks.error().type, c.type);
  }
  // A key of a kind we use but malformed fails the set and names the key.
  auto bad =
      Jwks::parse(parse(R"({"keys":[{"kty":"RSA","e":"AQAB","n":")" + std::string(kRfc7638N) +
                        R"("},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().type, core::IssueType::kValue);
  EXPECT_EQ(bad.error().expression, "keys[1]");
}

TEST(Jwks, PublicJsonHasNoPrivateMembers) {
  Jwks jwks;
  jwks.add(Key::generate(Alg::kRS256).value());
  jwks.add(Key::generate(Alg::kES384).value());
  json::Value out = jwks.to_public_json();
  ASSERT_EQ(out.find("keys")->items().size(), 2u);
  std::string text = json::write(out);
  for (std::string_view member : {"\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""}) {
    EXPECT_EQ(text.find(member), std::string::npos) << member;
  }
  // The published set re-imports as public keys with the same thumbprints.
  auto reparsed = Jwks::parse(json::parse(text).value()).value();
  ASSERT_EQ(reparsed.keys().size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_FALSE(reparsed.keys()[i].has_private());
    EXPECT_EQ(reparsed.keys()[i].thumbprint(), jwks.keys()[i].thumbprint());
    EXPECT_EQ(reparsed.keys()[i].kid(), jwks.keys()[i].kid());
  }
}

// SMART App Launch client-confidential-asymmetric: the client publishes a JWKS and signs its
// client assertion; the server selects a key by the assertion's header and verifies.
TEST(Jwks, ClientAssertionFlow) {
  Key client_key = Key::generate(Alg::kES384).value();
  Jwks client_jwks;
  client_jwks.add(Key::generate(Alg::kRS384).value());
  std::string published = json::write(client_jwks.to_public_json());
  // Keys are move-only: the signing key is added after taking what the client needs.
  std::string assertion =
      sign_jwt(client_key, Alg::kES384, parse(R"({"iss":"app","sub":"app"})"), "JWT").value();
  client_jwks.add(std::move(client_key));
  published = json::write(client_jwks.to_public_json());

  auto server_jwks = Jwks::parse(json::parse(published).value()).value();
  auto jws = parse_jws(assertion).value();
  auto candidates = server_jwks.candidates(jws.header);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_TRUE(verify_jws(jws, *candidates[0]));
}

}  // namespace
}  // namespace ipa::jose
