// Key: one RSA or EC (P-256, P-384) signing key, private or public, for the JWS algorithms
// RS256, RS384, ES256 and ES384 (RFC 7518 section 3). Imports and exports JWK (RFC 7517/7518)
// and PEM (PKCS#8, SPKI). Does no JWS framing (see jws.h). Thread behaviour: const methods
// (sign, verify, exports) are safe to call concurrently; set_kid/set_alg are not.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "json/json.h"

namespace ipa::jose {

// The JWS algorithms this project signs and verifies with (RFC 7518 section 3.1).
// "none", HMAC and RSASSA-PSS are deliberately absent.
enum class Alg { kRS256, kRS384, kES256, kES384 };

// Returns the JWA name, e.g. "RS256".
std::string_view alg_name(Alg alg);
// Returns the Alg named `name` (case-sensitive, RFC 7515 section 4.1.1), or nullopt.
std::optional<Alg> parse_alg(std::string_view name);

enum class KeyType { kRsa, kEc };

class Key {
 public:
  // Returns a fresh key fitting `alg`: RSA 2048 for RS*, P-256 for ES256, P-384 for ES384.
  // The key's alg is set to `alg` and its kid to its RFC 7638 thumbprint.
  // Errors: internal (500) if OpenSSL fails.
  static core::Result<Key> generate(Alg alg);

  // Imports a public or private JWK: kty "RSA" (n, e [, d [, p, q, dp, dq, qi]]) or kty "EC"
  // (crv "P-256" or "P-384", x, y [, d]); reads kid and alg when present. Validates what a
  // signature relies on: RSA modulus of 2048 to 16384 bits and an odd exponent > 1, EC
  // coordinates of the curve's exact length and a point on the curve, a private part that
  // matches the public one. Errors (400): IssueType not-supported for a key we cannot use
  // (other kty or crv, "oth" primes, alg other than ours or not fitting the key, use other
  // than "sig", key_ops without "sign"/"verify"); IssueType value for a malformed key
  // (missing member, bad base64url, off-curve point, RSA under 2048 bits, mismatched halves).
  static core::Result<Key> from_jwk(const json::Value& jwk);

  // Imports a PEM private key (PKCS#8 "PRIVATE KEY", or the traditional RSA/EC forms) or
  // public key (SPKI "PUBLIC KEY"). Encrypted PEM is refused. kid and alg are left unset.
  // Errors (400): IssueType value for unreadable PEM; not-supported for other key types or
  // curves; value for RSA under 2048 bits.
  static core::Result<Key> from_pem(std::string_view pem);

  Key(Key&&) noexcept;
  Key& operator=(Key&&) noexcept;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key();

  // Returns the public JWK: kty and its public members (RSA n, e; EC crv, x, y), then kid (if
  // set), alg (if set) and "use": "sig". Never contains a private member.
  json::Value public_jwk() const;
  // Returns the JWK with private members (d, p, q, dp, dq, qi for RSA; d for EC) when the key
  // has them, else the same as public_jwk(). For storing a server key; never publish it.
  json::Value private_jwk() const;
  // Returns the PKCS#8 PEM of the private key, or "" for a public-only key.
  std::string private_pem() const;
  // Returns the SPKI PEM of the public key.
  std::string public_pem() const;

  bool has_private() const;
  KeyType type() const;
  // Returns whether this key can sign/verify with `alg`: the kty fits (RSA for RS*, the
  // matching curve for ES*) and, when the key has an alg, it equals `alg`.
  bool fits(Alg alg) const;

  const std::string& kid() const;
  void set_kid(std::string kid);
  std::optional<Alg> alg() const;
  void set_alg(Alg alg);

  // Returns the RFC 7638 JWK thumbprint: base64url SHA-256 of the required public members.
  std::string thumbprint() const;

  // Returns the JWS signature of `data` (RFC 7518 section 3): PKCS#1 v1.5 for RS*, the raw
  // R||S form for ES* (64 bytes for ES256, 96 for ES384; RFC 7518 section 3.4), not DER.
  // Errors: internal (500) when the key has no private part or does not fit `alg`.
  core::Result<std::string> sign(Alg alg, std::string_view data) const;

  // Returns whether `signature` is a valid `alg` signature of `data` under this key; false on
  // any mismatch, a key type or curve that does not fit `alg`, or a signature of wrong size.
  bool verify(Alg alg, std::string_view data, std::string_view signature) const;

 private:
  struct Impl;
  explicit Key(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipa::jose
