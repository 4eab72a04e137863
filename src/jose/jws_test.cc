#include "jose/jws.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jose/bytes.h"
#include "jose/test_vectors.h"

namespace ipa::jose {
namespace {

using namespace vectors;  // NOLINT(google-build-using-namespace): RFC test vectors

json::Value parse(std::string_view text) { return json::parse(text).value(); }

std::string a2_compact() {
  return "eyJhbGciOiJSUzI1NiJ9." + std::string(kPayloadB64) + "." + std::string(kA2Signature);
}

Key a2_key() {
  return Key::from_jwk(parse(R"({"kty":"RSA","e":"AQAB","n":")" + std::string(kA2N) + "\"}"))
      .value();
}

TEST(Jws, Rfc7515AppendixA2Verifies) {
  auto jws = parse_jws(a2_compact());
  ASSERT_TRUE(jws.ok()) << jws.error().diagnostics;
  EXPECT_EQ(jws->alg, Alg::kRS256);
  EXPECT_EQ(jws->payload.get_string("iss"), "joe");
  EXPECT_EQ(jws->payload.find("exp")->text(), "1300819380");
  Key key = a2_key();
  EXPECT_TRUE(verify_jws(*jws, key));

  // One altered byte anywhere breaks it.
  Jws bad_signature = *jws;
  bad_signature.signature[100] ^= 0x01;
  EXPECT_FALSE(verify_jws(bad_signature, key));
  Jws bad_input = *jws;
  bad_input.signing_input.back() ^= 0x01;
  EXPECT_FALSE(verify_jws(bad_input, key));
  std::string compact = a2_compact();
  compact[30] = compact[30] == 'A' ? 'B' : 'A';  // inside the payload part
  auto altered = parse_jws(compact);
  if (altered.ok()) {
    EXPECT_FALSE(verify_jws(*altered, key));
  }
}

TEST(Jws, Rfc7515AppendixA3Verifies) {
  std::string compact =
      "eyJhbGciOiJFUzI1NiJ9." + std::string(kPayloadB64) + "." + std::string(kA3Signature);
  auto jws = parse_jws(compact);
  ASSERT_TRUE(jws.ok()) << jws.error().diagnostics;
  EXPECT_EQ(jws->alg, Alg::kES256);
  Key key = Key::from_jwk(parse(R"({"kty":"EC","crv":"P-256","x":")" + std::string(kA3X) +
                                R"(","y":")" + std::string(kA3Y) + "\"}"))
                .value();
  EXPECT_TRUE(verify_jws(*jws, key));
  Jws bad = *jws;
  bad.signature[5] ^= 0x80;
  EXPECT_FALSE(verify_jws(bad, key));
  // The RS256 key of A.2 cannot verify an ES256 JWS, nor the reverse.
  EXPECT_FALSE(verify_jws(*jws, a2_key()));
  EXPECT_FALSE(verify_jws(parse_jws(a2_compact()).value(), key));
}

TEST(Jws, SignJwtRoundTripAllAlgs) {
  json::Value payload = parse(R"({"iss":"https://ipa.example","sub":"123","n":1.50})");
  for (Alg alg : {Alg::kRS256, Alg::kRS384, Alg::kES256, Alg::kES384}) {
    SCOPED_TRACE(alg_name(alg));
    Key key = Key::generate(alg).value();
    auto compact = sign_jwt(key, alg, payload, "at+jwt");
    ASSERT_TRUE(compact.ok()) << compact.error().diagnostics;
    auto jws = parse_jws(*compact);
    ASSERT_TRUE(jws.ok()) << jws.error().diagnostics;
    EXPECT_EQ(jws->header.get_string("alg"), alg_name(alg));
    EXPECT_EQ(jws->header.get_string("typ"), "at+jwt");
    EXPECT_EQ(jws->header.get_string("kid"), key.kid());
    EXPECT_EQ(jws->payload, payload);
    EXPECT_EQ(json::write(jws->payload), json::write(payload));  // 1.50 stays 1.50
    EXPECT_TRUE(verify_jws(*jws, key));
    Key other = Key::generate(alg).value();
    EXPECT_FALSE(verify_jws(*jws, other));
  }
}

TEST(Jws, SignJwtOmitsEmptyTypAndKid) {
  Key key = Key::generate(Alg::kES256).value();
  key.set_kid("");
  auto jws = parse_jws(sign_jwt(key, Alg::kES256, json::Value::object(), "").value()).value();
  EXPECT_EQ(jws.header, parse(R"({"alg":"ES256"})"));
}

TEST(Jws, SignJwtErrors) {
  Key key = Key::generate(Alg::kES256).value();
  EXPECT_EQ(sign_jwt(key, Alg::kRS256, json::Value::object(), "JWT").error().http_status, 500);
  EXPECT_EQ(sign_jwt(key, Alg::kES256, json::Value::array(), "JWT").error().http_status, 500);
  Key pub = Key::from_jwk(key.public_jwk()).value();
  EXPECT_FALSE(sign_jwt(pub, Alg::kES256, json::Value::object(), "JWT").ok());
}

std::string b64(std::string_view s) { return base64url_encode(s); }

TEST(Jws, ParseRejects) {
  const std::string payload = b64(R"({"sub":"1"})");
  const std::string sig = b64("signature");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alg none", b64(R"({"alg":"none"})") + "." + payload + "." + sig},
      {"alg none unsigned", b64(R"({"alg":"none"})") + "." + payload + "."},
      {"alg HS256", b64(R"({"alg":"HS256"})") + "." + payload + "." + sig},
      {"alg PS256", b64(R"({"alg":"PS256"})") + "." + payload + "." + sig},
      {"alg lower case", b64(R"({"alg":"rs256"})") + "." + payload + "." + sig},
      {"no alg", b64(R"({"typ":"JWT"})") + "." + payload + "." + sig},
      {"alg not a string", b64(R"({"alg":1})") + "." + payload + "." + sig},
      {"crit", b64(R"({"alg":"RS256","crit":["exp"],"exp":1})") + "." + payload + "." + sig},
      {"two parts", b64(R"({"alg":"RS256"})") + "." + payload},
      {"four parts", b64(R"({"alg":"RS256"})") + "." + payload + "." + sig + "." + sig},
      {"five parts (JWE)", "a.b.c.d.e"},
      {"empty", ""},
      {"dots only", ".."},
      {"header not base64url", "eyJhbGciOiJSUzI1NiJ9=." + payload + "." + sig},
      {"header not JSON", b64("{alg:RS256}") + "." + payload + "." + sig},
      {"header an array", b64(R"(["RS256"])") + "." + payload + "." + sig},
      {"payload not base64url", b64(R"({"alg":"RS256"})") + ".e30+." + sig},
      {"payload not JSON", b64(R"({"alg":"RS256"})") + "." + b64("sub=1") + "." + sig},
      {"payload a string", b64(R"({"alg":"RS256"})") + "." + b64(R"("x")") + "." + sig},
      {"signature not base64url", b64(R"({"alg":"RS256"})") + "." + payload + ".c2ln=="},
      {"signature empty", b64(R"({"alg":"RS256"})") + "." + payload + "."},
      {"too long", b64(R"({"alg":"RS256"})") + "." +
                       b64(R"({"x":")" + std::string(kMaxCompactJwsBytes, 'a') + "\"}") + "." +
                       sig},
  };
  for (const auto& [name, compact] : cases) {
    SCOPED_TRACE(name);
    auto jws = parse_jws(compact);
    ASSERT_FALSE(jws.ok());
    EXPECT_EQ(jws.error().http_status, 401);
    EXPECT_FALSE(jws.error().diagnostics.empty());
  }
  auto none = parse_jws(cases[0].second);
  EXPECT_NE(none.error().diagnostics.find("none"), std::string::npos);
}

TEST(Jws, VerifyRejectsKeyWithOtherAlg) {
  Key key = Key::generate(Alg::kRS256).value();
  json::Value payload = json::Value::object();
  auto jws = parse_jws(sign_jwt(key, Alg::kRS256, payload, "JWT").value()).value();
  EXPECT_TRUE(verify_jws(jws, key));
  key.set_alg(Alg::kRS384);  // same key material, declared for RS384 only
  EXPECT_FALSE(verify_jws(jws, key));
}

TEST(Jws, VerifyRejectsHeaderAndAlgFieldDisagreeing) {
  Key key = Key::generate(Alg::kRS256).value();
  auto jws = parse_jws(sign_jwt(key, Alg::kRS256, json::Value::object(), "JWT").value()).value();
  jws.alg = Alg::kRS384;
  EXPECT_FALSE(verify_jws(jws, key));
}

}  // namespace
}  // namespace ipa::jose
