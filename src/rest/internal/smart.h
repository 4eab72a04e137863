// The SMART App Launch authorization server (endpoints under /auth/ and the discovery documents
// under the FHIR base) and the guard that enforces its grants on the FHIR API. Safe for
// concurrent use; all state lives in the AuthStore.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "audit/audit_log.h"
#include "auth/client_auth.h"
#include "auth/random.h"
#include "auth/scope.h"
#include "auth/tokens.h"
#include "http/fetch.h"
#include "http/server.h"
#include "storage/auth_store.h"
#include "storage/resource_store.h"

namespace ipa::rest::internal {

struct State;
class CorsPolicy;
struct Outcome;

struct AuthState {
  std::shared_ptr<storage::AuthStore> store;
  std::shared_ptr<auth::SigningKeys> keys;
  std::unique_ptr<auth::TokenIssuer> issuer;
  std::unique_ptr<auth::TokenValidator> validator;
  std::unique_ptr<auth::ClientAuthenticator> client_auth;
  std::shared_ptr<auth::Random> random;
  std::string issuer_url;  // = the FHIR base
  std::string auth_base;   // e.g. https://ehr.example.org/auth
  bool secure_cookies = false;
  bool open_registration = false;    // RFC 7591 dynamic registration offered to anyone
  bool allow_loopback_jwks = false;  // tests: client JWK Sets from loopback over http
  std::shared_ptr<CorsPolicy> cors;  // S88; rest/cors.cc
  // The audit trail's queue (rest/audit.cc); declared last so it is destroyed first, writing
  // what is still queued while the store is alive.
  std::unique_ptr<audit::AuditLog> audit;
};

// What a valid access token allows on this request.
struct Caller {
  std::shared_ptr<const auth::AccessTokenClaims> claims;
  auth::ScopeSet scopes;
  std::string patient;  // in-context patient, or empty
};

// Builds the authorization server for `base_url` (the FHIR base; the AS lives at
// {origin}/auth). Errors: internal when the store is unusable.
std::unique_ptr<AuthState> make_auth_state(const std::string& base_url,
                                           const std::string& base_path,
                                           std::shared_ptr<storage::AuthStore> store,
                                           std::shared_ptr<core::Clock> clock,
                                           std::shared_ptr<auth::JwksFetcher> fetcher);

// Answers /auth/* and the discovery documents; nullopt when the path is not one of them.
std::optional<http::Response> handle_auth(State& s, const http::Request& req,
                                          const std::string& sub_path);

// The discovery documents under the FHIR base ("/.well-known/..."), or nullopt.
std::optional<http::Response> handle_discovery(State& s, const http::Request& req,
                                               const std::vector<std::string>& parts);

// Authenticates a FHIR API request: the caller, or the 401 response to send.
core::Result<Caller> authenticate(State& s, const http::Request& req);

// The 401 / 403 responses of RFC 6750 section 3.
http::Response bearer_challenge(const core::Error& e);

// CORS preflight answer for the FHIR API (S88): any origin, Authorization and Content-Type.
http::Response cors_preflight();

// Fetches client JWK Sets (jwks_uri, jku) with libcurl: https from public addresses only
// (http/fetch.h public_only), or also http from loopback when `allow_loopback` (tests).
std::shared_ptr<auth::JwksFetcher> curl_jwks_fetcher(bool allow_loopback);

// The fetch rules for client JWK Set URLs, shared by registration and the fetcher.
http::FetchOptions jwks_fetch_options(bool allow_loopback);

}  // namespace ipa::rest::internal

namespace ipa::rest::internal {

// ---- the grant on the FHIR API (guard.cc) ------------------------------------------------------

// Whether the caller's scopes allow `interaction` on `type` at all. Errors: 403 (insufficient
// scope).
core::Status allow(const Caller& c, auth::Interaction interaction, const std::string& type);

// Whether the caller is a backend service (SMART Backend Services: system/ scopes, no patient).
bool is_system(const Caller& c);

// Whether a backend-service caller reads every resource of `type` ("*": of every type) with no
// granular filter (type and system history, $summary need that).
bool unbounded_read(const Caller& c, const std::string& type);

// Writes by an app (null `c`: access control off, the plain do_* interaction), checked inside
// the transaction `w`: the scope's permission (403); for patient-context callers the current
// version must be in the patient's record (else 404, existence never revealed) and the result
// must be too (403): an update cannot move a resource into or out of the record, a create must
// land in it, a Patient changes only itself, resources outside every compartment are not
// writable; granular filters apply to the current and the written resource; conditional
// create searches only the compartment. Backend services (system/) are bounded by their
// scopes' types, permissions and filters only. Other errors as do_create/do_update/do_delete.
core::Result<Outcome> guarded_create(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, json::Value body,
                                     std::string_view if_none_exist, std::string assigned_id = {});
core::Result<Outcome> guarded_update(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, const std::string& id,
                                     json::Value body, std::optional<int64_t> if_match);
core::Result<Outcome> guarded_delete(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, const std::string& id,
                                     std::optional<int64_t> if_match);

// Whether a stored resource may reach the caller: in the patient's compartment (or the Patient
// itself), a Binary whose securityContext is the patient's, or a supporting resource outside any
// compartment; and matching the granular constraints of the caller's scopes. Store errors count
// as not visible (deny when unsure).
bool visible(State& s, const Caller& c, const storage::StoredResource& r);

// visible() for a resource an earlier entry of the same transaction wrote (a transaction
// Bundle's GET runs after its POST and PUT entries, FHIR R4 http.html#trules): the store's
// queries run outside the transaction and cannot see it yet, so the compartment and the
// granular filters are judged on the resource's own index rows, as the write guard judged it.
bool visible_in_transaction(State& s, const Caller& c, const storage::StoredResource& r);

// Restrictions a search must carry for the caller: extra parameters (granular scopes) and the
// patient whose compartment bounds the search. Errors: 403 when the type cannot be searched with
// a patient-level grant.
struct SearchBounds {
  std::vector<std::pair<std::string, std::string>> extra;  // AND-ed into the search
  std::string patient;  // compartment (or _id for Patient); empty when unbounded
};
core::Result<SearchBounds> search_bounds(const Caller& c, const std::string& type);

}  // namespace ipa::rest::internal
