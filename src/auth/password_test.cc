#include "auth/password.h"

#include <gtest/gtest.h>

namespace ipa::auth {
namespace {

TEST(Password, HashAndVerify) {
  auto hash = hash_password("correct horse", PasswordCost::kTestFast);
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password("correct horse", *hash));
  EXPECT_FALSE(verify_password("correct horsE", *hash));
  EXPECT_FALSE(verify_password("", *hash));
  // Salted: the same password hashes differently.
  EXPECT_NE(*hash, *hash_password("correct horse", PasswordCost::kTestFast));
}

TEST(Password, MalformedHashNeverVerifies) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "$argon2id$garbage"));
  EXPECT_FALSE(verify_password("x", std::string(1000, 'a')));
}

TEST(Password, CostSelection) {
  auto fast = hash_password("pw", PasswordCost::kTestFast);
  ASSERT_TRUE(fast.ok());
  EXPECT_FALSE(password_needs_rehash(*fast, PasswordCost::kTestFast));
  EXPECT_TRUE(password_needs_rehash(*fast, PasswordCost::kInteractive));
  setenv("IPA_TEST_FAST_HASH", "1", 1);
  EXPECT_EQ(default_password_cost(), PasswordCost::kTestFast);
  unsetenv("IPA_TEST_FAST_HASH");
  EXPECT_EQ(default_password_cost(), PasswordCost::kInteractive);
}

TEST(Password, DummyVerifyRuns) {
  setenv("IPA_TEST_FAST_HASH", "1", 1);
  verify_password_dummy("anything");  // no crash, no result: timing only
  unsetenv("IPA_TEST_FAST_HASH");
}

}  // namespace
}  // namespace ipa::auth
