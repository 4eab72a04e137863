// The SMART App Launch 2.0 standalone launch from the app's side (C2, C3, C8): scopes, the
// authorize request with PKCE S256, state and nonce, the loopback redirect listener (RFC 8252),
// the code exchange and refresh (public client, or private_key_jwt for
// client-confidential-asymmetric), id_token verification, and a driver for this project's
// documented login/picker/consent form contract (tests and CI, instead of a browser).
// Functions are pure or use the given Transport; a LoopbackListener is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/discovery.h"
#include "client/transport.h"
#include "core/result.h"
#include "jose/key.h"
#include "json/json.h"

namespace ipa::client {

inline constexpr const char* kDefaultScope =
    "launch/patient openid fhirUser offline_access patient/*.rs";

// Splits a space-separated scope string; empty parts are dropped.
std::vector<std::string> split_scopes(const std::string& scope);
std::string join_scopes(const std::vector<std::string>& scopes);

// Returns `scope` in SMART v1 form for a server without permission-v2: "patient/X.rs" (any
// letters among r and s) becomes "patient/X.read", letters with c, u or d add "patient/X.write";
// a granular "?param=value" part is dropped (v1 has none). Other scopes are unchanged.
std::string to_v1_scopes(const std::string& scope);

// What the user granted compared with what was asked (C3: the grant may be a subset).
struct ScopeReport {
  std::vector<std::string> granted;
  std::vector<std::string> not_granted;  // asked for, not in the grant
  std::vector<std::string> extra;        // in the grant, not asked for
};
ScopeReport compare_scopes(const std::string& requested, const std::string& granted);

// A client identity: a public client has no key; a confidential asymmetric client signs a
// private_key_jwt assertion with `key` (SMART client-confidential-asymmetric).
struct ClientCredentials {
  std::string client_id;
  std::shared_ptr<const jose::Key> key;  // null for a public client
  jose::Alg alg = jose::Alg::kES384;
};

// Reads a PEM private key for client authentication: ES384 (P-384) or RS384 (RSA). Sets the
// key's kid to its RFC 7638 thumbprint (what `ipa-client keygen` publishes) and its alg.
// Errors (400): unreadable PEM, a public key only, or a key fitting neither ES384 nor RS384.
core::Result<ClientCredentials> load_client_key(const std::string& client_id,
                                                const std::string& pem);

// Returns the client assertion of RFC 7523 / SMART client-confidential-asymmetric: header
// alg, kid, typ "JWT"; claims iss = sub = client_id, aud = token endpoint, a random jti, exp
// `lifetime` after `now` (SMART: at most five minutes). Errors: internal (500) when the key
// cannot sign.
core::Result<std::string> client_assertion(const ClientCredentials& creds,
                                           const std::string& token_endpoint, int64_t now,
                                           int64_t lifetime = 240);

// One authorization request: the URL to open and the secrets to check the answer with.
struct AuthorizeRequest {
  std::string url;
  std::string state;          // 32 random bytes, base64url (>= 122 bits, SMART App protection)
  std::string nonce;          // OIDC nonce, checked in the id_token
  std::string code_verifier;  // PKCE (RFC 7636), 43+ characters
  std::string redirect_uri;
  std::string scope;
};

// Builds the authorize URL: response_type=code, client_id, redirect_uri, scope, state, aud =
// the FHIR base, code_challenge (S256) and nonce.
AuthorizeRequest build_authorize_request(const SmartConfig& config, const std::string& aud,
                                         const std::string& client_id,
                                         const std::string& redirect_uri, const std::string& scope);

// What arrives at the redirect URI.
struct Callback {
  std::string code;
  std::string state;
  std::string error;
  std::string error_description;
};

// Checks a callback against the request: state must match exactly (constant-time compare);
// returns the code. Errors: unauthenticated (401) for a wrong or missing state (never trust
// the code then), forbidden (403) for an error answer (e.g. access_denied), bad_request (400)
// when the code is missing.
core::Result<std::string> accept_callback(const Callback& cb, const AuthorizeRequest& request);

// A one-shot HTTP listener on 127.0.0.1, port chosen by the system, that waits for the
// redirect to /callback (RFC 8252 section 7.3).
class LoopbackListener {
 public:
  // Errors: unavailable (503) when no port can be bound.
  static core::Result<std::unique_ptr<LoopbackListener>> start();
  virtual ~LoopbackListener() = default;
  // "http://127.0.0.1:<port>/callback"
  virtual std::string redirect_uri() const = 0;
  // Waits for the first request to /callback. Errors: unavailable (503) on timeout.
  virtual core::Result<Callback> wait(std::chrono::milliseconds timeout) = 0;
};

struct TokenResponse {
  std::string access_token;
  std::string refresh_token;
  std::string id_token;
  std::string scope;
  std::string patient;
  std::string token_type;
  int64_t expires_in = 0;
  // The answer as received, for the conformance check (member types, Cache-Control). Holds
  // tokens: never print it.
  json::Value body;
  std::vector<Header> headers;
};

// Exchanges the code (RFC 6749 section 4.1.3 with PKCE). Errors: unauthenticated (401) with
// the OAuth error and error_description (never the body, which may carry tokens), unavailable
// (503) when unreachable, bad_request (400) when the answer lacks access_token or is not
// Bearer.
core::Result<TokenResponse> exchange_code(Transport& transport, const SmartConfig& config,
                                          const ClientCredentials& creds, const std::string& code,
                                          const std::string& redirect_uri,
                                          const std::string& code_verifier, int64_t now);

// Uses the refresh token (RFC 6749 section 6); errors as exchange_code().
core::Result<TokenResponse> refresh_tokens(Transport& transport, const SmartConfig& config,
                                           const ClientCredentials& creds,
                                           const std::string& refresh_token, int64_t now);

// RFC 7009 token revocation at `config.revocation_endpoint`, authenticated like the token
// request, with token_type_hint "refresh_token" or "access_token". Errors: unavailable (503)
// when the server offers no revocation_endpoint or cannot be reached; unauthenticated (401)
// with the OAuth error when the server refuses (RFC 7009 section 2.2.1).
core::Status revoke_token(Transport& transport, const SmartConfig& config,
                          const ClientCredentials& creds, const std::string& token,
                          const std::string& token_type_hint, int64_t now);

// Verifies an id_token (OIDC Core 3.1.3.7; SMART "Steps for using an ID token", C8): the
// signature against the issuer's jwks_uri, iss equals `config.issuer`, aud contains the
// client_id (azp too when several), exp in the future (60 s leeway), nonce equal. Returns the
// claims. Errors: unauthenticated (401) naming the failed check; unavailable (503) when the
// key set cannot be fetched.
core::Result<json::Value> verify_id_token(Transport& transport, const SmartConfig& config,
                                          const std::string& id_token, const std::string& client_id,
                                          const std::string& nonce, int64_t now);

// RFC 7591 dynamic registration of a native app: redirect URI http://127.0.0.1/callback (any
// port, RFC 8252), grant types authorization_code and refresh_token, token_endpoint_auth_method
// "none" (public) or "private_key_jwt" with the public JWKS of `creds.key`. Returns the
// client_id the server assigned. Errors: unavailable (503) when the server offers no
// registration_endpoint or cannot be reached; bad_request (400) with the server's error.
core::Result<std::string> register_client(Transport& transport, const SmartConfig& config,
                                          const ClientCredentials& creds,
                                          const std::string& client_name, const std::string& scope);

// The user's side of this project's documented form contract (README "Form contract"), for
// tests and CI: GET the authorize URL, follow to the login page, POST username/password with
// the hidden request and csrf_token, keep the ipa_session cookie; on the picker choose
// `patient` (Errors: bad_request listing the choices when it is empty or not offered); on the
// consent page submit every scope checkbox except `deny_scopes` with decision=approve. Finally
// GETs the redirect to the app (so a LoopbackListener receives it) and returns that URL.
// Errors: forbidden (403) for a refused sign-in, bad_request (400) for an unexpected page.
struct FormLogin {
  std::string username;
  std::string password;
  std::string patient;
  std::vector<std::string> deny_scopes;
};
core::Result<std::string> drive_form_login(Transport& transport, const std::string& authorize_url,
                                           const FormLogin& login);

}  // namespace ipa::client
