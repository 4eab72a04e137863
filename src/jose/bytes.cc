#include "jose/bytes.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

namespace ipa::jose {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr std::array<int8_t, 256> kDecode = make_decode_table();

core::Error bad_base64url(std::string why) {
  return core::bad_request(core::IssueType::kValue, "Invalid base64url: " + std::move(why) + ".");
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
  } else if (rest == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
  }
  return out;
}

core::Result<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return bad_base64url("impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') return bad_base64url("padding '=' is not allowed");
    int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return bad_base64url("character outside the base64url alphabet");
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  // RFC 4648 section 3.5: the unused low bits of the last character must be zero.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad_base64url("non-zero trailing bits");
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n == 0) return out;
  int rc = RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  IPA_CHECK(rc == 1, "the OpenSSL CSPRNG failed");
  return out;
}

std::string random_token(size_t bytes) { return base64url_encode(random_bytes(bytes)); }

std::string sha256(std::string_view data) {
  // The digest is fetched from the provider once and each thread reuses one context: OpenSSL 3
  // otherwise looks the algorithm up and allocates a context on every call, which showed in the
  // profile of read-by-id (every request hashes its bearer token for the verified-token cache).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           EVP_MD_CTX_free);
  IPA_CHECK(md != nullptr && ctx != nullptr, "SHA-256 is unavailable");
  std::string out(32, '\0');
  unsigned int len = 0;
  int rc = EVP_DigestInit_ex2(ctx.get(), md, nullptr);
  if (rc == 1) rc = EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  if (rc == 1)
    rc = EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len);
  IPA_CHECK(rc == 1 && len == 32, "SHA-256 failed");
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // Every byte is looked at whatever the differences (no early exit): the XORs are OR-ed into
  // one accumulator, eight bytes at a time (a bearer token is compared on every request, and
  // CRYPTO_memcmp's byte loop showed in the read path's profile).
  const size_t n = a.size();
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    diff |= x ^ y;
  }
  for (; i < n; ++i) {
    diff |=
        static_cast<uint64_t>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  }
  // Read back through a volatile so the compiler cannot turn the loops into an early exit.
  volatile uint64_t result = diff;
  return result == 0;
}

}  // namespace ipa::jose
