// CORS for the FHIR API and the OAuth endpoints (SMART S87-S88): the discovery documents, the
// JWKS and /metadata answer any origin; the FHIR API and the token, introspection and revocation
// endpoints answer only the origins of registered redirect URIs plus configured ones (no
// credentials ever). Thread-safe; the origin set is re-read from the AuthStore at most every
// few seconds, and at once after invalidate().
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "http/server.h"
#include "storage/auth_store.h"

namespace ipa::rest::internal {

// "scheme://host[:port]" of an http(s) URL, lower-case, default port left out (RFC 6454), or ""
// for anything else (private-use schemes have no web origin). Loopback http URLs without a port
// give "http://127.0.0.1:*": any port matches (RFC 8252 section 7.3).
std::string origin_of(const std::string& url);

class CorsPolicy {
 public:
  CorsPolicy(std::vector<std::string> configured, std::shared_ptr<storage::AuthStore> store,
             std::shared_ptr<core::Clock> clock);

  // Sets the CORS headers of `response` to `request` at `path`: any origin for open paths;
  // for the others, the request's Origin when allowed (with Vary: Origin), and nothing when
  // not. Preflight (OPTIONS) answers get the methods and headers. Headers a handler set are
  // replaced.
  void apply(const http::Request& request, const std::string& base_path, http::Response& response);

  // Whether `origin` (an Origin header value) may call the restricted endpoints.
  bool allowed(const std::string& origin);

  // Makes the next check re-read the registered clients (after a registration).
  void invalidate();

 private:
  std::set<std::string> configured_;
  std::shared_ptr<storage::AuthStore> store_;
  std::shared_ptr<core::Clock> clock_;
  std::mutex mu_;
  std::set<std::string> registered_;
  core::TimePoint loaded_at_{};
  bool loaded_ = false;
};

}  // namespace ipa::rest::internal
