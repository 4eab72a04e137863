#include "rest/internal/cors.h"

#include <algorithm>
#include <cctype>

namespace ipa::rest::internal {
namespace {

// A registration changes the set rarely; a few seconds of staleness are fine on other nodes.
constexpr auto kReload = std::chrono::seconds(5);

// Requests scripts may send to the FHIR API (FHIR R4 http.html): bearer token, content
// negotiation, Prefer, conditional requests.
constexpr const char* kApiHeaders =
    "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-Modified-Since, "
    "If-None-Exist";
constexpr const char* kApiMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
constexpr const char* kExposed =
    "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "[::1]" || host == "localhost";
}

void strip_cors(http::Response& r) {
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                 [](const http::Header& h) {
                                   return lower(h.name).rfind("access-control-", 0) == 0;
                                 }),
                  r.headers.end());
}

enum class PathKind { kOpen, kRestricted, kNone };

PathKind classify(const std::string& path, const std::string& base_path) {
  if (path == "/auth/jwks") return PathKind::kOpen;
  if (path == "/auth/register") return PathKind::kOpen;  // apps register before they have an origin
  if (path == "/auth/token" || path == "/auth/introspect" || path == "/auth/revoke") {
    return PathKind::kRestricted;
  }
  if (path.rfind("/auth/", 0) == 0) return PathKind::kNone;  // HTML pages: not for scripts
  if (path.compare(0, base_path.size(), base_path) != 0) return PathKind::kNone;
  std::string rest = path.substr(base_path.size());
  if (rest == "/metadata" || rest.rfind("/.well-known/", 0) == 0) return PathKind::kOpen;
  if (!rest.empty() && rest[0] != '/') return PathKind::kNone;
  return PathKind::kRestricted;
}

}  // namespace

std::string origin_of(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return "";
  size_t start = scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = lower(url.substr(start, end == std::string::npos ? end : end - start));
  if (authority.empty() || authority.find('@') != std::string::npos) return "";
  std::string host = authority, port;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
  if (port.empty() && scheme == "http" && is_loopback_host(host)) {
    return scheme + "://" + host + ":*";
  }
  return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

CorsPolicy::CorsPolicy(std::vector<std::string> configured,
                       std::shared_ptr<storage::AuthStore> store,
                       std::shared_ptr<core::Clock> clock)
    : store_(std::move(store)), clock_(std::move(clock)) {
  for (std::string& o : configured) {
    while (!o.empty() && o.back() == '/') o.pop_back();
    if (!o.empty()) configured_.insert(lower(o));
  }
}

void CorsPolicy::invalidate() {
  std::lock_guard lock(mu_);
  loaded_ = false;
}

bool CorsPolicy::allowed(const std::string& origin_header) {
  std::string origin = lower(origin_header);
  if (origin.empty() || origin == "null") return false;
  if (configured_.count(origin)) return true;
  std::lock_guard lock(mu_);
  if (!loaded_ || clock_->now() - loaded_at_ >= kReload) {
    auto clients = store_->list_clients();
    if (clients.ok()) {
      registered_.clear();
      for (const storage::Client& c : *clients) {
        for (const std::string& uri : c.redirect_uris) {
          std::string o = origin_of(uri);
          if (!o.empty()) registered_.insert(o);
        }
      }
      loaded_ = true;
      loaded_at_ = clock_->now();
    }
    // On a store error the previous set stays (empty at first: deny when unsure).
  }
  if (registered_.count(origin)) return true;
  // A loopback redirect registered without a port stands for every port of that host.
  size_t colon = origin.rfind(':');
  if (colon != std::string::npos && colon > origin.find("://") + 3) {
    std::string any_port = origin.substr(0, colon) + ":*";
    if (registered_.count(any_port)) return true;
  }
  return false;
}

void CorsPolicy::apply(const http::Request& req, const std::string& base_path, http::Response& r) {
  PathKind kind = classify(req.path, base_path);
  if (kind == PathKind::kNone) return;
  strip_cors(r);
  bool preflight = req.method == "OPTIONS";
  if (kind == PathKind::kOpen) {
    r.headers.push_back({"Access-Control-Allow-Origin", "*"});
    if (preflight) {
      r.headers.push_back({"Access-Control-Allow-Methods", "GET, POST, OPTIONS"});
      r.headers.push_back({"Access-Control-Allow-Headers", "Content-Type, Accept"});
      r.headers.push_back({"Access-Control-Max-Age", "600"});
    }
    return;
  }
  // S88: the answer depends on Origin, so shared caches must key on it.
  r.headers.push_back({"Vary", "Origin"});
  std::string origin = req.header("Origin");
  if (!allowed(origin)) return;  // unknown origin: no CORS headers; the browser blocks it
  r.headers.push_back({"Access-Control-Allow-Origin", origin});
  bool api = req.path.rfind("/auth/", 0) != 0;
  if (preflight) {
    r.headers.push_back({"Access-Control-Allow-Methods", api ? kApiMethods : "POST, OPTIONS"});
    r.headers.push_back({"Access-Control-Allow-Headers",
                         api ? kApiHeaders : "Authorization, Content-Type, Accept"});
    r.headers.push_back({"Access-Control-Max-Age", "600"});
  } else {
    r.headers.push_back({"Access-Control-Expose-Headers", kExposed});
  }
}

}  // namespace ipa::rest::internal
