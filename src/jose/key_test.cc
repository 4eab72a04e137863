#include "jose/key.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "jose/bytes.h"
#include "jose/test_vectors.h"

namespace ipa::jose {
namespace {

using namespace vectors;  // NOLINT(google-build-using-namespace): RFC test vectors

constexpr Alg kAllAlgs[] = {Alg::kRS256, Alg::kRS384, Alg::kES256, Alg::kES384};

json::Value parse(std::string_view text) { return json::parse(text).value(); }

std::string ec_jwk(std::string_view x, std::string_view y, std::string_view d = "") {
  std::string out =
      R"({"kty":"EC","crv":"P-256","x":")" + std::string(x) + R"(","y":")" + std::string(y) + "\"";
  if (!d.empty()) out += R"(,"d":")" + std::string(d) + "\"";
  return out + "}";
}

TEST(Alg, NamesRoundTrip) {
  for (Alg alg : kAllAlgs) EXPECT_EQ(parse_alg(alg_name(alg)), alg);
  EXPECT_EQ(parse_alg("none"), std::nullopt);
  EXPECT_EQ(parse_alg("HS256"), std::nullopt);
  EXPECT_EQ(parse_alg("PS256"), std::nullopt);
  EXPECT_EQ(parse_alg("rs256"), std::nullopt);
}

TEST(Key, SignVerifyRoundTripAllAlgs) {
  for (Alg alg : kAllAlgs) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg);
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(key->has_private());
    EXPECT_EQ(key->alg(), alg);
    EXPECT_EQ(key->kid(), key->thumbprint());
    auto sig = key->sign(alg, "hello");
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(key->verify(alg, "hello", *sig));
    EXPECT_FALSE(key->verify(alg, "hellO", *sig));
    std::string altered = *sig;
    altered[altered.size() / 2] ^= 0x01;
    EXPECT_FALSE(key->verify(alg, "hello", altered));
  }
}

TEST(Key, SignatureSizes) {
  // RFC 7518 section 3.4: R||S, 64 bytes for ES256 and 96 for ES384; RSA: the modulus size.
  const std::vector<std::pair<Alg, size_t>> cases = {
      {Alg::kES256, 64}, {Alg::kES384, 96}, {Alg::kRS256, 256}, {Alg::kRS384, 256}};
  for (const auto& [alg, size] : cases) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg).value();
    for (int i = 0; i < 20; ++i) {  // short R or S values must still be padded
      EXPECT_EQ(key.sign(alg, "data " + std::to_string(i)).value().size(), size);
    }
  }
}

TEST(Key, RejectsTruncatedAndExtendedSignatures) {
  for (Alg alg : kAllAlgs) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg).value();
    std::string sig = key.sign(alg, "data").value();
    EXPECT_FALSE(key.verify(alg, "data", sig.substr(0, sig.size() - 1)));
    EXPECT_FALSE(key.verify(alg, "data", sig.substr(1)));
    EXPECT_FALSE(key.verify(alg, "data", sig + '\0'));
    EXPECT_FALSE(key.verify(alg, "data", ""));
  }
}

TEST(Key, RejectsWrongKeyTypeForAlg) {
  auto rsa = Key::generate(Alg::kRS256).value();
  auto p256 = Key::generate(Alg::kES256).value();
  auto p384 = Key::generate(Alg::kES384).value();
  std::string rsa_sig = rsa.sign(Alg::kRS256, "data").value();
  std::string p256_sig = p256.sign(Alg::kES256, "data").value();

  EXPECT_FALSE(rsa.verify(Alg::kES256, "data", p256_sig));
  EXPECT_FALSE(p256.verify(Alg::kRS256, "data", rsa_sig));
  EXPECT_FALSE(p256.verify(Alg::kES384, "data", p256_sig + p256_sig.substr(0, 32)));
  EXPECT_FALSE(p384.verify(Alg::kES256, "data", p256_sig));

  auto wrong = rsa.sign(Alg::kES256, "data");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().http_status, 500);
  EXPECT_FALSE(p256.sign(Alg::kES384, "data").ok());
  EXPECT_FALSE(p384.sign(Alg::kRS256, "data").ok());
  // A key with an alg is used with that alg only (RFC 7517 section 4.4).
  EXPECT_FALSE(rsa.sign(Alg::kRS384, "data").ok());
  EXPECT_FALSE(rsa.verify(Alg::kRS384, "data", rsa_sig));
  EXPECT_FALSE(rsa.fits(Alg::kRS384));
  EXPECT_TRUE(rsa.fits(Alg::kRS256));
}

TEST(Key, EcdsaDerSignatureIsNotAccepted) {
  // A DER-encoded ECDSA signature (what OpenSSL produces) is 70-72 bytes: never R||S.
  auto key = Key::generate(Alg::kES256).value();
  std::string raw = key.sign(Alg::kES256, "data").value();
  std::string der = "\x30\x44\x02\x20" + raw.substr(0, 32) + "\x02\x20" + raw.substr(32);
  EXPECT_FALSE(key.verify(Alg::kES256, "data", der));
}

TEST(Key, Rfc7638Thumbprint) {
  auto key = Key::from_jwk(parse(R"({"kty":"RSA","n":")" + std::string(kRfc7638N) +
                                 R"(","e":"AQAB","alg":"RS256","kid":"2011-04-29"})"));
  ASSERT_TRUE(key.ok()) << key.error().diagnostics;
  EXPECT_EQ(key->thumbprint(), kRfc7638Thumbprint);
  EXPECT_EQ(key->kid(), "2011-04-29");
  EXPECT_EQ(key->alg(), Alg::kRS256);
  EXPECT_FALSE(key->has_private());
  EXPECT_EQ(key->type(), KeyType::kRsa);
  auto pub = key->public_jwk();
  EXPECT_EQ(pub.get_string("n"), kRfc7638N);
  EXPECT_EQ(pub.get_string("e"), "AQAB");
  EXPECT_EQ(pub.get_string("kid"), "2011-04-29");
  EXPECT_EQ(pub.get_string("alg"), "RS256");
  EXPECT_EQ(pub.get_string("use"), "sig");
}

TEST(Key, PublicJwkNeverHasPrivateMembers) {
  for (Alg alg : kAllAlgs) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg).value();
    // Also through a private JWK import, as a stored server key is loaded.
    auto reloaded = Key::from_jwk(key.private_jwk()).value();
    for (const Key* k : {&key, &reloaded}) {
      json::Value pub = k->public_jwk();
      for (std::string_view member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
        EXPECT_EQ(pub.find(member), nullptr) << member;
      }
      EXPECT_NE(k->private_jwk().find("d"), nullptr);
    }
  }
}

TEST(Key, JwkRoundTrip) {
  for (Alg alg : kAllAlgs) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg).value();
    json::Value private_jwk = key.private_jwk();
    if (key.type() == KeyType::kRsa) {
      for (std::string_view m : {"d", "p", "q", "dp", "dq", "qi"}) {
        EXPECT_NE(private_jwk.find(m), nullptr) << m;
      }
    }
    auto priv = Key::from_jwk(private_jwk);
    ASSERT_TRUE(priv.ok()) << priv.error().diagnostics;
    EXPECT_TRUE(priv->has_private());
    EXPECT_EQ(priv->kid(), key.kid());
    EXPECT_EQ(priv->alg(), alg);
    EXPECT_EQ(priv->thumbprint(), key.thumbprint());
    EXPECT_EQ(priv->private_jwk(), private_jwk);

    auto pub = Key::from_jwk(key.public_jwk());
    ASSERT_TRUE(pub.ok()) << pub.error().diagnostics;
    EXPECT_FALSE(pub->has_private());
    EXPECT_EQ(pub->private_jwk(), key.public_jwk());
    EXPECT_FALSE(pub->sign(alg, "data").ok());
    EXPECT_TRUE(pub->verify(alg, "data", priv->sign(alg, "data").value()));
  }
}

TEST(Key, PemRoundTrip) {
  for (Alg alg : kAllAlgs) {
    SCOPED_TRACE(alg_name(alg));
    auto key = Key::generate(alg).value();
    std::string private_pem = key.private_pem();
    std::string public_pem = key.public_pem();
    EXPECT_EQ(private_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
    EXPECT_EQ(public_pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
    auto priv = Key::from_pem(private_pem);
    ASSERT_TRUE(priv.ok()) << priv.error().diagnostics;
    EXPECT_TRUE(priv->has_private());
    EXPECT_EQ(priv->alg(), std::nullopt);
    EXPECT_EQ(priv->kid(), "");
    auto pub = Key::from_pem(public_pem);
    ASSERT_TRUE(pub.ok()) << pub.error().diagnostics;
    EXPECT_FALSE(pub->has_private());
    EXPECT_EQ(pub->private_pem(), "");
    EXPECT_EQ(pub->thumbprint(), key.thumbprint());
    EXPECT_TRUE(pub->verify(alg, "data", priv->sign(alg, "data").value()));
    EXPECT_TRUE(key.verify(alg, "data", priv->sign(alg, "data").value()));
  }
}

TEST(Key, FromPemRejects) {
  // An RSA 1024 SPKI key made with `openssl genpkey` for this test.
  constexpr std::string_view kRsa1024 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDVa1sgYGtsZ++3Pwo5BuE5Ivr6\n"
      "33YG8j63nuPvJsYJ10h73SHKjI7JzWvjV9lTdfvgW0hDaIha2C1kHuHYv/w8Bb6V\n"
      "jGaQIU0wCRsFKZ/u5c0ZxxoebJQOP+ApcS6Lq4Opp4+GZKSaSBQ2EZPyWlutilbY\n"
      "WiurGcTKfSqXAlk//wIDAQAB\n"
      "-----END PUBLIC KEY-----\n";
  auto small = Key::from_pem(kRsa1024);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().type, core::IssueType::kValue);
  EXPECT_NE(small.error().diagnostics.find("2048"), std::string::npos);
  for (std::string_view bad : {"", "not a pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n"}) {
    auto key = Key::from_pem(bad);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().http_status, 400);
  }
}

TEST(Key, Rfc7515AppendixA3KeyImports) {
  auto key = Key::from_jwk(parse(ec_jwk(kA3X, kA3Y, kA3D)));
  ASSERT_TRUE(key.ok()) << key.error().diagnostics;
  EXPECT_TRUE(key->has_private());
  EXPECT_EQ(key->type(), KeyType::kEc);
  EXPECT_TRUE(key->fits(Alg::kES256));
  EXPECT_FALSE(key->fits(Alg::kES384));
  EXPECT_EQ(key->public_jwk().get_string("x"), kA3X);
  EXPECT_EQ(key->public_jwk().get_string("y"), kA3Y);
  EXPECT_EQ(key->private_jwk().get_string("d"), kA3D);
}

// Left-pads a P-256 coordinate to the 48 bytes of a P-384 one.
std::string widen_to_p384(std::string_view coordinate) {
  return base64url_encode(std::string(16, '\0') + base64url_decode(coordinate).value());
}

struct BadJwk {
  std::string name;
  std::string json;
  core::IssueType type;
};

TEST(Key, FromJwkRejects) {
  auto other_rsa = Key::generate(Alg::kRS256).value().private_jwk();
  auto rsa = Key::generate(Alg::kRS256).value().private_jwk();
  auto rsa_mismatch = rsa;  // the private half of another key
  for (std::string_view m : {"d", "p", "q", "dp", "dq", "qi"}) {
    rsa_mismatch.set(m, *other_rsa.find(m));
  }
  auto rsa_partial_crt = rsa;
  rsa_partial_crt.erase("dq");
  auto ec_mismatch = Key::generate(Alg::kES256).value().private_jwk();
  ec_mismatch.set("d", json::Value::string(std::string(kA3D)));
  // A 1024-bit modulus (top bit set), under RFC 7518 section 3.3's 2048-bit floor.
  std::string n1024 = base64url_encode(std::string(128, '\xc3'));
  std::string y_off_curve(kA3Y);
  y_off_curve[5] = y_off_curve[5] == 'A' ? 'B' : 'A';

  using core::IssueType;
  const std::vector<BadJwk> cases = {
      {"not an object", R"(["RSA"])", IssueType::kValue},
      {"no kty", R"({"n":"AQAB","e":"AQAB"})", IssueType::kValue},
      {"kty not a string", R"({"kty":1})", IssueType::kValue},
      {"RSA without n", R"({"kty":"RSA","e":"AQAB"})", IssueType::kValue},
      {"RSA without e", R"({"kty":"RSA","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kValue},
      {"RSA n not base64url", R"({"kty":"RSA","e":"AQAB","n":"ab+c"})", IssueType::kValue},
      {"RSA n padded", R"({"kty":"RSA","e":"AQAB","n":")" + std::string(kRfc7638N) + "=\"}",
       IssueType::kValue},
      {"RSA n not a string", R"({"kty":"RSA","e":"AQAB","n":5})", IssueType::kValue},
      {"RSA 1024", R"({"kty":"RSA","e":"AQAB","n":")" + n1024 + "\"}", IssueType::kValue},
      {"RSA even exponent", R"({"kty":"RSA","e":"AQAC","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kValue},
      {"RSA exponent 1", R"({"kty":"RSA","e":"AQ","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kValue},
      {"RSA private half of another key", json::write(rsa_mismatch), IssueType::kValue},
      {"RSA partial CRT", json::write(rsa_partial_crt), IssueType::kValue},
      {"EC without y", R"({"kty":"EC","crv":"P-256","x":")" + std::string(kA3X) + "\"}",
       IssueType::kValue},
      {"EC without crv",
       R"({"kty":"EC","x":")" + std::string(kA3X) + R"(","y":")" + std::string(kA3Y) + "\"}",
       IssueType::kValue},
      {"EC point not on curve", ec_jwk(kA3X, y_off_curve), IssueType::kValue},
      {"EC x too short", ec_jwk(kA3X.substr(0, 40), kA3Y), IssueType::kValue},  // 30 bytes
      {"EC x bad base64url", ec_jwk("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE+", kA3Y),
       IssueType::kValue},
      {"EC d of another key", json::write(ec_mismatch), IssueType::kValue},
      {"EC P-256 point on P-384",
       R"({"kty":"EC","crv":"P-384","x":")" + widen_to_p384(kA3X) + R"(","y":")" +
           widen_to_p384(kA3Y) + "\"}",
       IssueType::kValue},
      {"oct", R"({"kty":"oct","k":"AAAA"})", IssueType::kNotSupported},
      {"OKP", R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
       IssueType::kNotSupported},
      {"P-521", R"({"kty":"EC","crv":"P-521","x":"AA","y":"AA"})", IssueType::kNotSupported},
      {"alg PS256",
       R"({"kty":"RSA","alg":"PS256","e":"AQAB","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kNotSupported},
      {"alg ES256 on RSA",
       R"({"kty":"RSA","alg":"ES256","e":"AQAB","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kNotSupported},
      {"alg ES384 on P-256",
       R"({"kty":"EC","crv":"P-256","alg":"ES384","x":")" + std::string(kA3X) + R"(","y":")" +
           std::string(kA3Y) + "\"}",
       IssueType::kNotSupported},
      {"use enc", R"({"kty":"RSA","use":"enc","e":"AQAB","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kNotSupported},
      {"key_ops encrypt",
       R"({"kty":"RSA","key_ops":["encrypt"],"e":"AQAB","n":")" + std::string(kRfc7638N) + "\"}",
       IssueType::kNotSupported},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto key = Key::from_jwk(parse(c.json));
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().http_status, 400);
    EXPECT_EQ(key.error().type, c.type) << key.error().diagnostics;
  }
}

TEST(Key, ConcurrentSignAndVerify) {
  for (Alg alg : {Alg::kRS256, Alg::kES256}) {
    auto key = Key::generate(alg).value();
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          std::string data = "thread " + std::to_string(t) + " message " + std::to_string(i);
          auto sig = key.sign(alg, data);
          if (!sig.ok() || !key.verify(alg, data, *sig)) ++failures[t];
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (int f : failures) EXPECT_EQ(f, 0);
  }
}

}  // namespace
}  // namespace ipa::jose
