#include "auth/pkce.h"

#include <gtest/gtest.h>

namespace ipa::auth {
namespace {

TEST(Pkce, Rfc7636AppendixBVector) {
  // RFC 7636 Appendix B.
  const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const std::string challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  EXPECT_EQ(s256_challenge(verifier), challenge);
  EXPECT_TRUE(verify_s256(verifier, challenge));
  EXPECT_FALSE(verify_s256(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
  EXPECT_FALSE(verify_s256(verifier + "x", challenge));
}

TEST(Pkce, VerifierForm) {
  struct Case {
    std::string verifier;
    bool valid;
  };
  const std::vector<Case> cases = {
      {std::string(43, 'a'), true},
      {std::string(128, 'Z'), true},
      {std::string(42, 'a'), false},
      {std::string(129, 'a'), false},
      {std::string(40, 'a') + "-._~", true},
      {std::string(42, 'a') + "+", false},
      {std::string(42, 'a') + "=", false},
      {std::string(42, 'a') + " ", false},
      {"", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.verifier);
    EXPECT_EQ(valid_pkce_string(c.verifier), c.valid);
    // A malformed verifier never verifies, even against its own transform.
    EXPECT_EQ(verify_s256(c.verifier, s256_challenge(c.verifier)), c.valid);
  }
}

TEST(Pkce, ChallengeMethodMustBeS256) {
  const std::string challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  EXPECT_TRUE(check_code_challenge(challenge, "S256").ok());
  EXPECT_FALSE(check_code_challenge(challenge, "plain").ok());
  EXPECT_FALSE(check_code_challenge(challenge, "").ok());  // absent means plain
  EXPECT_FALSE(check_code_challenge(challenge, "s256").ok());
  EXPECT_FALSE(check_code_challenge("", "S256").ok());
  EXPECT_FALSE(check_code_challenge("short", "S256").ok());
  EXPECT_EQ(check_code_challenge(challenge, "plain").error().http_status, 400);
}

}  // namespace
}  // namespace ipa::auth
