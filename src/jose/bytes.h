// Byte-level primitives of JOSE: base64url without padding (RFC 7515 section 2), a CSPRNG,
// SHA-256 and a constant-time comparison. All functions are pure or use OpenSSL's thread-safe
// DRBG: safe to call from any thread. No key handling here (see key.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ipa::jose {

// Returns `bytes` as base64url without '=' padding (RFC 7515 section 2, RFC 4648 section 5).
std::string base64url_encode(std::string_view bytes);

// Decodes unpadded base64url. Errors (400, IssueType value): '=' padding, characters outside
// the base64url alphabet (including whitespace), an impossible length (4n+1), or non-zero
// trailing bits (RFC 4648 section 3.5), so that every byte string has exactly one encoding.
core::Result<std::string> base64url_decode(std::string_view text);

// Returns `n` bytes from OpenSSL's CSPRNG. Stops the program if the CSPRNG fails (we cannot
// continue safely without randomness).
std::string random_bytes(size_t n);

// Returns base64url of `bytes` random bytes: for opaque tokens, codes, state and jti values.
std::string random_token(size_t bytes = 32);

// Returns the raw 32-byte SHA-256 digest of `data`.
std::string sha256(std::string_view data);

// Returns whether `a` and `b` are equal, in time that depends only on their lengths (not on
// where they differ). Different lengths compare unequal at once: lengths are not secret.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ipa::jose
