#include "auth/client_auth.h"

#include <algorithm>
#include <utility>

#include "auth/random.h"
#include "jose/bytes.h"
#include "jose/jwks.h"
#include "jose/jws.h"

namespace ipa::auth {
namespace {

using core::Result;

core::Error invalid_client(std::string why) {
  return core::unauthenticated("Client authentication failed: " + std::move(why) + ".");
}

core::TimePoint from_numeric_date(int64_t s) {
  return core::TimePoint(
      std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::seconds(s)));
}

bool aud_is(const json::Value& aud, std::string_view url) {
  if (aud.is_string()) return aud.text() == url;
  if (aud.is_array()) {
    return std::any_of(aud.items().begin(), aud.items().end(),
                       [&](const json::Value& v) { return v.is_string() && v.text() == url; });
  }
  return false;
}

}  // namespace

std::string client_secret_hash(std::string_view secret) { return secret_hash(secret); }

ClientAuthenticator::ClientAuthenticator(ClientAuthConfig config,
                                         std::shared_ptr<storage::AuthStore> store,
                                         std::shared_ptr<JwksFetcher> fetcher,
                                         std::shared_ptr<core::Clock> clock)
    : config_(std::move(config)),
      store_(std::move(store)),
      fetcher_(std::move(fetcher)),
      clock_(std::move(clock)) {}

Result<storage::Client> ClientAuthenticator::find_client(std::string_view client_id) {
  if (client_id.empty()) return invalid_client("no client_id");
  auto client = store_->get_client(std::string(client_id));
  if (!client.ok() && client.error().http_status == 404) return invalid_client("unknown client");
  return client;
}

Result<storage::Client> ClientAuthenticator::authenticate_assertion(std::string_view assertion_type,
                                                                    std::string_view assertion) {
  // SAL: client-confidential-asymmetric, "Authenticating to the Token endpoint"; S48.
  if (assertion_type != kJwtBearerAssertionType) {
    return core::bad_request(
        core::IssueType::kValue,
        "client_assertion_type must be " + std::string(kJwtBearerAssertionType) + ".");
  }
  auto jws = jose::parse_jws(assertion);
  if (!jws.ok()) return invalid_client("the client_assertion is not a JWS");
  const json::Value& header = jws->header;
  const json::Value& claims = jws->payload;

  // S42: alg, kid, typ.
  if (std::find(config_.assertion_algs.begin(), config_.assertion_algs.end(), jws->alg) ==
      config_.assertion_algs.end()) {
    return invalid_client("alg " + std::string(jose::alg_name(jws->alg)) + " is not accepted");
  }
  if (header.get_string("kid").empty()) return invalid_client("the JWT header has no kid");
  if (const json::Value* typ = header.find("typ"); typ != nullptr && typ->text() != "JWT") {
    return invalid_client("the JWT header typ must be JWT");
  }

  // S43/S44: iss = sub = a registered asymmetric client.
  std::string_view iss = claims.get_string("iss");
  if (iss.empty() || claims.get_string("sub") != iss) {
    return invalid_client("iss and sub must both be the client_id");
  }
  auto client = find_client(iss);
  IPA_RETURN_IF_ERROR(client);
  // Backend services authenticate the same way (SMART Backend Services: "Request access token").
  if (client->type != storage::ClientType::kConfidentialAsymmetric &&
      client->type != storage::ClientType::kBackend) {
    return invalid_client("the client is not registered for private_key_jwt");
  }
  const json::Value* aud = claims.find("aud");
  if (aud == nullptr || !aud_is(*aud, config_.token_url)) {
    return invalid_client("aud must be the token endpoint URL");
  }
  const json::Value* exp_value = claims.find("exp");
  std::optional<int64_t> exp_seconds =
      exp_value != nullptr && exp_value->is_number() ? exp_value->as_int() : std::nullopt;
  if (!exp_seconds) return invalid_client("exp must be an integer");
  core::TimePoint exp = from_numeric_date(*exp_seconds);
  core::TimePoint now = clock_->now();
  if (exp <= now - config_.leeway) return invalid_client("the assertion expired");
  if (exp > now + config_.max_assertion_lifetime + config_.leeway) {
    return invalid_client("exp is more than five minutes ahead");
  }
  // RFC 7519 sections 4.1.5-4.1.6: an assertion not yet valid (nbf) or issued in the future
  // (iat) is refused, beyond the clock leeway; either must be an integer when present.
  for (const char* name : {"nbf", "iat"}) {
    const json::Value* v = claims.find(name);
    if (v == nullptr) continue;
    std::optional<int64_t> seconds = v->is_number() ? v->as_int() : std::nullopt;
    if (!seconds) return invalid_client(std::string(name) + " must be an integer");
    if (from_numeric_date(*seconds) > now + config_.leeway) {
      return invalid_client(std::string(name) + " is in the future");
    }
  }
  std::string_view jti = claims.get_string("jti");
  if (jti.empty()) return invalid_client("jti is required");

  // S46: the key set: jku must equal the registered URL; else the registered value or URL.
  std::string_view jku = header.get_string("jku");
  if (header.find("jku") != nullptr && (jku.empty() || jku != client->jwks_uri)) {
    return invalid_client("jku is not the registered JWKS URL");
  }
  json::Value set;
  if (!client->jwks_uri.empty()) {
    if (fetcher_ == nullptr) return invalid_client("no JWKS fetcher is configured");
    auto fetched = fetcher_->fetch(client->jwks_uri);
    if (!fetched.ok()) {
      return invalid_client("the client's JWKS could not be fetched")
          .with_log(fetched.error().diagnostics + " " + fetched.error().log_detail);
    }
    set = std::move(fetched).value();
  } else if (!client->jwks.empty()) {
    auto parsed = json::parse(client->jwks);
    if (!parsed.ok()) return invalid_client("the registered JWKS is not JSON");
    set = std::move(parsed).value();
  } else {
    return invalid_client("the client has no registered keys");
  }
  auto jwks = jose::Jwks::parse(set);
  if (!jwks.ok()) return invalid_client("the client's JWKS is unusable");
  std::vector<const jose::Key*> candidates = jwks->candidates(header);
  if (candidates.size() != 1) {
    return invalid_client(candidates.empty() ? "no key matches kid and alg"
                                             : "several keys match kid and alg");
  }
  if (!jose::verify_jws(*jws, *candidates.front())) return invalid_client("bad signature");

  // S45: recorded only after the signature holds, so forged assertions cannot burn jtis.
  auto recorded = store_->record_jti(client->client_id, std::string(jti), exp + config_.leeway);
  if (!recorded.ok()) {
    if (recorded.error().http_status == 409) return invalid_client("the jti was used before");
    return std::move(recorded).error();
  }
  return client;
}

Result<storage::Client> ClientAuthenticator::authenticate_secret(std::string_view client_id,
                                                                 std::string_view secret) {
  std::string presented = client_secret_hash(secret);  // before the lookup: same work either way
  auto client = find_client(client_id);
  IPA_RETURN_IF_ERROR(client);
  if (client->type != storage::ClientType::kConfidentialSymmetric || client->secret_hash.empty()) {
    return invalid_client("the client is not registered with a secret");
  }
  if (secret.empty() || !jose::constant_time_equal(presented, client->secret_hash)) {
    return invalid_client("wrong client secret");
  }
  return client;
}

Result<storage::Client> ClientAuthenticator::identify_public(std::string_view client_id) {
  auto client = find_client(client_id);
  IPA_RETURN_IF_ERROR(client);
  if (client->type != storage::ClientType::kPublic) {
    return invalid_client("a confidential client must authenticate");  // S40
  }
  return client;
}

}  // namespace ipa::auth
