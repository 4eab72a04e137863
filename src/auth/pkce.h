// PKCE (RFC 7636) for the authorization code grant: S256 only; `plain` is refused (SMART App
// Launch: "Considerations for PKCE Support"). Pure functions: safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ipa::auth {

// RFC 7636 section 4.1 / 4.2: 43-128 characters of [A-Za-z0-9-._~]. Both the verifier and (by
// project decision, S24) the challenge must have this form.
bool valid_pkce_string(std::string_view s);

// Checks the authorization request's challenge. Errors (400, IssueType value; the OAuth layer
// answers invalid_request): a method other than "S256", including an absent one (RFC 7636
// defaults it to plain) and "plain"; a challenge that is not 43-128 unreserved characters.
core::Status check_code_challenge(std::string_view challenge, std::string_view method);

// Returns BASE64URL-NOPAD(SHA256(ASCII(verifier))) (RFC 7636 section 4.2).
std::string s256_challenge(std::string_view verifier);

// RFC 7636 section 4.6 / S37: true when `verifier` is well formed and its S256 transform
// equals `challenge` (compared in constant time).
bool verify_s256(std::string_view verifier, std::string_view challenge);

}  // namespace ipa::auth
