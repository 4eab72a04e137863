// The random source of the auth module (opaque codes, refresh tokens, session ids, grant ids,
// jti values), injected so tests get predictable values, and the one-way hash under which the
// AuthStore keeps those opaque secrets. Implementations are safe for concurrent use.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace ipa::auth {

class Random {
 public:
  virtual ~Random() = default;
  // Returns a URL-safe token carrying `bytes` random bytes (base64url, no padding).
  virtual std::string token(size_t bytes = 32) = 0;
};

// Tokens from OpenSSL's CSPRNG (jose::random_token).
std::shared_ptr<Random> os_random();

// Returns the storage form of an opaque secret: base64url(SHA-256(secret)). Opaque secrets are
// 256-bit random values, so a fast hash suffices (no brute force is possible); never for
// passwords (see password.h).
std::string secret_hash(std::string_view secret);

}  // namespace ipa::auth
