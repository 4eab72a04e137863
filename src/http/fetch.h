// A small HTTP client on libcurl for outbound requests: the server's fetch of client JWKS
// (SMART client-confidential-asymmetric, jwks_uri) and the IPA client. Blocking; each call uses
// its own handle, so calls are safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "http/server.h"

namespace ipa::http {

struct FetchOptions {
  std::chrono::milliseconds timeout{10000};
  size_t max_body = 1024 * 1024;  // larger bodies fail
  bool https_only = false;        // refuse http:// URLs (loopback allowed for tests when false)
};

// Performs one request. Errors: unavailable (503) when the host cannot be reached, the request
// times out, the body is too large or the scheme is refused.
core::Result<ClientResponse> fetch(const std::string& method, const std::string& url,
                                   const std::vector<Header>& headers, const std::string& body,
                                   const FetchOptions& options = {});

}  // namespace ipa::http
