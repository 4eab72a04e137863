#include "search/cursor.h"

#include <sodium.h>

#include <chrono>
#include <cstring>

namespace ipa::search {
namespace {

constexpr int64_t kLifetimeMs = 24 * 3600 * 1000;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

bool get_str(std::string_view& in, std::string& s) {
  uint32_t n = 0;
  if (!get_u32(in, n) || in.size() < n) return false;
  s.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

int64_t ms(core::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

core::Error invalid() {
  return core::bad_request(core::IssueType::kInvalid,
                           "The paging cursor is invalid, expired, or belongs to another search; "
                           "start the search again.")
      .at("_cursor");
}

}  // namespace

std::string seal_cursor(const storage::Keyset& position, std::string_view binding,
                        std::string_view key, core::TimePoint now) {
  IPA_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  IPA_CHECK(key.size() == kCursorKeyBytes, "cursor key size");
  std::string plain;
  int64_t issued = ms(now);
  put_u32(plain, static_cast<uint32_t>(issued & 0xffffffff));
  put_u32(plain, static_cast<uint32_t>(static_cast<uint64_t>(issued) >> 32));
  put_u32(plain, static_cast<uint32_t>(position.values.size()));
  for (const auto& v : position.values) put_str(plain, v);
  put_str(plain, position.id);
  put_u32(plain, position.before ? 1 : 0);
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
      reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      reinterpret_cast<const unsigned char*>(binding.data()), binding.size(), nullptr, nonce,
      reinterpret_cast<const unsigned char*>(key.data()));
  std::string b64(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(out.data()),
                    out.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(std::strlen(b64.c_str()));
  return b64;
}

core::Result<storage::Keyset> open_cursor(std::string_view cursor, std::string_view binding,
                                          std::string_view key, core::TimePoint now) {
  IPA_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  IPA_CHECK(key.size() == kCursorKeyBytes, "cursor key size");
  if (cursor.size() > 4096) return invalid();
  std::string raw(cursor.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), cursor.data(),
                        cursor.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return invalid();
  }
  raw.resize(len);
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
  size_t clen = len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string plain(clen, '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr,
          nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, clen,
          reinterpret_cast<const unsigned char*>(binding.data()), binding.size(), nonce,
          reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return invalid();
  }
  plain.resize(plen);
  std::string_view in = plain;
  uint32_t lo = 0, hi = 0, n = 0;
  if (!get_u32(in, lo) || !get_u32(in, hi) || !get_u32(in, n) || n > 16) return invalid();
  int64_t issued = static_cast<int64_t>((static_cast<uint64_t>(hi) << 32) | lo);
  if (ms(now) - issued > kLifetimeMs || issued - ms(now) > 60000) return invalid();
  storage::Keyset k;
  k.values.resize(n);
  for (auto& v : k.values) {
    if (!get_str(in, v)) return invalid();
  }
  uint32_t before = 0;
  if (!get_str(in, k.id) || !get_u32(in, before) || before > 1 || !in.empty()) return invalid();
  k.before = before == 1;
  return k;
}

}  // namespace ipa::search
