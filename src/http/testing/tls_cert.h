// Tests only: a throwaway self-signed certificate for 127.0.0.1 and localhost (ECDSA P-256),
// written as PEM files, so HTTPS can be tested without the openssl command or fixed key files.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace ipa::http::testing {

struct TlsFiles {
  std::string certificate;  // PEM certificate, also the CA file a client trusts
  std::string private_key;  // PEM private key
};

// Writes cert.pem and key.pem into `dir` (created if missing). Returns empty paths on failure.
inline TlsFiles make_self_signed(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  TlsFiles out;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return out;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ipa-test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return out;
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return out;
  std::string cert_path = (dir / "cert.pem").string();
  std::string key_path = (dir / "key.pem").string();
  FILE* f = std::fopen(cert_path.c_str(), "w");
  if (f == nullptr) return out;
  bool ok = PEM_write_X509(f, cert.get()) == 1;
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  if (f == nullptr) return out;
  ok = ok && PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) return out;
  out.certificate = cert_path;
  out.private_key = key_path;
  return out;
}

}  // namespace ipa::http::testing
