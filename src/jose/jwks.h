// Jwks: a JSON Web Key Set (RFC 7517 section 5) of signing keys, and the choice of the keys
// that may verify a given JWS (SMART App Launch client-confidential-asymmetric). Not
// synchronized: share a Jwks read-only between threads, or guard add().
#pragma once

#include <vector>

#include "core/result.h"
#include "jose/key.h"
#include "json/json.h"

namespace ipa::jose {

class Jwks {
 public:
  Jwks() = default;
  Jwks(Jwks&&) noexcept = default;
  Jwks& operator=(Jwks&&) noexcept = default;

  // Parses {"keys": [...]}. Keys we cannot use (other kty or curve, other alg, use "enc", see
  // Key::from_jwk) are skipped, as RFC 7517 section 5 asks. Errors (400): not an object with
  // a "keys" array (IssueType structure); a key of a kind we use that is malformed (IssueType
  // value, expression "keys[i]"); no usable key at all (IssueType not-supported).
  static core::Result<Jwks> parse(const json::Value& jwks);

  // Returns {"keys": [public JWK, ...]}: never a private member.
  json::Value to_public_json() const;

  // Returns the keys that may verify a JWS with `header`: none when its alg is missing or not
  // ours; with a "kid", the keys of that kid that fit the alg; without, every key that fits
  // the alg (Key::fits). The pointers stay valid until the set is changed or destroyed.
  std::vector<const Key*> candidates(const json::Value& header) const;

  void add(Key key);
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

}  // namespace ipa::jose
