// A small HTTP client on libcurl for outbound requests: the server's fetch of client JWKS
// (SMART client-confidential-asymmetric, jwks_uri) and the IPA client. Blocking; each call uses
// its own handle, so calls are safe from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/server.h"

namespace ipa::http {

// The name lookup of public_only fetches: the addresses `host` resolves to, as text (dotted IPv4,
// IPv6 without brackets); an error when it does not resolve.
using Resolver = std::function<core::Result<std::vector<std::string>>(const std::string& host)>;

struct FetchOptions {
  // The whole fetch, name lookup included, ends by this deadline.
  std::chrono::milliseconds timeout{10000};
  size_t max_body = 1024 * 1024;  // larger bodies fail
  bool https_only = false;        // refuse http:// URLs (loopback allowed for tests when false)
  // For URLs a third party chose (a client's jwks_uri or jku): the host is resolved here, every
  // address must be public unicast (classify_address), and the connection is pinned to the
  // checked addresses (CURLOPT_RESOLVE, no proxy), so a second DNS answer (rebinding) cannot
  // lead elsewhere.
  bool public_only = false;
  // With public_only: loopback addresses pass too (tests serve JWK Sets on 127.0.0.1).
  bool allow_loopback = false;
  // With public_only: how host names are looked up; empty: the system's resolver (getaddrinfo).
  // Whichever it is, it runs on a helper thread and the caller stops waiting at the deadline
  // (getaddrinfo has no timeout of its own), so a resolver that never answers cannot hold the
  // calling thread. Tests give a slow one.
  Resolver resolver;
  // A PEM file of the CA certificates that https servers are verified against, instead of the
  // system's bundle ("" = the system's). Verification itself is never turned off.
  std::string ca_file;
};

// Where an IP address leads. Every kind but kPublic is refused for public_only fetches.
enum class AddressKind {
  kPublic,
  kLoopback,     // 127.0.0.0/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fec0::/10 (site-local)
  kLinkLocal,    // 169.254/16 (cloud metadata), fe80::/10
  kSharedCgnat,  // 100.64/10 (RFC 6598)
  kMulticast,    // 224/4, ff00::/8
  kUnspecified,  // 0.0.0.0/8, ::
  kUniqueLocal,  // fc00::/7 (RFC 4193)
  kReserved,     // documentation, benchmarking, 240/4, broadcast, Teredo, IPv4-compatible
  kInvalid,      // not an IP address
};

// Classifies a textual IPv4 or IPv6 address (no brackets). IPv4-mapped (::ffff:a.b.c.d), NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged by the IPv4 address they carry.
AddressKind classify_address(std::string_view address);

// "public", "loopback", "private", "link-local", ... for messages.
std::string_view address_kind_name(AddressKind kind);

// Checks `url` as fetch() would with `options` (scheme, and for public_only the resolved
// addresses) without fetching. Errors: unavailable 503 with a message naming the refused address,
// the unresolvable host, or a lookup that did not end within `options.timeout`.
core::Status check_fetch_target(const std::string& url, const FetchOptions& options);

// Performs one request; never follows redirects. Errors: unavailable (503) when the host cannot
// be reached, the request (name lookup included) times out, the body is too large, the scheme is
// refused, or (with public_only) the host resolves to an address that is not public.
core::Result<ClientResponse> fetch(const std::string& method, const std::string& url,
                                   const std::vector<Header>& headers, const std::string& body,
                                   const FetchOptions& options = {});

}  // namespace ipa::http
