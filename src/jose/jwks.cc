#include "jose/jwks.h"

#include <string>
#include <utility>

namespace ipa::jose {

core::Result<Jwks> Jwks::parse(const json::Value& jwks) {
  const json::Value* keys = jwks.find("keys");
  if (keys == nullptr || !keys->is_array()) {
    return core::bad_request(core::IssueType::kStructure,
                             "A JWK Set must be a JSON object with a \"keys\" array.");
  }
  Jwks out;
  for (size_t i = 0; i < keys->items().size(); ++i) {
    auto key = Key::from_jwk(keys->items()[i]);
    if (key.ok()) {
      out.add(std::move(key).value());
    } else if (key.error().type != core::IssueType::kNotSupported) {
      core::Error error = std::move(key).error();
      error.diagnostics = "JWK Set key " + std::to_string(i) + ": " + error.diagnostics;
      return std::move(error).at("keys[" + std::to_string(i) + "]");
    }
  }
  if (out.keys_.empty()) {
    return core::bad_request(core::IssueType::kNotSupported,
                             "The JWK Set holds no usable RS256, RS384, ES256 or ES384 key.");
  }
  return out;
}

json::Value Jwks::to_public_json() const {
  json::Value keys = json::Value::array();
  for (const Key& key : keys_) keys.push_back(key.public_jwk());
  json::Value out = json::Value::object();
  out.set("keys", std::move(keys));
  return out;
}

std::vector<const Key*> Jwks::candidates(const json::Value& header) const {
  std::vector<const Key*> out;
  auto alg = parse_alg(header.get_string("alg"));
  if (!alg) return out;
  const json::Value* kid = header.find("kid");
  if (kid != nullptr && !kid->is_string()) return out;
  for (const Key& key : keys_) {
    if (!key.fits(*alg)) continue;
    if (kid != nullptr && key.kid() != kid->text()) continue;
    out.push_back(&key);
  }
  return out;
}

void Jwks::add(Key key) { keys_.push_back(std::move(key)); }

}  // namespace ipa::jose
