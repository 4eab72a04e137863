// Password hashing for the login page: Argon2id through libsodium's crypto_pwhash_str, stored
// as a self-describing PHC string. Hashes and passwords are never logged. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ipa::auth {

enum class PasswordCost {
  kInteractive,  // libsodium's OPSLIMIT/MEMLIMIT_INTERACTIVE (64 MiB, about 0.1 s)
  kTestFast,     // the minimum limits: for tests only
};

// The cost used when none is named: kTestFast when the environment sets IPA_TEST_FAST_HASH=1,
// else kInteractive.
PasswordCost default_password_cost();

// Returns the Argon2id PHC string of `password`. Errors: internal (500) when libsodium fails
// (out of memory) or cannot initialize.
core::Result<std::string> hash_password(std::string_view password,
                                        PasswordCost cost = default_password_cost());

// Returns whether `password` matches `hash`; false for a malformed hash. Constant work for a
// given hash's parameters.
bool verify_password(std::string_view password, const std::string& hash);

// Spends about the time of one verification, for an unknown username, so response time does
// not tell whether a user exists.
void verify_password_dummy(std::string_view password);

// Whether `hash` was made with other parameters than `cost` (rehash after a successful login).
bool password_needs_rehash(const std::string& hash, PasswordCost cost = default_password_cost());

}  // namespace ipa::auth
