// Signed tokens of the authorization server: access tokens as RFC 9068 JWTs (typ at+jwt, with a
// grant id) and OIDC id_tokens (typ JWT, RS256 by default), the server's signing keys (created
// on first use, kept in the AuthStore, rotated, published as a JWKS), and the validator the FHIR
// endpoints call per request. The validator caches verified tokens (bounded LRU by token hash)
// and grant status (at most `grant_status_ttl` stale; a revocation on this node is seen at once).
// Does not issue refresh tokens or codes (opaque: random.h). All classes are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scope.h"
#include "core/clock.h"
#include "core/result.h"
#include "jose/key.h"
#include "json/json.h"
#include "storage/auth_store.h"

namespace ipa::auth {

class Random;

struct TokenConfig {
  std::string issuer;    // iss of every token; the `issuer` of both discovery documents (S74)
  std::string audience;  // the FHIR base URL: aud of access tokens (S90)
  std::chrono::seconds access_token_lifetime{3600};  // S38: at most an hour
  std::chrono::seconds id_token_lifetime{3600};
  std::chrono::seconds leeway{60};                 // clock skew allowed on exp / nbf / iat
  jose::Alg access_token_alg = jose::Alg::kRS256;  // ES384 offered
  jose::Alg id_token_alg = jose::Alg::kRS256;      // OIDC Core section 15.1, S73
  // Retired keys stay in the JWKS and verify this long after retirement (S77); must exceed
  // the token lifetimes.
  std::chrono::seconds key_retention{std::chrono::hours(24)};
  // A node re-reads the store's keys this often, so it signs with a key rotated elsewhere.
  std::chrono::seconds key_refresh{60};
  size_t token_cache_entries = 10000;
  std::chrono::milliseconds grant_status_ttl{1000};
};

// The server's signing keys, cached from the AuthStore.
class SigningKeys {
 public:
  SigningKeys(std::shared_ptr<storage::AuthStore> store, std::shared_ptr<core::Clock> clock,
              const TokenConfig& config);

  // Returns the newest active key for `alg`, generating and storing one when there is none.
  // Errors: from the store (503), internal (500) when key generation fails.
  core::Result<std::shared_ptr<const jose::Key>> signing_key(jose::Alg alg);

  // Returns the key `kid` when it is active or retired within the retention. Reloads from the
  // store on a miss, at most once a second. Errors: unauthenticated 401 for an unknown kid.
  core::Result<std::shared_ptr<const jose::Key>> verification_key(std::string_view kid);

  // Returns {"keys": [...]}: the public JWKs of active keys and keys retired within the
  // retention (S77); never a private member.
  core::Result<json::Value> jwks();

  // Generates a new key for `alg`, stores it, and retires the other active keys of `alg`.
  // Returns the new kid. Errors: from the store, internal when generation fails.
  core::Result<std::string> rotate(jose::Alg alg);

 private:
  struct Entry {
    storage::SigningKey meta;
    std::shared_ptr<const jose::Key> key;
  };
  core::Status reload_locked();
  bool usable_locked(const Entry& e) const;
  core::Result<std::string> create_locked(jose::Alg alg);

  std::shared_ptr<storage::AuthStore> store_;
  std::shared_ptr<core::Clock> clock_;
  std::chrono::seconds retention_;
  std::chrono::seconds refresh_;
  std::mutex mu_;
  std::vector<Entry> keys_;  // newest first
  core::TimePoint loaded_at_{};
  bool loaded_ = false;
};

// What an access token says (RFC 9068 section 2.2 plus SMART context).
struct AccessTokenClaims {
  std::string iss;
  std::string sub;  // the user (username); empty for none
  std::string aud;  // the FHIR base
  std::string client_id;
  std::string scope;  // granted scopes, space-separated
  // `scope` parsed once when the token is verified (the verified-token cache keeps it, so a
  // request does not parse it again); unset when it does not parse.
  std::optional<ScopeSet> scope_set;
  std::string patient;    // patient in context, or empty
  std::string fhir_user;  // when fhirUser was granted, or empty
  std::string grant_id;   // claim "grant": the grant revocation acts on
  std::string jti;
  core::TimePoint iat;
  core::TimePoint exp;
};

struct IssuedAccessToken {
  std::string token;
  AccessTokenClaims claims;
  int64_t expires_in = 0;  // seconds, for the token response (S38)
};

// OIDC Core section 2 / S74.
struct IdTokenRequest {
  std::string sub;
  std::string client_id;  // aud
  std::string nonce;      // from the authorization request, or empty
  std::string fhir_user;  // S72/S75: when openid and fhirUser were granted, or empty
  std::string name;       // display name when `profile` was granted, or empty
  std::optional<core::TimePoint> auth_time;
};

class TokenIssuer {
 public:
  TokenIssuer(TokenConfig config, std::shared_ptr<SigningKeys> keys,
              std::shared_ptr<core::Clock> clock, std::shared_ptr<Random> random);

  // Signs an access token for `grant` (iss, sub, aud, exp, iat, jti, client_id, scope, patient,
  // fhirUser, grant). `scope` may narrow the grant's scope (refresh). Errors: from SigningKeys.
  core::Result<IssuedAccessToken> issue_access_token(const storage::Grant& grant,
                                                     const std::string& scope,
                                                     const std::string& fhir_user);

  // Signs an id_token (typ JWT, alg id_token_alg, kid). Errors: from SigningKeys.
  core::Result<std::string> issue_id_token(const IdTokenRequest& request);

 private:
  TokenConfig config_;
  std::shared_ptr<SigningKeys> keys_;
  std::shared_ptr<core::Clock> clock_;
  std::shared_ptr<Random> random_;
};

class TokenValidator {
 public:
  TokenValidator(TokenConfig config, std::shared_ptr<SigningKeys> keys,
                 std::shared_ptr<storage::AuthStore> store, std::shared_ptr<core::Clock> clock);
  ~TokenValidator();

  // Validates a bearer access token: compact JWS, typ at+jwt (never an id_token), kid -> key,
  // signature, iss, aud (= the FHIR base, trailing '/' ignored), exp / nbf with leeway, the
  // grant claim naming an unrevoked grant. Errors: unauthenticated 401 (IssueType login; the
  // REST layer answers error="invalid_token") for every failure, diagnostics saying which;
  // unavailable 503 when the store cannot be asked about the grant.
  core::Result<std::shared_ptr<const AccessTokenClaims>> validate(std::string_view token);

  // The checks validate() repeats on every use of a token it verified before: expiry (with
  // leeway) and the grant not revoked. For callers that remember the claims of a token they
  // already validated (the REST layer, per connection). Errors as validate().
  core::Result<std::shared_ptr<const AccessTokenClaims>> still_valid(
      std::shared_ptr<const AccessTokenClaims> claims);

  // Makes this node refuse the grant's tokens at once (call after AuthStore::revoke_grant).
  void grant_revoked(const std::string& grant_id);

 private:
  struct Caches;
  core::Result<std::shared_ptr<const AccessTokenClaims>> verify(std::string_view token);
  core::Status check_grant(const std::string& grant_id);

  TokenConfig config_;
  std::shared_ptr<SigningKeys> keys_;
  std::shared_ptr<storage::AuthStore> store_;
  std::shared_ptr<core::Clock> clock_;
  std::unique_ptr<Caches> caches_;
};

// Returns epoch seconds of `t` (JWT NumericDate, RFC 7519 section 2).
int64_t numeric_date(core::TimePoint t);

}  // namespace ipa::auth
