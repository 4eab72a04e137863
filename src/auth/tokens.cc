#include "auth/tokens.h"

#include <algorithm>
#include <list>
#include <unordered_map>
#include <utility>

#include "auth/random.h"
#include "jose/bytes.h"
#include "jose/jws.h"

namespace ipa::auth {
namespace {

using core::Result;
using core::Status;

core::TimePoint from_numeric_date(int64_t s) {
  return core::TimePoint(
      std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::seconds(s)));
}

core::Error invalid_token(std::string why) {
  return core::unauthenticated("The access token is invalid: " + std::move(why) + ".");
}

std::string_view strip_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

// RFC 9068 section 2.1: "at+jwt"; the media-type form and letter case are tolerated
// (RFC 7515 section 4.1.9).
bool is_access_token_typ(std::string_view typ) {
  std::string lower;
  for (char c : typ) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower == "at+jwt" || lower == "application/at+jwt";
}

bool aud_matches(const json::Value& aud, std::string_view expected) {
  expected = strip_slash(expected);
  if (aud.is_string()) return strip_slash(aud.text()) == expected;
  if (aud.is_array()) {
    return std::any_of(aud.items().begin(), aud.items().end(), [&](const json::Value& v) {
      return v.is_string() && strip_slash(v.text()) == expected;
    });
  }
  return false;
}

}  // namespace

int64_t numeric_date(core::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// ---- SigningKeys ----

SigningKeys::SigningKeys(std::shared_ptr<storage::AuthStore> store,
                         std::shared_ptr<core::Clock> clock, const TokenConfig& config)
    : store_(std::move(store)),
      clock_(std::move(clock)),
      retention_(config.key_retention),
      refresh_(config.key_refresh) {}

Status SigningKeys::reload_locked() {
  auto stored = store_->list_signing_keys();
  IPA_RETURN_IF_ERROR(stored);
  std::vector<Entry> fresh;
  for (storage::SigningKey& meta : *stored) {
    // Reuse the parsed key when we have it: parsing an RSA private key is not free.
    auto known = std::find_if(keys_.begin(), keys_.end(),
                              [&](const Entry& e) { return e.meta.kid == meta.kid; });
    if (known != keys_.end()) {
      fresh.push_back({std::move(meta), known->key});
      continue;
    }
    auto jwk = json::parse(meta.private_jwk);
    if (!jwk.ok()) return core::internal("signing key " + meta.kid + " is not JSON");
    auto key = jose::Key::from_jwk(*jwk);
    if (!key.ok()) return core::internal("signing key " + meta.kid + " is unusable");
    key->set_kid(meta.kid);
    if (auto alg = jose::parse_alg(meta.alg)) key->set_alg(*alg);
    fresh.push_back({std::move(meta), std::make_shared<const jose::Key>(std::move(key).value())});
  }
  keys_ = std::move(fresh);
  loaded_at_ = clock_->now();
  loaded_ = true;
  return {};
}

bool SigningKeys::usable_locked(const Entry& e) const {
  return !e.meta.retired || *e.meta.retired + retention_ > clock_->now();
}

Result<std::string> SigningKeys::create_locked(jose::Alg alg) {
  auto key = jose::Key::generate(alg);
  IPA_RETURN_IF_ERROR(key);
  storage::SigningKey meta;
  meta.kid = key->kid();
  meta.alg = std::string(jose::alg_name(alg));
  meta.private_jwk = json::write(key->private_jwk());
  meta.created = clock_->now();
  IPA_RETURN_IF_ERROR(store_->add_signing_key(meta));
  return meta.kid;
}

Result<std::shared_ptr<const jose::Key>> SigningKeys::signing_key(jose::Alg alg) {
  std::lock_guard lock(mu_);
  if (!loaded_ || clock_->now() - loaded_at_ >= refresh_) IPA_RETURN_IF_ERROR(reload_locked());
  std::string_view name = jose::alg_name(alg);
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (const Entry& e : keys_) {  // newest first
      if (!e.meta.retired && e.meta.alg == name) return e.key;
    }
    if (attempt == 0) {
      IPA_RETURN_IF_ERROR(create_locked(alg));
      IPA_RETURN_IF_ERROR(reload_locked());
    }
  }
  return core::internal("no signing key after creating one");
}

Result<std::shared_ptr<const jose::Key>> SigningKeys::verification_key(std::string_view kid) {
  std::lock_guard lock(mu_);
  auto find = [&]() -> std::shared_ptr<const jose::Key> {
    for (const Entry& e : keys_) {
      if (e.meta.kid == kid && usable_locked(e)) return e.key;
    }
    return nullptr;
  };
  if (loaded_) {
    if (auto key = find()) return key;
  }
  // A key created on another node: reload, but at most once a second, so tokens with invented
  // kids cannot turn every request into a store read.
  if (!loaded_ || clock_->now() - loaded_at_ >= std::chrono::seconds(1)) {
    IPA_RETURN_IF_ERROR(reload_locked());
    if (auto key = find()) return key;
  }
  return invalid_token("unknown signing key");
}

Result<json::Value> SigningKeys::jwks() {
  std::lock_guard lock(mu_);
  if (!loaded_ || clock_->now() - loaded_at_ >= refresh_) IPA_RETURN_IF_ERROR(reload_locked());
  json::Value keys = json::Value::array();
  for (const Entry& e : keys_) {
    if (usable_locked(e)) keys.push_back(e.key->public_jwk());
  }
  json::Value out = json::Value::object();
  out.set("keys", std::move(keys));
  return out;
}

Result<std::string> SigningKeys::rotate(jose::Alg alg) {
  std::lock_guard lock(mu_);
  IPA_RETURN_IF_ERROR(reload_locked());
  std::string_view name = jose::alg_name(alg);
  auto kid = create_locked(alg);
  IPA_RETURN_IF_ERROR(kid);
  const core::TimePoint now = clock_->now();
  for (const Entry& e : keys_) {
    if (!e.meta.retired && e.meta.alg == name) {
      // Every token it signed has expired once the retention has passed (the retention covers
      // the token lifetime, the other nodes' key refresh and the leeway): the purge deletes it.
      IPA_RETURN_IF_ERROR(store_->retire_signing_key(e.meta.kid, now, now + retention_));
    }
  }
  IPA_RETURN_IF_ERROR(reload_locked());
  return kid;
}

// ---- TokenIssuer ----

TokenIssuer::TokenIssuer(TokenConfig config, std::shared_ptr<SigningKeys> keys,
                         std::shared_ptr<core::Clock> clock, std::shared_ptr<Random> random)
    : config_(std::move(config)),
      keys_(std::move(keys)),
      clock_(std::move(clock)),
      random_(std::move(random)) {}

Result<IssuedAccessToken> TokenIssuer::issue_access_token(const storage::Grant& grant,
                                                          const std::string& scope,
                                                          const std::string& fhir_user) {
  auto key = keys_->signing_key(config_.access_token_alg);
  IPA_RETURN_IF_ERROR(key);
  // Whole seconds, so the claims we return equal the claims a validator reads back.
  core::TimePoint now = from_numeric_date(numeric_date(clock_->now()));
  IssuedAccessToken out;
  AccessTokenClaims& c = out.claims;
  c.iss = config_.issuer;
  c.sub = grant.username;
  c.aud = config_.audience;
  c.client_id = grant.client_id;
  c.scope = scope;
  c.patient = grant.patient;
  c.fhir_user = fhir_user;
  c.grant_id = grant.id;
  c.jti = random_->token(16);
  c.iat = now;
  c.exp = now + config_.access_token_lifetime;
  out.expires_in = config_.access_token_lifetime.count();

  // RFC 9068 section 2.2; SMART context claims beside them.
  json::Value p = json::Value::object();
  p.set("iss", json::Value::string(c.iss));
  if (!c.sub.empty()) p.set("sub", json::Value::string(c.sub));
  p.set("aud", json::Value::string(c.aud));
  p.set("exp", json::Value::number(numeric_date(c.exp)));
  p.set("iat", json::Value::number(numeric_date(c.iat)));
  p.set("jti", json::Value::string(c.jti));
  p.set("client_id", json::Value::string(c.client_id));
  p.set("scope", json::Value::string(c.scope));
  if (!c.patient.empty()) p.set("patient", json::Value::string(c.patient));
  if (!c.fhir_user.empty()) p.set("fhirUser", json::Value::string(c.fhir_user));
  p.set("grant", json::Value::string(c.grant_id));
  auto token = jose::sign_jwt(**key, config_.access_token_alg, p, "at+jwt");
  IPA_RETURN_IF_ERROR(token);
  out.token = std::move(token).value();
  return out;
}

Result<std::string> TokenIssuer::issue_id_token(const IdTokenRequest& r) {
  auto key = keys_->signing_key(config_.id_token_alg);
  IPA_RETURN_IF_ERROR(key);
  core::TimePoint now = clock_->now();
  // OIDC Core section 2 and 3.1.3.7; SMART scopes-and-launch-context (fhirUser).
  json::Value p = json::Value::object();
  p.set("iss", json::Value::string(config_.issuer));
  p.set("sub", json::Value::string(r.sub));
  p.set("aud", json::Value::string(r.client_id));
  p.set("exp", json::Value::number(numeric_date(now + config_.id_token_lifetime)));
  p.set("iat", json::Value::number(numeric_date(now)));
  if (r.auth_time) p.set("auth_time", json::Value::number(numeric_date(*r.auth_time)));
  if (!r.nonce.empty()) p.set("nonce", json::Value::string(r.nonce));
  if (!r.fhir_user.empty()) p.set("fhirUser", json::Value::string(r.fhir_user));
  if (!r.name.empty()) p.set("name", json::Value::string(r.name));
  return jose::sign_jwt(**key, config_.id_token_alg, p, "JWT");
}

// ---- TokenValidator ----

struct TokenValidator::Caches {
  std::mutex mu;
  // LRU of verified tokens by SHA-256 of the token: front = most recent.
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const AccessTokenClaims>>>;
  Lru lru;
  std::unordered_map<std::string, Lru::iterator> index;
  struct GrantStatus {
    bool revoked = false;
    core::TimePoint checked;
  };
  std::unordered_map<std::string, GrantStatus> grants;
};

TokenValidator::TokenValidator(TokenConfig config, std::shared_ptr<SigningKeys> keys,
                               std::shared_ptr<storage::AuthStore> store,
                               std::shared_ptr<core::Clock> clock)
    : config_(std::move(config)),
      keys_(std::move(keys)),
      store_(std::move(store)),
      clock_(std::move(clock)),
      caches_(std::make_unique<Caches>()) {}

TokenValidator::~TokenValidator() = default;

Result<std::shared_ptr<const AccessTokenClaims>> TokenValidator::validate(std::string_view token) {
  if (token.empty()) return invalid_token("empty");
  std::string hash = jose::sha256(token);
  std::shared_ptr<const AccessTokenClaims> claims;
  {
    std::lock_guard lock(caches_->mu);
    auto it = caches_->index.find(hash);
    if (it != caches_->index.end()) {
      caches_->lru.splice(caches_->lru.begin(), caches_->lru, it->second);
      claims = it->second->second;
    }
  }
  if (!claims) {
    auto verified = verify(token);
    IPA_RETURN_IF_ERROR(verified);
    claims = *verified;
    std::lock_guard lock(caches_->mu);
    if (caches_->index.find(hash) == caches_->index.end()) {
      caches_->lru.emplace_front(hash, claims);
      caches_->index[hash] = caches_->lru.begin();
      while (caches_->lru.size() > std::max<size_t>(1, config_.token_cache_entries)) {
        caches_->index.erase(caches_->lru.back().first);
        caches_->lru.pop_back();
      }
    }
  }
  return still_valid(std::move(claims));
}

Result<std::shared_ptr<const AccessTokenClaims>> TokenValidator::still_valid(
    std::shared_ptr<const AccessTokenClaims> claims) {
  // Time and revocation are checked on every use, cached or not.
  if (clock_->now() - config_.leeway >= claims->exp) return invalid_token("expired");
  IPA_RETURN_IF_ERROR(check_grant(claims->grant_id));
  return claims;
}

Result<std::shared_ptr<const AccessTokenClaims>> TokenValidator::verify(std::string_view token) {
  auto jws = jose::parse_jws(token);
  if (!jws.ok()) return invalid_token("malformed");
  // RFC 9068 section 4: the typ tells an access token from an id_token (typ JWT).
  if (!is_access_token_typ(jws->header.get_string("typ")))
    return invalid_token("not an access token");
  std::string_view kid = jws->header.get_string("kid");
  if (kid.empty()) return invalid_token("no kid");
  auto key = keys_->verification_key(kid);
  IPA_RETURN_IF_ERROR(key);
  if (!jose::verify_jws(*jws, **key)) return invalid_token("bad signature");

  const json::Value& p = jws->payload;
  auto c = std::make_shared<AccessTokenClaims>();
  c->iss = std::string(p.get_string("iss"));
  if (c->iss != config_.issuer) return invalid_token("wrong issuer");
  const json::Value* aud = p.find("aud");
  if (aud == nullptr || !aud_matches(*aud, config_.audience))
    return invalid_token("wrong audience");
  c->aud = config_.audience;
  auto number = [&](std::string_view name) -> std::optional<int64_t> {
    const json::Value* v = p.find(name);
    if (v == nullptr || !v->is_number()) return std::nullopt;
    return v->as_int();
  };
  auto exp = number("exp");
  auto iat = number("iat");
  if (!exp || !iat) return invalid_token("exp and iat are required");
  c->exp = from_numeric_date(*exp);
  c->iat = from_numeric_date(*iat);
  core::TimePoint now = clock_->now();
  if (now - config_.leeway >= c->exp) return invalid_token("expired");
  if (p.find("nbf") != nullptr) {
    auto nbf = number("nbf");
    if (!nbf || from_numeric_date(*nbf) > now + config_.leeway)
      return invalid_token("not yet valid");
  }
  if (c->iat > now + config_.leeway) return invalid_token("issued in the future");
  c->sub = std::string(p.get_string("sub"));
  c->client_id = std::string(p.get_string("client_id"));
  c->scope = std::string(p.get_string("scope"));
  if (auto parsed = ScopeSet::parse(c->scope); parsed.ok()) c->scope_set = std::move(*parsed);
  c->patient = std::string(p.get_string("patient"));
  c->fhir_user = std::string(p.get_string("fhirUser"));
  c->grant_id = std::string(p.get_string("grant"));
  c->jti = std::string(p.get_string("jti"));
  if (c->client_id.empty() || c->grant_id.empty() || c->jti.empty()) {
    return invalid_token("client_id, grant and jti are required");
  }
  return std::shared_ptr<const AccessTokenClaims>(std::move(c));
}

Status TokenValidator::check_grant(const std::string& grant_id) {
  core::TimePoint now = clock_->now();
  {
    std::lock_guard lock(caches_->mu);
    auto it = caches_->grants.find(grant_id);
    if (it != caches_->grants.end() && now - it->second.checked < config_.grant_status_ttl) {
      if (it->second.revoked) return invalid_token("revoked");
      return {};
    }
  }
  auto grant = store_->get_grant(grant_id);
  bool revoked;
  if (grant.ok()) {
    revoked = grant->revoked;
  } else if (grant.error().http_status == 404) {
    revoked = true;  // an unknown grant authorizes nothing
  } else {
    return std::move(grant).error();
  }
  std::lock_guard lock(caches_->mu);
  auto& grants = caches_->grants;
  if (grants.size() >= std::max<size_t>(1, config_.token_cache_entries)) {
    std::erase_if(grants, [&](const auto& kv) {
      return now - kv.second.checked >= config_.grant_status_ttl;
    });
    if (grants.size() >= config_.token_cache_entries) grants.clear();
  }
  auto& status = grants[grant_id];
  // A revocation seen locally is final: never overwrite it with an older read.
  status.revoked = status.revoked || revoked;
  status.checked = now;
  if (status.revoked) return invalid_token("revoked");
  return {};
}

void TokenValidator::grant_revoked(const std::string& grant_id) {
  std::lock_guard lock(caches_->mu);
  auto& status = caches_->grants[grant_id];
  status.revoked = true;
  status.checked = clock_->now();
}

}  // namespace ipa::auth
