// AuthStore: the seam holding ALL state of the built-in SMART authorization server (clients,
// users, pending authorization requests, browser sessions, codes, grants, refresh tokens, jti
// replay records, signing keys, login throttles, audit events), so any node can continue any flow.
// Secrets arrive already hashed (codes, refresh tokens, session ids, client secrets, passwords);
// the store never sees a usable credential. Expiry is judged with the store's injected clock.
// Nothing here knows SQL. Implementations are safe for concurrent use from many threads and
// processes; each operation below is atomic.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace ipa::storage {

// SMART App Launch: client-public, client-confidential-asymmetric, client-confidential-symmetric;
// kBackend: SMART Backend Services (client_credentials with private_key_jwt, system/ scopes),
// registered by an administrator only. Stored as its integer value (append new types at the end).
enum class ClientType { kPublic, kConfidentialAsymmetric, kConfidentialSymmetric, kBackend };

struct Client {
  std::string client_id;
  std::string name;
  ClientType type = ClientType::kPublic;
  std::vector<std::string> redirect_uris;
  std::string scope;        // space-separated scopes the client may be granted; empty: any
  std::string jwks;         // inline JWK Set JSON (asymmetric, discouraged), or empty
  std::string jwks_uri;     // JWK Set URL (asymmetric, preferred), or empty
  std::string secret_hash;  // symmetric clients: hash of the client secret, else empty
  std::string token_endpoint_auth_method;  // none, private_key_jwt, client_secret_basic, ..._post
  std::string registration;                // RFC 7591 client metadata JSON as registered, or empty
  core::TimePoint created;
};

struct User {
  std::string username;
  std::string password_hash;  // PHC string (Argon2id); never logged
  std::string display_name;
  std::string fhir_user;              // e.g. "Patient/pat-0001" or "RelatedPerson/rp-0002-01"
  std::vector<std::string> patients;  // Patient ids the user may see: own, children, cared-for
  core::TimePoint created;
};

// A validated authorization request waiting for login, patient choice and consent.
struct AuthorizationRequest {
  std::string id;
  std::string session_id_hash;  // the browser session it is bound to (follows session rotation)
  std::string client_id;
  std::string redirect_uri;
  std::string scope;
  std::string state;
  std::string aud;
  std::string code_challenge;
  std::string code_challenge_method;  // always "S256"
  std::string nonce;                  // OIDC nonce, or empty
  std::string launch;                 // EHR launch id, or empty
  std::string patient;                // the patient chosen in the picker, or empty
  core::TimePoint created;
  core::TimePoint expires;
};

struct Session {
  std::string id_hash;   // hash of the cookie value
  std::string username;  // empty until login
  std::string csrf_token;
  core::TimePoint created;
  core::TimePoint expires;
};

// RFC 6749 section 4.1.2: short-lived, single use, bound to client, redirect_uri and PKCE.
struct AuthorizationCode {
  std::string code_hash;
  std::string client_id;
  std::string redirect_uri;
  std::string code_challenge;
  std::string grant_id;  // the grant the user approved (scope, patient, user, aud)
  std::string nonce;     // OIDC nonce for the id_token, or empty
  core::TimePoint created;
  core::TimePoint expires;
};

// What a user approved for a client: the unit that tokens carry and revocation removes.
struct Grant {
  std::string id;
  std::string client_id;
  std::string username;
  std::string patient;  // patient in context, or empty
  std::string scope;    // granted scopes, space-separated
  std::string aud;      // the FHIR base the grant is for
  core::TimePoint created;
  bool revoked = false;
};

struct RefreshToken {
  std::string token_hash;
  std::string grant_id;
  std::string client_id;
  std::string scope;  // the scope of this refresh token (a subset of the grant's)
  core::TimePoint created;
  core::TimePoint expires;
  bool used = false;  // rotated away; presenting it again is reuse
};

struct SigningKey {
  std::string kid;
  std::string alg;          // "RS256", "ES384", ...
  std::string private_jwk;  // private JWK JSON
  core::TimePoint created;
  std::optional<core::TimePoint> retired;  // set once the key no longer signs
  // Retired keys: when the last token the key signed has expired (set by the retirer:
  // retirement + its key retention); purge_expired deletes the key then. Unset while it signs.
  std::optional<core::TimePoint> expires;
};

// One entry of the audit trail: an authorization decision or a FHIR interaction. Never holds a
// token, code, password or search value (search parameter names only).
struct AuditEvent {
  core::TimePoint time;
  std::string type;  // "authorize", "login", "consent", "token", "revoke", "register", or a
                     // FHIR interaction: "read", "vread", "search-type", "operation", ...
  std::string client_id;
  std::string username;
  std::string patient;  // the patient whose record was touched (the token's), or empty
  std::string outcome;  // "success" / "failure"
  std::string detail;   // never a secret: an OAuth error code, the parameter names of a search
  std::string resource_type;  // FHIR interactions: the type read or searched, else empty
  // FHIR interactions on resources: the id, or the ids separated by one space when several
  // reads were folded into this event (`count` > 1); else empty.
  std::string resource_id;
  int status = 0;    // the HTTP status answered, 0 when not an HTTP exchange
  std::string node;  // the node that recorded it
  // How many requests this event stands for: 1, or more when the audit writer folded repeated
  // reads of one app for one patient (audit/audit_log.h); `time` is the first one's,
  // `last_time` the last one's (equal to `time` for one request).
  int64_t count = 1;
  core::TimePoint last_time;
  int64_t id = 0;  // assigned by the store when appended (increasing); 0 before
};

// Which audit events find_audit returns: newest first, all conditions AND-ed.
struct AuditQuery {
  std::string patient;                   // only events about this patient; empty: any
  std::optional<core::TimePoint> since;  // time >= since
  std::optional<core::TimePoint> until;  // time <= until
  int64_t before_id = 0;                 // id < before_id (the next page); 0: no bound
  int limit = 50;
};

// Outcome of consuming a single-use credential (code or refresh token).
template <typename T>
struct Consumed {
  // False: this call consumed it (`record` is it). True: it was already used before: a replay;
  // `record.grant_id` names the grant to revoke (RFC 6749 section 4.1.2, RFC 6819 5.2.2.3).
  bool reused = false;
  T record;
};

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // Clients. create: conflict 409 when the client_id exists. get/update/delete: not_found 404.
  virtual core::Status create_client(const Client& client) = 0;
  virtual core::Result<Client> get_client(const std::string& client_id) = 0;
  virtual core::Status update_client(const Client& client) = 0;
  virtual core::Status delete_client(const std::string& client_id) = 0;
  virtual core::Result<std::vector<Client>> list_clients() = 0;

  // Users. create: conflict 409 when the username exists. get/set: not_found 404.
  virtual core::Status create_user(const User& user) = 0;
  virtual core::Result<User> get_user(const std::string& username) = 0;
  virtual core::Status set_user_patients(const std::string& username,
                                         const std::vector<std::string>& patients) = 0;
  virtual core::Status set_user_password(const std::string& username,
                                         const std::string& password_hash) = 0;

  // Authorization requests. save: inserts or replaces by id. get: not_found 404 when unknown or
  // expired. take: returns and deletes it in one step, only when bound to `session_id_hash`
  // (not_found 404 otherwise), so one consent is submitted once.
  virtual core::Status save_authorization_request(const AuthorizationRequest& request) = 0;
  virtual core::Result<AuthorizationRequest> get_authorization_request(const std::string& id) = 0;
  virtual core::Result<AuthorizationRequest> take_authorization_request(
      const std::string& id, const std::string& session_id_hash) = 0;

  // Sessions. get: not_found 404 when unknown or expired. rotate: replaces `old_id_hash` by
  // `next` (new id, the logged-in user, a new CSRF token) and moves the pending authorization
  // requests to it, in one transaction; not_found 404 when the old session is gone.
  virtual core::Status create_session(const Session& session) = 0;
  virtual core::Result<Session> get_session(const std::string& id_hash) = 0;
  virtual core::Status rotate_session(const std::string& old_id_hash, const Session& next) = 0;
  virtual core::Status delete_session(const std::string& id_hash) = 0;

  // Codes. consume: exactly one caller ever gets reused == false for a code. Errors: not_found
  // 404 for an unknown code; gone 410 for an unused code past its expiry.
  virtual core::Status save_code(const AuthorizationCode& code) = 0;
  virtual core::Result<Consumed<AuthorizationCode>> consume_code(const std::string& code_hash) = 0;

  // Grants. revoke: marks it revoked and deletes its refresh tokens and unused codes, in one
  // transaction; revoking twice succeeds. get/revoke: not_found 404 when unknown.
  virtual core::Status create_grant(const Grant& grant) = 0;
  virtual core::Result<Grant> get_grant(const std::string& id) = 0;
  virtual core::Status revoke_grant(const std::string& id) = 0;
  virtual core::Result<std::vector<Grant>> list_grants(const std::string& username) = 0;

  // Refresh tokens. rotate: consumes `presented_hash` and saves `next` in one transaction, so
  // exactly one caller rotates a token; `next.grant_id` and `next.client_id` are taken from the
  // consumed token. reused == true reports a replay of a rotated token (nothing saved; the caller
  // revokes record.grant_id). get: the token as stored, `used` included, without consuming it
  // (client binding and scope checks before rotating; introspection). Errors of both: not_found
  // 404 for an unknown token (or one of a revoked grant); gone 410 for an expired unused one.
  virtual core::Status save_refresh_token(const RefreshToken& token) = 0;
  virtual core::Result<Consumed<RefreshToken>> rotate_refresh_token(
      const std::string& presented_hash, const RefreshToken& next) = 0;
  virtual core::Result<RefreshToken> get_refresh_token(const std::string& token_hash) = 0;

  // RFC 7523 section 3 / SMART client-confidential-asymmetric: remembers (client_id, jti) until
  // `expires`. Errors: conflict 409 when the pair was recorded before and has not expired.
  virtual core::Status record_jti(const std::string& client_id, const std::string& jti,
                                  core::TimePoint expires) = 0;

  // Signing keys. active: the non-retired keys, newest first. list: all, newest first.
  // add: conflict 409 when the kid exists. retire: sets `retired` to `at` and `expires`, or
  // keeps both when the key was retired before; not_found 404 when unknown.
  virtual core::Result<std::vector<SigningKey>> active_signing_keys() = 0;
  virtual core::Result<std::vector<SigningKey>> list_signing_keys() = 0;
  virtual core::Status add_signing_key(const SigningKey& key) = 0;
  virtual core::Status retire_signing_key(const std::string& kid, core::TimePoint at,
                                          core::TimePoint expires) = 0;

  // Login throttling: counts one attempt for `key` in a fixed window of length `window` (a new
  // window starts when the previous one has ended) and returns the count including this one.
  virtual core::Result<int64_t> throttle_hit(const std::string& key,
                                             std::chrono::seconds window) = 0;
  virtual core::Status throttle_reset(const std::string& key) = 0;

  // Audit events: appends a batch in one transaction (the store assigns ids; `id` of the
  // arguments is ignored). recent: newest first, at most `limit`. find: newest first, matching
  // `query`. get: not_found 404 when no event has that id.
  virtual core::Status append_audit(const std::vector<AuditEvent>& events) = 0;
  virtual core::Result<std::vector<AuditEvent>> recent_audit(int limit) = 0;
  virtual core::Result<std::vector<AuditEvent>> find_audit(const AuditQuery& query) = 0;
  virtual core::Result<AuditEvent> get_audit(int64_t id) = 0;

  // Deletes expired sessions, authorization requests, refresh tokens, jti records, old throttle
  // windows, retired signing keys past their `expires`, and codes past `code_retention` after
  // their expiry (kept so reuse is detected).
  // Returns the number of rows deleted.
  virtual core::Result<int64_t> purge_expired(std::chrono::seconds code_retention) = 0;
  // Deletes the grants made by client_credentials token requests (no user, no patient) created
  // at or before `issued_before`; the caller picks a time after which none of their access
  // tokens can still be valid. Returns the number deleted.
  virtual core::Result<int64_t> purge_system_grants(core::TimePoint issued_before) = 0;

  // Administration (`ipa-server admin`). revoke_grants: revokes, as revoke_grant does, every
  // unrevoked grant matching all non-empty fields of `filter` in one transaction and returns
  // their ids (so a node can drop them from its caches at once). Errors: bad_request 400 when
  // every field is empty. delete_user_sessions: ends every browser session of `username`;
  // returns how many it ended.
  struct GrantFilter {
    std::string username;
    std::string client_id;
    std::string patient;
  };
  virtual core::Result<std::vector<std::string>> revoke_grants(const GrantFilter& filter) = 0;
  virtual core::Result<int64_t> delete_user_sessions(const std::string& username) = 0;
};

}  // namespace ipa::storage
