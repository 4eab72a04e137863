#include "core/percent.h"

namespace ipa::core {
namespace {

bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Byte-wise and locale-free on purpose: std::isalnum would let a locale pass bytes above 0x7F.
bool passes(unsigned char c, PercentSet set) {
  if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') return true;
  return set == PercentSet::kFhirSearch &&
         (c == ':' || c == '|' || c == ',' || c == '/' || c == '$');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_encode(std::string_view s, PercentSet set) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (passes(c, set)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s, PercentDecoding how) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
      if (!how.keep_malformed) return std::nullopt;
    }
    out.push_back(how.plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

}  // namespace ipa::core
