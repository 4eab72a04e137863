// Test-only helpers for integration tests that act as a SMART Backend Services client: the
// client's registration with `ipa-server admin client add`, and a client_credentials token
// request authenticated with a private_key_jwt assertion (RFC 7523) against a running server.
// Header-only; thread-safe as ServerProcess::send is.
#pragma once

#include <gtest/gtest.h>

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

// POSTs grant_type=client_credentials with `scope` to the server's /auth/token as `client_id`,
// with an assertion signed by `key` (ES384; iss and sub `client_id`, aud the token endpoint, a
// fresh jti) that expires 240 s after now + `clock_offset` seconds (the server's test clock,
// launch::set_clock). Returns the token endpoint's response as it is; a key that cannot sign
// fails the test (EXPECT) and sends an empty assertion.
inline http::ClientResponse client_credentials_token(const ServerProcess& s, const jose::Key& key,
                                                     const std::string& client_id,
                                                     const std::string& scope,
                                                     long clock_offset = 0) {
  json::Value claims = json::Value::object();
  claims.set("iss", json::Value::string(client_id));
  claims.set("sub", json::Value::string(client_id));
  claims.set("aud",
             json::Value::string("http://127.0.0.1:" + std::to_string(s.port()) + "/auth/token"));
  claims.set("jti", json::Value::string(jose::random_token(16)));
  claims.set("exp", json::Value::number(std::time(nullptr) + clock_offset + 240));
  auto assertion = jose::sign_jwt(key, jose::Alg::kES384, claims, "JWT");
  EXPECT_TRUE(assertion.ok());
  return launch::post_form(s, "/auth/token",
                           launch::form({{"grant_type", "client_credentials"},
                                         {"scope", scope},
                                         {"client_assertion_type",
                                          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                                         {"client_assertion", assertion.ok() ? *assertion : ""}}));
}

}  // namespace ipa::testing
