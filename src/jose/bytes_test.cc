#include "jose/bytes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ipa::jose {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

struct Vector {
  std::string bytes;
  std::string text;
};

// RFC 4648 section 10, with the '=' padding removed as RFC 7515 section 2 requires.
TEST(Base64url, Rfc4648Section10) {
  const std::vector<Vector> cases = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.bytes);
    EXPECT_EQ(base64url_encode(c.bytes), c.text);
    auto decoded = base64url_decode(c.text);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, c.bytes);
  }
}

TEST(Base64url, UsesUrlSafeAlphabet) {
  // RFC 7515 appendix C: the octets [3, 236, 255, 224, 193] encode as "A-z_4ME".
  const std::string bytes = {3, static_cast<char>(236), static_cast<char>(255),
                             static_cast<char>(224), static_cast<char>(193)};
  EXPECT_EQ(base64url_encode(bytes), "A-z_4ME");
  EXPECT_EQ(base64url_decode("A-z_4ME").value(), bytes);
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");  // "+/8=" in standard base64
}

TEST(Base64url, Rfc7515AppendixA1) {
  // RFC 7515 appendix A.1: the JOSE header and payload, with their CR LF line breaks.
  EXPECT_EQ(base64url_encode("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"),
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
  EXPECT_EQ(base64url_encode("{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                             "\"http://example.com/is_root\":true}"),
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb2"
            "90Ijp0cnVlfQ");
}

TEST(Base64url, DecodeRejectsBadInput) {
  const std::vector<std::string> bad = {
      "Zg==",    // padding
      "Zm9v=",   // padding
      "Zm+v",    // standard alphabet
      "Zm/v",    // standard alphabet
      "Zm 9v",   // whitespace
      "Zm9v\n",  // newline
      "Z",       // impossible length
      "Zm9vY",   // impossible length
      "Zh",      // non-zero trailing bits ("Zg" is the encoding of "f")
      "Zm9",     // non-zero trailing bits ("Zm8" is the encoding of "fo")
      std::string("Zm\0v", 4),
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    auto decoded = base64url_decode(text);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().http_status, 400);
    EXPECT_EQ(decoded.error().type, core::IssueType::kValue);
  }
}

TEST(Base64url, RoundTripsEveryLength) {
  for (size_t n = 0; n < 70; ++n) {
    std::string bytes = random_bytes(n);
    auto decoded = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Random, BytesAndTokens) {
  EXPECT_EQ(random_bytes(0).size(), 0u);
  EXPECT_EQ(random_bytes(48).size(), 48u);
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.insert(random_token());
  EXPECT_EQ(tokens.size(), 100u);
  std::string token = random_token(32);
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(base64url_decode(token).value().size(), 32u);
}

TEST(Sha256, KnownDigests) {
  // FIPS 180-2 appendix B.1 and the empty-string digest.
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ConstantTimeEqual, Compares) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "Secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
  // A difference in any one bit of any byte, for lengths around the 8-byte steps.
  for (size_t n : {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 800}) {
    std::string a(n, 'x');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('A' + i % 50);
    EXPECT_TRUE(constant_time_equal(a, a)) << n;
    for (size_t i = 0; i < n; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string b = a;
        b[i] = static_cast<char>(b[i] ^ (1 << bit));
        ASSERT_FALSE(constant_time_equal(a, b)) << n << " " << i << " " << bit;
      }
    }
  }
}

}  // namespace
}  // namespace ipa::jose
