#include "jose/key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>
#include <cassert>
#include <climits>
#include <utility>

#include "jose/bytes.h"

namespace ipa::jose {
namespace {

// Small RAII holders for the OpenSSL objects used here.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamsFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, ParamsFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

constexpr int kMinRsaBits = 2048;   // RFC 7518 section 3.3: 2048 bits or larger MUST be used
constexpr int kMaxRsaBits = 16384;  // bounds the cost of one verify on a client-supplied key

// Returns and clears OpenSSL's thread-local error queue, for log_detail.
std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out;
}

core::Error malformed(std::string why) {
  ERR_clear_error();
  return core::bad_request(core::IssueType::kValue, "Invalid key: " + std::move(why) + ".");
}

core::Error unsupported(std::string why) {
  ERR_clear_error();
  return core::bad_request(core::IssueType::kNotSupported,
                           "Unsupported key: " + std::move(why) + ".");
}

const EVP_MD* digest_for(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kES256:
      return EVP_sha256();
    case Alg::kRS384:
    case Alg::kES384:
      return EVP_sha384();
  }
  return nullptr;
}

bool is_rsa_alg(Alg alg) { return alg == Alg::kRS256 || alg == Alg::kRS384; }

// The EC curves we support: JWK name, OpenSSL group name, coordinate length, its ES alg.
struct Curve {
  std::string_view jwk_name;
  const char* group;
  size_t field_bytes;
  Alg alg;
};
constexpr std::array<Curve, 2> kCurves = {{
    {"P-256", "prime256v1", 32, Alg::kES256},  // RFC 7518 section 3.4
    {"P-384", "secp384r1", 48, Alg::kES384},
}};

const Curve* curve_by_jwk_name(std::string_view name) {
  for (const Curve& c : kCurves) {
    if (c.jwk_name == name) return &c;
  }
  return nullptr;
}

const Curve* curve_by_group(std::string_view group) {
  for (const Curve& c : kCurves) {
    if (group == c.group || group == c.jwk_name) return &c;
  }
  return nullptr;
}

BnPtr get_bn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return BnPtr(bn);
}

std::string bn_bytes(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// Fixed-length big-endian form; RFC 7518 sections 6.2.1.2 and 6.2.2.1 require the full length.
std::string bn_bytes_padded(const BIGNUM* bn, size_t len) {
  std::string out(len, '\0');
  int rc = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  IPA_CHECK(rc == static_cast<int>(len), "EC value longer than its field");
  return out;
}

BnPtr bn_from(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

// Reads the base64url member `name` of `jwk`. Absent: nullopt. Not a string or not base64url:
// a malformed-key error.
core::Result<std::optional<std::string>> optional_b64_member(const json::Value& jwk,
                                                             std::string_view name) {
  const json::Value* v = jwk.find(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return malformed("JWK member '" + std::string(name) + "' is not a string");
  auto bytes = base64url_decode(v->text());
  if (!bytes.ok()) {
    return malformed("JWK member '" + std::string(name) + "' is not valid base64url");
  }
  if (bytes->empty()) return malformed("JWK member '" + std::string(name) + "' is empty");
  return std::optional<std::string>(std::move(bytes).value());
}

core::Result<std::string> required_b64_member(const json::Value& jwk, std::string_view name) {
  auto v = optional_b64_member(jwk, name);
  if (!v.ok()) return std::move(v).error();
  if (!v->has_value()) return malformed("JWK member '" + std::string(name) + "' is missing");
  return std::move(**v);
}

// Builds an EVP_PKEY of `type` ("RSA", "EC") from `params`.
PkeyPtr pkey_from_params(const char* type, OSSL_PARAM_BLD* bld, bool is_private) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return nullptr;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  int selection = is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) return nullptr;
  return PkeyPtr(pkey);
}

core::Result<PkeyPtr> rsa_from_jwk(const json::Value& jwk) {
  if (jwk.find("oth") != nullptr) return unsupported("multi-prime RSA ('oth') is not supported");
  auto n = required_b64_member(jwk, "n");
  if (!n.ok()) return std::move(n).error();
  auto e = required_b64_member(jwk, "e");
  if (!e.ok()) return std::move(e).error();
  auto d = optional_b64_member(jwk, "d");
  if (!d.ok()) return std::move(d).error();

  // RFC 7518 section 6.3.2: with d, the CRT members are all present or all absent.
  static constexpr std::array<std::pair<const char*, const char*>, 5> kCrt = {{
      {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
      {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
      {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
      {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
      {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
  }};
  std::array<std::optional<std::string>, 5> crt;
  size_t crt_count = 0;
  for (size_t i = 0; i < kCrt.size(); ++i) {
    auto v = optional_b64_member(jwk, kCrt[i].first);
    if (!v.ok()) return std::move(v).error();
    crt[i] = std::move(v).value();
    if (crt[i]) ++crt_count;
  }
  if (crt_count != 0 && !d->has_value()) return malformed("RSA JWK has CRT members without 'd'");
  if (crt_count != 0 && crt_count != kCrt.size()) {
    return malformed("RSA JWK must carry all of p, q, dp, dq, qi or none");
  }

  BnPtr bn_n = bn_from(*n);
  BnPtr bn_e = bn_from(*e);
  if (!bn_n || !bn_e) return core::internal("BN_bin2bn failed: " + openssl_errors());
  int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits) return malformed("RSA keys must have at least 2048 bits");
  if (bits > kMaxRsaBits) return unsupported("RSA keys over 16384 bits are not supported");

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::array<BnPtr, 6> keep;  // the builder refers to these until to_param
  bool ok = bld && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) &&
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  if (ok && d->has_value()) {
    keep[0] = bn_from(**d);
    ok = keep[0] && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, keep[0].get());
    for (size_t i = 0; ok && crt_count != 0 && i < kCrt.size(); ++i) {
      keep[i + 1] = bn_from(*crt[i]);
      ok = keep[i + 1] && OSSL_PARAM_BLD_push_BN(bld.get(), kCrt[i].second, keep[i + 1].get());
    }
  }
  if (!ok) return core::internal("OSSL_PARAM_BLD failed: " + openssl_errors());
  PkeyPtr pkey = pkey_from_params("RSA", bld.get(), d->has_value());
  if (!pkey) return malformed("the RSA members do not form a key");
  return pkey;
}

core::Result<PkeyPtr> ec_from_jwk(const json::Value& jwk) {
  const json::Value* crv = jwk.find("crv");
  if (crv == nullptr) return malformed("JWK member 'crv' is missing");
  if (!crv->is_string()) return malformed("JWK member 'crv' is not a string");
  const Curve* curve = curve_by_jwk_name(crv->text());
  if (curve == nullptr) return unsupported("EC curve '" + crv->text() + "' is not supported");
  auto x = required_b64_member(jwk, "x");
  if (!x.ok()) return std::move(x).error();
  auto y = required_b64_member(jwk, "y");
  if (!y.ok()) return std::move(y).error();
  auto d = optional_b64_member(jwk, "d");
  if (!d.ok()) return std::move(d).error();
  // RFC 7518 sections 6.2.1.2, 6.2.1.3, 6.2.2.1: full-length coordinates and d.
  if (x->size() != curve->field_bytes || y->size() != curve->field_bytes) {
    return malformed("EC coordinates must be " + std::to_string(curve->field_bytes) + " bytes");
  }
  if (d->has_value() && (*d)->size() != curve->field_bytes) {
    return malformed("EC 'd' must be " + std::to_string(curve->field_bytes) + " bytes");
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  BnPtr bn_d;
  bool ok =
      bld &&
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) &&
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size());
  if (ok && d->has_value()) {
    bn_d = bn_from(**d);
    ok = bn_d && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, bn_d.get());
  }
  if (!ok) return core::internal("OSSL_PARAM_BLD failed: " + openssl_errors());
  PkeyPtr pkey = pkey_from_params("EC", bld.get(), d->has_value());
  if (!pkey) return malformed("the EC point is not on the curve");
  return pkey;
}

// The PEM password callback: refuse, so that an encrypted PEM fails instead of prompting.
int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

}  // namespace

std::string_view alg_name(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
      return "RS256";
    case Alg::kRS384:
      return "RS384";
    case Alg::kES256:
      return "ES256";
    case Alg::kES384:
      return "ES384";
  }
  return "";
}

std::optional<Alg> parse_alg(std::string_view name) {
  for (Alg alg : {Alg::kRS256, Alg::kRS384, Alg::kES256, Alg::kES384}) {
    if (alg_name(alg) == name) return alg;
  }
  return std::nullopt;
}

namespace {

// A validated key: what every import path produces.
struct Material {
  PkeyPtr pkey;
  KeyType type = KeyType::kRsa;
  const Curve* curve = nullptr;  // EC only
  bool has_private = false;
};

// Returns whether `pkey` verifies its own signature: proves a private part matches its public
// part, whatever members it was built from.
bool self_test(EVP_PKEY* pkey) {
  constexpr std::string_view kData = "ipa::jose key self-test";
  MdCtxPtr sctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!sctx || EVP_DigestSignInit(sctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  auto data = reinterpret_cast<const unsigned char*>(kData.data());
  if (EVP_DigestSign(sctx.get(), nullptr, &len, data, kData.size()) != 1) return false;
  std::string sig(len, '\0');
  auto sig_data = reinterpret_cast<unsigned char*>(sig.data());
  if (EVP_DigestSign(sctx.get(), sig_data, &len, data, kData.size()) != 1) return false;
  MdCtxPtr vctx(EVP_MD_CTX_new());
  return vctx && EVP_DigestVerifyInit(vctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
         EVP_DigestVerify(vctx.get(), sig_data, len, data, kData.size()) == 1;
}

// Classifies and validates `pkey`, whatever its source. `is_private` says whether it was
// imported with its private part.
core::Result<Material> adopt(PkeyPtr pkey, bool is_private) {
  Material m;
  m.has_private = is_private;
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    m.type = KeyType::kRsa;
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits) return malformed("RSA keys must have at least 2048 bits");
    if (bits > kMaxRsaBits) return unsupported("RSA keys over 16384 bits are not supported");
    if (get_bn(pkey.get(), OSSL_PKEY_PARAM_RSA_FACTOR3)) {
      return unsupported("multi-prime RSA is not supported");
    }
    BnPtr e = get_bn(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
    if (!e || !BN_is_odd(e.get()) || BN_is_one(e.get())) {
      return malformed("the RSA exponent must be odd and greater than 1");
    }
  } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    m.type = KeyType::kEc;
    std::array<char, 64> group{};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(pkey.get(), group.data(), group.size(), &group_len) != 1) {
      return unsupported("EC keys with explicit curve parameters are not supported");
    }
    m.curve = curve_by_group(std::string_view(group.data(), group_len));
    if (m.curve == nullptr) {
      return unsupported("EC curve '" + std::string(group.data(), group_len) +
                         "' is not supported");
    }
    // Point on the curve, in the right subgroup; with a private part, d in range and matching.
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!ctx) return core::internal("EVP_PKEY_CTX_new_from_pkey failed: " + openssl_errors());
    if (EVP_PKEY_public_check(ctx.get()) != 1) return malformed("the EC point is not on the curve");
    if (is_private && EVP_PKEY_check(ctx.get()) != 1) {
      return malformed("the private part does not match the public part");
    }
  } else {
    return unsupported("only RSA and EC keys are supported");
  }
  if (is_private && !self_test(pkey.get())) {
    return malformed("the private part does not match the public part");
  }
  ERR_clear_error();
  m.pkey = std::move(pkey);
  return m;
}

}  // namespace

struct Key::Impl : Material {
  explicit Impl(Material m) : Material(std::move(m)) {}
  std::string kid;
  std::optional<Alg> alg;
};

Key::Key(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Key::Key(Key&&) noexcept = default;
Key& Key::operator=(Key&&) noexcept = default;
Key::~Key() = default;

core::Result<Key> Key::generate(Alg alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::kRS256:
    case Alg::kRS384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kMinRsaBits));
      break;
    case Alg::kES256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kES384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
  }
  if (raw == nullptr) return core::internal("EVP_PKEY_Q_keygen failed: " + openssl_errors());
  auto impl = adopt(PkeyPtr(raw), /*is_private=*/true);
  if (!impl.ok()) return core::internal("generated key rejected: " + impl.error().diagnostics);
  Key key(std::make_unique<Impl>(std::move(impl).value()));
  key.set_alg(alg);
  key.set_kid(key.thumbprint());
  return key;
}

core::Result<Key> Key::from_jwk(const json::Value& jwk) {
  if (!jwk.is_object()) return malformed("a JWK must be a JSON object");
  const json::Value* kty = jwk.find("kty");
  if (kty == nullptr) return malformed("JWK member 'kty' is missing");
  if (!kty->is_string()) return malformed("JWK member 'kty' is not a string");

  std::optional<Alg> alg;
  if (const json::Value* v = jwk.find("alg")) {
    if (!v->is_string()) return malformed("JWK member 'alg' is not a string");
    alg = parse_alg(v->text());
    if (!alg) return unsupported("alg '" + v->text() + "' is not supported");
  }
  // RFC 7517 sections 4.2 and 4.3: only signature keys are for us.
  if (const json::Value* v = jwk.find("use")) {
    if (!v->is_string()) return malformed("JWK member 'use' is not a string");
    if (v->text() != "sig") return unsupported("use '" + v->text() + "' is not \"sig\"");
  }
  if (const json::Value* v = jwk.find("key_ops")) {
    if (!v->is_array()) return malformed("JWK member 'key_ops' is not an array");
    bool signs = false;
    for (const json::Value& op : v->items()) {
      if (!op.is_string()) return malformed("JWK member 'key_ops' holds a non-string");
      signs = signs || op.text() == "sign" || op.text() == "verify";
    }
    if (!signs) return unsupported("key_ops allow neither sign nor verify");
  }
  std::string kid;
  if (const json::Value* v = jwk.find("kid")) {
    if (!v->is_string()) return malformed("JWK member 'kid' is not a string");
    kid = v->text();
  }

  if (kty->text() != "RSA" && kty->text() != "EC") {
    return unsupported("kty '" + kty->text() + "' is not supported");
  }
  core::Result<PkeyPtr> pkey = kty->text() == "RSA" ? rsa_from_jwk(jwk) : ec_from_jwk(jwk);
  if (!pkey.ok()) return std::move(pkey).error();
  auto impl = adopt(std::move(pkey).value(), jwk.find("d") != nullptr);
  if (!impl.ok()) return std::move(impl).error();
  Key key(std::make_unique<Impl>(std::move(impl).value()));
  key.impl_->kid = std::move(kid);
  if (alg) {
    if (!key.fits(*alg))
      return unsupported("alg '" + std::string(alg_name(*alg)) + "' does not fit the key type");
    key.impl_->alg = alg;
  }
  return key;
}

core::Result<Key> Key::from_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return malformed("PEM too large");
  bool is_private = true;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return core::internal("BIO_new_mem_buf failed: " + openssl_errors());
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!pkey) {
    ERR_clear_error();
    is_private = false;
    bio.reset(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return core::internal("BIO_new_mem_buf failed: " + openssl_errors());
    pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr));
  }
  if (!pkey) return malformed("not a readable unencrypted PEM private or public key");
  auto impl = adopt(std::move(pkey), is_private);
  if (!impl.ok()) return std::move(impl).error();
  return Key(std::make_unique<Impl>(std::move(impl).value()));
}

json::Value Key::public_jwk() const {
  assert(impl_);
  json::Value jwk = json::Value::object();
  EVP_PKEY* pkey = impl_->pkey.get();
  if (impl_->type == KeyType::kRsa) {
    BnPtr n = get_bn(pkey, OSSL_PKEY_PARAM_RSA_N);
    BnPtr e = get_bn(pkey, OSSL_PKEY_PARAM_RSA_E);
    IPA_CHECK(n && e, "an RSA key without n or e");
    jwk.set("kty", json::Value::string("RSA"));
    jwk.set("n", json::Value::string(base64url_encode(bn_bytes(n.get()))));
    jwk.set("e", json::Value::string(base64url_encode(bn_bytes(e.get()))));
  } else {
    BnPtr x = get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
    BnPtr y = get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
    IPA_CHECK(x && y, "an EC key without x or y");
    size_t len = impl_->curve->field_bytes;
    jwk.set("kty", json::Value::string("EC"));
    jwk.set("crv", json::Value::string(std::string(impl_->curve->jwk_name)));
    jwk.set("x", json::Value::string(base64url_encode(bn_bytes_padded(x.get(), len))));
    jwk.set("y", json::Value::string(base64url_encode(bn_bytes_padded(y.get(), len))));
  }
  if (!impl_->kid.empty()) jwk.set("kid", json::Value::string(impl_->kid));
  if (impl_->alg) jwk.set("alg", json::Value::string(std::string(alg_name(*impl_->alg))));
  jwk.set("use", json::Value::string("sig"));
  return jwk;
}

json::Value Key::private_jwk() const {
  json::Value jwk = public_jwk();
  if (!impl_->has_private) return jwk;
  EVP_PKEY* pkey = impl_->pkey.get();
  if (impl_->type == KeyType::kRsa) {
    static constexpr std::array<std::pair<const char*, const char*>, 6> kPrivate = {{
        {"d", OSSL_PKEY_PARAM_RSA_D},
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    }};
    for (const auto& [member, param] : kPrivate) {
      // A key imported from n, e, d alone has no CRT members: write what there is.
      if (BnPtr bn = get_bn(pkey, param)) {
        jwk.set(member, json::Value::string(base64url_encode(bn_bytes(bn.get()))));
      }
    }
  } else {
    BnPtr d = get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
    IPA_CHECK(d != nullptr, "an EC private key without d");
    jwk.set("d", json::Value::string(
                     base64url_encode(bn_bytes_padded(d.get(), impl_->curve->field_bytes))));
  }
  return jwk;
}

std::string Key::private_pem() const {
  assert(impl_);
  if (!impl_->has_private) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  IPA_CHECK(bio && PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0,
                                            nullptr, nullptr) == 1,
            "PEM_write_bio_PrivateKey failed");
  return bio_contents(bio.get());
}

std::string Key::public_pem() const {
  assert(impl_);
  BioPtr bio(BIO_new(BIO_s_mem()));
  IPA_CHECK(bio && PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) == 1,
            "PEM_write_bio_PUBKEY failed");
  return bio_contents(bio.get());
}

bool Key::has_private() const { return impl_->has_private; }
KeyType Key::type() const { return impl_->type; }

bool Key::fits(Alg alg) const {
  assert(impl_);
  if (impl_->alg && *impl_->alg != alg) return false;  // RFC 7517 section 4.4
  if (impl_->type == KeyType::kRsa) return is_rsa_alg(alg);
  return impl_->curve->alg == alg;  // RFC 7518 section 3.4: ES256 is P-256, ES384 is P-384
}

const std::string& Key::kid() const { return impl_->kid; }
void Key::set_kid(std::string kid) { impl_->kid = std::move(kid); }
std::optional<Alg> Key::alg() const { return impl_->alg; }
void Key::set_alg(Alg alg) { impl_->alg = alg; }

std::string Key::thumbprint() const {
  // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
  json::Value pub = public_jwk();
  json::Value members = json::Value::object();
  if (impl_->type == KeyType::kRsa) {
    for (std::string_view m : {"e", "kty", "n"}) {
      members.set(m, json::Value::string(std::string(pub.get_string(m))));
    }
  } else {
    for (std::string_view m : {"crv", "kty", "x", "y"}) {
      members.set(m, json::Value::string(std::string(pub.get_string(m))));
    }
  }
  return base64url_encode(sha256(json::write(members)));
}

core::Result<std::string> Key::sign(Alg alg, std::string_view data) const {
  assert(impl_);
  if (!impl_->has_private) return core::internal("sign() with a public-only key");
  if (!fits(alg))
    return core::internal("sign() with a key that does not fit " + std::string(alg_name(alg)));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, digest_for(alg), nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return core::internal("EVP_DigestSign setup failed: " + openssl_errors());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    return core::internal("EVP_DigestSign failed: " + openssl_errors());
  }
  sig.resize(len);
  if (impl_->type == KeyType::kRsa) return sig;

  // RFC 7518 section 3.4: JWS carries R||S, each the curve's field length, not DER.
  auto der = reinterpret_cast<const unsigned char*>(sig.data());
  EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())));
  if (!ecdsa) return core::internal("d2i_ECDSA_SIG failed: " + openssl_errors());
  size_t field = impl_->curve->field_bytes;
  return bn_bytes_padded(ECDSA_SIG_get0_r(ecdsa.get()), field) +
         bn_bytes_padded(ECDSA_SIG_get0_s(ecdsa.get()), field);
}

bool Key::verify(Alg alg, std::string_view data, std::string_view signature) const {
  assert(impl_);
  if (!fits(alg)) return false;
  std::string der;
  std::string_view sig = signature;
  if (impl_->type == KeyType::kRsa) {
    if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(impl_->pkey.get()))) {
      return false;
    }
  } else {
    size_t field = impl_->curve->field_bytes;
    if (signature.size() != 2 * field) return false;
    BnPtr r = bn_from(signature.substr(0, field));
    BnPtr s = bn_from(signature.substr(field));
    EcdsaSigPtr ecdsa(ECDSA_SIG_new());
    if (!r || !s || !ecdsa) {
      ERR_clear_error();
      return false;
    }
    // ECDSA_SIG_set0 takes ownership of r and s; it fails only on null arguments.
    if (ECDSA_SIG_set0(ecdsa.get(), r.release(), s.release()) != 1) return false;
    unsigned char* out = nullptr;
    int der_len = i2d_ECDSA_SIG(ecdsa.get(), &out);
    if (der_len <= 0) {
      ERR_clear_error();
      return false;
    }
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(der_len));
    OPENSSL_free(out);
    sig = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(alg), nullptr, impl_->pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace ipa::jose
