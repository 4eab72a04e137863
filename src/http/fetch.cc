#include "http/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace ipa::http {
namespace {

struct Sink {
  std::string* body;
  size_t max;
  bool overflow = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->body->size() + len > s->max) {
    s->overflow = true;
    return 0;
  }
  s->body->append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<Header>*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    headers->push_back({line.substr(0, colon), value});
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after a redirect or 100-continue)
  }
  return size * n;
}

AddressKind classify_v4(const std::array<uint8_t, 4>& b) {
  auto in = [&](uint8_t a0, uint8_t a1, int prefix) {
    uint32_t addr = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    uint32_t net = (uint32_t{a0} << 24) | (uint32_t{a1} << 16);
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
    return (addr & mask) == (net & mask);
  };
  auto in24 = [&](uint8_t a0, uint8_t a1, uint8_t a2) {
    return b[0] == a0 && b[1] == a1 && b[2] == a2;
  };
  // RFC 6890 special-purpose registry, the entries that are not globally reachable.
  if (in(0, 0, 8)) return AddressKind::kUnspecified;
  if (in(127, 0, 8)) return AddressKind::kLoopback;
  if (in(10, 0, 8) || in(172, 16, 12) || in(192, 168, 16)) return AddressKind::kPrivate;
  if (in(169, 254, 16)) return AddressKind::kLinkLocal;
  if (in(100, 64, 10)) return AddressKind::kSharedCgnat;
  if (in(224, 0, 4)) return AddressKind::kMulticast;
  if (in(240, 0, 4)) return AddressKind::kReserved;  // includes 255.255.255.255
  if (in24(192, 0, 0) || in24(192, 0, 2) || in24(198, 51, 100) || in24(203, 0, 113) ||
      in(198, 18, 15) || in24(192, 88, 99)) {
    return AddressKind::kReserved;
  }
  return AddressKind::kPublic;
}

AddressKind classify_v6(const std::array<uint8_t, 16>& b) {
  auto zero = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  auto v4_at = [&](int offset) {
    return classify_v4({b[offset], b[offset + 1], b[offset + 2], b[offset + 3]});
  };
  if (zero(0, 16)) return AddressKind::kUnspecified;
  if (zero(0, 15) && b[15] == 1) return AddressKind::kLoopback;
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return v4_at(12);  // ::ffff:a.b.c.d
  if (zero(0, 12)) return AddressKind::kReserved;  // IPv4-compatible, deprecated (RFC 4291)
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) and 6to4 2002::/16 (RFC 3056).
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12)) return v4_at(12);
  if (b[0] == 0x20 && b[1] == 0x02) return v4_at(2);
  if (b[0] == 0xff) return AddressKind::kMulticast;
  if ((b[0] & 0xfe) == 0xfc) return AddressKind::kUniqueLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressKind::kLinkLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressKind::kPrivate;  // site-local
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddressKind::kReserved;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return AddressKind::kReserved;
  if (b[0] == 0x01 && zero(1, 8)) return AddressKind::kReserved;  // 100::/64 discard
  if ((b[0] & 0xe0) != 0x20) return AddressKind::kReserved;       // outside 2000::/3 global unicast
  return AddressKind::kPublic;
}

// A URL's host and port and, for public_only, the checked addresses to pin the connection to.
struct Target {
  std::string host;  // without brackets
  long port = 0;
  bool literal = false;
  std::vector<std::string> addresses;
};

// The system's lookup: every IPv4 and IPv6 address of `host`, as text.
core::Result<std::vector<std::string>> system_resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return core::unavailable("does not resolve");
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> holder(res, freeaddrinfo);
  std::vector<std::string> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, raw, text, sizeof text) != nullptr) out.emplace_back(text);
  }
  return out;
}

// Lookups still running on helper threads, whether or not anyone still waits for them. A
// resolver that never answers would otherwise leave one thread behind per request: past this
// many, new lookups are refused at once (the fetch fails; the client may retry later).
constexpr int kMaxPendingLookups = 32;
std::atomic<int> pending_lookups{0};

// One lookup, shared by the waiting caller and the helper thread (whichever finishes last frees
// it).
struct Lookup {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  core::Result<std::vector<std::string>> result = core::unavailable("did not resolve");
};

// Runs `resolver` (the system's when empty) for `host` on a helper thread and waits for it until
// `deadline`: getaddrinfo has no timeout of its own, and a resolver that never answers must not
// hold the request thread past the fetch's deadline. On timeout the helper is left to finish on
// its own (it owns a share of the Lookup).
core::Result<std::vector<std::string>> resolve_by(const Resolver& resolver, const std::string& host,
                                                  std::chrono::steady_clock::time_point deadline) {
  if (pending_lookups.fetch_add(1) >= kMaxPendingLookups) {
    pending_lookups.fetch_sub(1);
    return core::unavailable("too many name lookups are pending");
  }
  auto lookup = std::make_shared<Lookup>();
  Resolver run = resolver ? resolver : Resolver(system_resolve);
  try {
    std::thread([lookup, run = std::move(run), host] {
      auto r = run(host);
      {
        std::lock_guard lock(lookup->mu);
        lookup->result = std::move(r);
        lookup->done = true;
      }
      lookup->done_cv.notify_all();
      pending_lookups.fetch_sub(1);
    }).detach();
  } catch (const std::system_error&) {
    pending_lookups.fetch_sub(1);
    return core::unavailable("cannot start a name lookup");
  }
  std::unique_lock lock(lookup->mu);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return core::unavailable("did not resolve within the fetch's deadline");
  }
  if (!lookup->result.ok()) return core::unavailable("does not resolve");
  return std::move(lookup->result);
}

core::Result<Target> resolve_target(const std::string& url, const FetchOptions& options,
                                    std::chrono::steady_clock::time_point deadline) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return core::unavailable("Not a usable URL: " + url);
  }
  auto part = [&](CURLUPart what, unsigned flags) {
    char* p = nullptr;
    std::string out;
    if (curl_url_get(u.get(), what, &p, flags) == CURLUE_OK && p != nullptr) out = p;
    curl_free(p);
    return out;
  };
  Target t;
  t.host = part(CURLUPART_HOST, 0);
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  t.port = std::atol(part(CURLUPART_PORT, CURLU_DEFAULT_PORT).c_str());
  if (t.host.empty() || t.port <= 0) return core::unavailable("Not a usable URL: " + url);
  if (!options.public_only) return t;
  t.literal = classify_address(t.host) != AddressKind::kInvalid;
  std::vector<std::string> found;
  if (t.literal) {
    found.push_back(t.host);  // no lookup
  } else {
    auto r = resolve_by(options.resolver, t.host, deadline);
    if (!r.ok()) {
      return core::unavailable("The host of " + url + " " + r.error().diagnostics + ".");
    }
    found = std::move(*r);
  }
  for (const std::string& text : found) {
    AddressKind kind = classify_address(text);
    bool ok =
        kind == AddressKind::kPublic || (options.allow_loopback && kind == AddressKind::kLoopback);
    if (!ok) {
      // Deny when any answer is internal: an attacker's name may mix public and private ones.
      return core::unavailable("Refused to fetch " + url + ": " + t.host + " resolves to " + text +
                               ", a " + std::string(address_kind_name(kind)) +
                               " address; only public addresses are fetched.");
    }
    std::string a = text.find(':') != std::string::npos ? "[" + text + "]" : text;
    if (std::find(t.addresses.begin(), t.addresses.end(), a) == t.addresses.end()) {
      t.addresses.push_back(a);
    }
  }
  if (t.addresses.empty()) return core::unavailable("The host of " + url + " does not resolve.");
  return t;
}

core::Status check_scheme(const std::string& url, const FetchOptions& options) {
  if (options.https_only && url.rfind("https://", 0) != 0) {
    return core::unavailable("Only https URLs are fetched: " + url);
  }
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return core::unavailable("Not an http(s) URL: " + url);
  }
  return {};
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

AddressKind classify_address(std::string_view address) {
  std::string text(address);
  std::array<uint8_t, 16> b6{};
  std::array<uint8_t, 4> b4{};
  if (inet_pton(AF_INET, text.c_str(), b4.data()) == 1) return classify_v4(b4);
  if (inet_pton(AF_INET6, text.c_str(), b6.data()) == 1) return classify_v6(b6);
  return AddressKind::kInvalid;
}

std::string_view address_kind_name(AddressKind kind) {
  switch (kind) {
    case AddressKind::kPublic:
      return "public";
    case AddressKind::kLoopback:
      return "loopback";
    case AddressKind::kPrivate:
      return "private";
    case AddressKind::kLinkLocal:
      return "link-local";
    case AddressKind::kSharedCgnat:
      return "shared (carrier-grade NAT)";
    case AddressKind::kMulticast:
      return "multicast";
    case AddressKind::kUnspecified:
      return "unspecified";
    case AddressKind::kUniqueLocal:
      return "unique local";
    case AddressKind::kReserved:
      return "reserved";
    case AddressKind::kInvalid:
      break;
  }
  return "invalid";
}

core::Status check_fetch_target(const std::string& url, const FetchOptions& options) {
  global_init();
  IPA_RETURN_IF_ERROR(check_scheme(url, options));
  auto t = resolve_target(url, options, std::chrono::steady_clock::now() + options.timeout);
  IPA_RETURN_IF_ERROR(t);
  return {};
}

core::Result<ClientResponse> fetch(const std::string& method, const std::string& url,
                                   const std::vector<Header>& headers, const std::string& body,
                                   const FetchOptions& options) {
  global_init();
  IPA_RETURN_IF_ERROR(check_scheme(url, options));
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto target = resolve_target(url, options, deadline);
  IPA_RETURN_IF_ERROR(target);
  // What the lookup left of the deadline bounds the transfer (at least 1 ms: 0 means none).
  const auto left =
      std::max<long>(1, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              deadline - std::chrono::steady_clock::now())
                                              .count()));
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return core::internal("curl_easy_init failed");
  ClientResponse out;
  Sink sink{&out.body, options.max_body};
  curl_slist* list = nullptr;
  for (const Header& h : headers) list = curl_slist_append(list, (h.name + ": " + h.value).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> list_holder(list, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  char error_text[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> pinned(nullptr, curl_slist_free_all);
  if (options.public_only) {
    // Connect only to the addresses checked above: no second lookup, no proxy in between.
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (!target->literal) {
      std::string entry = target->host + ":" + std::to_string(target->port) + ":";
      for (size_t i = 0; i < target->addresses.size(); ++i) {
        entry += (i == 0 ? "" : ",") + target->addresses[i];
      }
      pinned.reset(curl_slist_append(nullptr, entry.c_str()));
      curl_easy_setopt(c, CURLOPT_RESOLVE, pinned.get());
    }
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  if (sink.overflow) return core::unavailable("The response from " + url + " is too large.");
  if (rc != CURLE_OK) {
    // libcurl's own text names the cause ("SSL certificate problem: self-signed certificate").
    return core::unavailable("Cannot fetch " + url + ": " +
                             (error_text[0] != '\0' ? error_text : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  return out;
}

}  // namespace ipa::http
