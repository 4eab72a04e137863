#include "auth/password.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace ipa::auth {
namespace {

struct Limits {
  unsigned long long ops;
  size_t mem;
};

Limits limits(PasswordCost cost) {
  if (cost == PasswordCost::kTestFast) {
    return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  }
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace

PasswordCost default_password_cost() {
  const char* fast = std::getenv("IPA_TEST_FAST_HASH");
  return fast != nullptr && std::strcmp(fast, "1") == 0 ? PasswordCost::kTestFast
                                                        : PasswordCost::kInteractive;
}

core::Result<std::string> hash_password(std::string_view password, PasswordCost cost) {
  if (!sodium_ready()) return core::internal("libsodium failed to initialize");
  Limits l = limits(cost);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), l.ops, l.mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return core::internal("crypto_pwhash_str failed (out of memory?)");
  }
  return std::string(out);
}

bool verify_password(std::string_view password, const std::string& hash) {
  if (!sodium_ready()) return false;
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void verify_password_dummy(std::string_view password) {
  static const std::string dummy = [] {
    auto h = hash_password("not a real password", default_password_cost());
    return h.ok() ? *h : std::string();
  }();
  (void)verify_password(password, dummy);
}

bool password_needs_rehash(const std::string& hash, PasswordCost cost) {
  if (!sodium_ready()) return false;
  Limits l = limits(cost);
  return crypto_pwhash_str_needs_rehash(hash.c_str(), l.ops, l.mem) != 0;
}

}  // namespace ipa::auth
