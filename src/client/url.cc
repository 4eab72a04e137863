#include "client/url.h"

#include <cctype>

#include "core/percent.h"

namespace ipa::client {
namespace {

// A server's URLs are read leniently: a malformed escape stays as it is.
std::string decode_field(std::string_view s) {
  return *core::percent_decode(s, {.plus_is_space = true, .keep_malformed = true});
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string form_encode(const Fields& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    out += core::percent_encode(k) + "=" + core::percent_encode(v);
  }
  return out;
}

Fields parse_query(std::string_view query) {
  Fields out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(decode_field(part), "");
      } else {
        out.emplace_back(decode_field(part.substr(0, eq)), decode_field(part.substr(eq + 1)));
      }
    }
    pos = amp + 1;
  }
  return out;
}

std::string field(const Fields& fields, std::string_view key) {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return "";
}

bool parse_url(std::string_view text, Url& out) {
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return false;
  out = Url{};
  out.scheme = lower(text.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return false;
  std::string_view rest = text.substr(scheme_end + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    int p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      p = p * 10 + (c - '0');
    }
    if (p <= 0 || p > 65535) return false;
    out.port = p;
    out.explicit_port = true;
    authority = authority.substr(0, colon);
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  out.host = lower(authority);
  size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  size_t q = tail.find('?');
  out.path = std::string(tail.substr(0, q));
  if (out.path.empty()) out.path = "/";
  if (q != std::string_view::npos) out.query = std::string(tail.substr(q + 1));
  return !out.host.empty();
}

std::string origin_of(std::string_view url) {
  Url u;
  if (!parse_url(url, u)) return "";
  return u.scheme + "://" + u.host + ":" + std::to_string(u.port);
}

std::string query_of(std::string_view url) {
  size_t q = url.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = url.substr(q + 1);
  return std::string(rest.substr(0, rest.find('#')));
}

std::string resolve(std::string_view base, std::string_view ref) {
  if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0) return std::string(ref);
  if (!ref.empty() && ref[0] == '/') {
    Url u;
    if (!parse_url(base, u)) return std::string(ref);
    std::string origin = u.scheme + "://" + u.host;
    if (u.explicit_port) origin += ":" + std::to_string(u.port);
    return origin + std::string(ref);
  }
  std::string b(base);
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/" + std::string(ref);
}

std::string server_name(std::string_view url) {
  Url u;
  if (!parse_url(url, u)) return "server";
  std::string name;
  for (char c : u.host)
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  if (u.explicit_port) name += "_" + std::to_string(u.port);
  return name;
}

}  // namespace ipa::client
