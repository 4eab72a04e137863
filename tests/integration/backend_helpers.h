// Test-only helpers for integration tests that act as a SMART Backend Services client: the
// client's registration with `ipa-server admin client add`, private_key_jwt client assertions
// (RFC 7523; valid or with a claim varied on purpose), and a client_credentials token request
// authenticated with one against a running server.
// Header-only; thread-safe as ServerProcess::send is.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>

#include "harness.h"
#include "jose/bytes.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "launch_helpers.h"

namespace ipa::testing {

// Registers backend client `client_id` allowed `scope` in the store `store` (a --store argument)
// through `ipa-server admin client add --type backend`, with a fresh ES384 key whose public JWKS
// is written to `jwks_file`. Returns the private key; null, with the test failed, on any error.
inline std::unique_ptr<jose::Key> add_backend_client(const std::string& store,
                                                     const std::string& client_id,
                                                     const std::string& scope,
                                                     const std::string& jwks_file) {
  auto key = jose::Key::generate(jose::Alg::kES384);
  EXPECT_TRUE(key.ok());
  if (!key.ok()) return nullptr;
  json::Value set = json::Value::object();
  set.set("keys", json::Value::array({key->public_jwk()}));
  std::ofstream(jwks_file) << json::write(set);
  RunResult r =
      run_server_command({"admin", "--store", store, "client", "add", "--client-id", client_id,
                          "--type", "backend", "--jwks-file", jwks_file, "--scope", scope},
                         {"IPA_TEST_FAST_HASH=1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  if (r.exit_code != 0) return nullptr;
  return std::make_unique<jose::Key>(std::move(*key));
}

// RFC 7523 section 2.2: the client_assertion_type of a private_key_jwt client assertion.
inline constexpr const char* kClientAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// The URL of the token endpoint of `s`, the `aud` of a valid client assertion.
inline std::string token_endpoint(const ServerProcess& s) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + "/auth/token";
}

// The claims of a private_key_jwt client assertion (RFC 7523 section 3, SMART Backend Services):
// iss and sub `client_id`, aud `aud`, jti `jti` (a fresh random one when empty) and exp `exp_in`
// seconds after now. A test that forges an assertion passes the claim it varies, or sets further
// ones (iat, nbf) on the result before signing it.
inline json::Value assertion_claims(const std::string& client_id, const std::string& aud,
                                    int64_t exp_in = 240, const std::string& jti = "") {
  json::Value claims = json::Value::object();
  claims.set("iss", json::Value::string(client_id));
  claims.set("sub", json::Value::string(client_id));
  claims.set("aud", json::Value::string(aud));
  claims.set("jti", json::Value::string(jti.empty() ? jose::random_token(16) : jti));
  claims.set("exp", json::Value::number(static_cast<int64_t>(std::time(nullptr)) + exp_in));
  return claims;
}

// Returns `claims` signed by `key` with `alg` as a JWT (typ "JWT"); a key that cannot sign fails
// the test (EXPECT) and gives "".
inline std::string sign_assertion(const jose::Key& key, const json::Value& claims,
                                  jose::Alg alg = jose::Alg::kES384) {
  auto jwt = jose::sign_jwt(key, alg, claims, "JWT");
  EXPECT_TRUE(jwt.ok());
  return jwt.ok() ? *jwt : "";
}

// POSTs grant_type=client_credentials with `scope` to the server's /auth/token as `client_id`,
// with an assertion signed by `key` (ES384; assertion_claims with aud the token endpoint) that
// expires 240 s after now + `clock_offset` seconds (the server's test clock, launch::set_clock).
// Returns the token endpoint's response as it is; a key that cannot sign fails the test (EXPECT)
// and sends an empty assertion.
inline http::ClientResponse client_credentials_token(const ServerProcess& s, const jose::Key& key,
                                                     const std::string& client_id,
                                                     const std::string& scope,
                                                     long clock_offset = 0) {
  std::string assertion =
      sign_assertion(key, assertion_claims(client_id, token_endpoint(s), clock_offset + 240));
  return launch::post_form(s, "/auth/token",
                           launch::form({{"grant_type", "client_credentials"},
                                         {"scope", scope},
                                         {"client_assertion_type", kClientAssertionType},
                                         {"client_assertion", assertion}}));
}

}  // namespace ipa::testing
