#include "auth/pkce.h"

#include <algorithm>

#include "jose/bytes.h"

namespace ipa::auth {

bool valid_pkce_string(std::string_view s) {
  if (s.size() < 43 || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

core::Status check_code_challenge(std::string_view challenge, std::string_view method) {
  if (method != "S256") {
    return core::bad_request(core::IssueType::kNotSupported,
                             "code_challenge_method must be S256 (transform algorithm not "
                             "supported).");
  }
  if (challenge.empty()) {
    return core::bad_request(core::IssueType::kRequired, "code challenge required.");
  }
  if (!valid_pkce_string(challenge)) {
    return core::bad_request(core::IssueType::kValue,
                             "code_challenge must be 43-128 characters of [A-Za-z0-9-._~].");
  }
  return {};
}

std::string s256_challenge(std::string_view verifier) {
  return jose::base64url_encode(jose::sha256(verifier));
}

bool verify_s256(std::string_view verifier, std::string_view challenge) {
  if (!valid_pkce_string(verifier)) return false;
  return jose::constant_time_equal(s256_challenge(verifier), challenge);
}

}  // namespace ipa::auth
