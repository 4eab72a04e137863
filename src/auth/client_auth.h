// Client authentication at the token, introspection and revocation endpoints: private_key_jwt
// assertions (RFC 7523; SMART client-confidential-asymmetric), client secrets
// (client_secret_basic / client_secret_post; SMART client-confidential-symmetric) and public
// clients (client_id only). Does not parse HTTP: the caller passes the extracted values and
// maps errors to OAuth JSON (401 -> invalid_client, 400 -> invalid_request). Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "jose/key.h"
#include "json/json.h"
#include "storage/auth_store.h"

namespace ipa::auth {

// RFC 7523 section 2.2.
inline constexpr std::string_view kJwtBearerAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// Fetches a client's registered jwks_uri (S47): GET with Accept: application/json over TLS,
// cached no longer than the response's Cache-Control allows. Implemented over libcurl by the
// http module; fakes in tests. Must be safe for concurrent use.
class JwksFetcher {
 public:
  virtual ~JwksFetcher() = default;
  // Returns the JWK Set document. Errors: any failure (network, status, JSON) as an Error.
  virtual core::Result<json::Value> fetch(std::string url) = 0;
};

struct ClientAuthConfig {
  std::string token_url;                             // the aud every assertion must name (S43)
  std::chrono::seconds max_assertion_lifetime{300};  // exp at most this far ahead (S43)
  std::chrono::seconds leeway{60};                   // clock skew (S43, project)
  // S42 requires RS384 or ES384; S50 allows more.
  std::vector<jose::Alg> assertion_algs = {jose::Alg::kRS384, jose::Alg::kES384};
};

class ClientAuthenticator {
 public:
  ClientAuthenticator(ClientAuthConfig config, std::shared_ptr<storage::AuthStore> store,
                      std::shared_ptr<JwksFetcher> fetcher, std::shared_ptr<core::Clock> clock);

  // private_key_jwt (S41-S48): type must be kJwtBearerAssertionType; header alg allowed, kid
  // present, typ "JWT" when present, jku (if any) equal to the registered jwks_uri; iss = sub =
  // a registered asymmetric or backend client; aud the token URL; exp not passed and at most
  // max_assertion_lifetime (+ leeway) ahead; jti recorded once (replays refused, atomically);
  // exactly one key of the client's JWKS (inline or fetched) selected by kid and alg, and the
  // signature valid with it. Returns the client. Errors: bad_request 400 (IssueType value) for
  // a wrong assertion type; unauthenticated 401 for every other failure (invalid_client);
  // unavailable 503 when the store cannot be reached.
  core::Result<storage::Client> authenticate_assertion(std::string_view assertion_type,
                                                       std::string_view assertion);

  // client_secret_basic / _post (S51-S52): the client is registered symmetric and the secret's
  // hash equals the stored one (constant-time). The caller url-decodes Basic credentials
  // (RFC 6749 section 2.3.1). Errors: unauthenticated 401 for an unknown client, another type
  // or a wrong secret; 503 from the store.
  core::Result<storage::Client> authenticate_secret(std::string_view client_id,
                                                    std::string_view secret);

  // A public client (S40): registered as public. Errors: unauthenticated 401 for an unknown
  // client or a confidential one presenting no credentials; 503 from the store.
  core::Result<storage::Client> identify_public(std::string_view client_id);

 private:
  core::Result<storage::Client> find_client(std::string_view client_id);

  ClientAuthConfig config_;
  std::shared_ptr<storage::AuthStore> store_;
  std::shared_ptr<JwksFetcher> fetcher_;
  std::shared_ptr<core::Clock> clock_;
};

// Returns the stored form of a client secret (Client::secret_hash): secrets are server-made
// 256-bit random values, so SHA-256 suffices (see random.h secret_hash).
std::string client_secret_hash(std::string_view secret);

}  // namespace ipa::auth
