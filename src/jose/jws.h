// Compact JWS (RFC 7515) for JWTs (RFC 7519): sign a JSON payload, parse a compact token
// without trusting it, verify it with a key. Does not check claims (exp, aud, iss): that is
// the caller's policy. All functions are pure: safe to call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"
#include "jose/key.h"
#include "json/json.h"

namespace ipa::jose {

// Compact serializations longer than this are refused unparsed (bounds work on hostile input).
inline constexpr size_t kMaxCompactJwsBytes = 64 * 1024;

// A parsed, not yet verified, compact JWS.
struct Jws {
  json::Value header;         // the JOSE header, a JSON object
  json::Value payload;        // the payload, a JSON object (the JWT claims set)
  std::string signing_input;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
  std::string signature;      // raw signature bytes
  Alg alg = Alg::kRS256;      // the header's alg, already parsed
};

// Returns the compact JWS of `payload` (a JSON object) signed with `key`: header
// {"alg", "typ" (omitted when empty, e.g. "JWT" or "at+jwt" per RFC 9068), "kid" (when the key
// has one)}. Errors: internal (500) when `payload` is not an object or `key` cannot sign with
// `alg` (no private part, wrong type, or a different alg set on the key).
core::Result<std::string> sign_jwt(const Key& key, Alg alg, const json::Value& payload,
                                   std::string_view typ);

// Parses a compact JWS without verifying it: three base64url parts, a JSON object header with
// a supported "alg", a JSON object payload, a non-empty signature. Errors (401, IssueType
// login, with a diagnostics sentence naming the problem): too long, wrong part count, bad
// base64url, bad JSON, alg "none" or any alg but RS256/RS384/ES256/ES384, a "crit" header
// (RFC 7515 section 4.1.11: we understand no extension), empty signature.
core::Result<Jws> parse_jws(std::string_view compact);

// Returns whether `jws` carries a valid signature by `key`: the alg fits the key's type and
// curve and equals the key's alg when it has one (RFC 7517 section 4.4).
bool verify_jws(const Jws& jws, const Key& key);

}  // namespace ipa::jose
