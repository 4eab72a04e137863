// Transport rules (S87-S88): HTTPS from configured PEM files with TLS 1.2 and later, and plain
// HTTP only on loopback unless a setting says a TLS-terminating proxy is in front.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>

#include "harness.h"
#include "http/testing/tls_cert.h"

namespace ipa::testing {
namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET over HTTPS trusting only `ca_file`; status 0 when the transfer failed.
std::pair<long, std::string> https_get(const std::string& url, const std::string& ca_file) {
  std::string body;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return {status, body};
}

TEST(Transport, PlainHttpOffLoopbackIsRefusedUnlessAllowed) {
  TempDir dir;
  auto refused = run_server_command(
      {"serve", "--store", dir.file("a.db"), "--address", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("plain HTTP is refused on 0.0.0.0"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--tls-cert"), std::string::npos) << refused.err;

  // Behind a TLS-terminating proxy: allowed by the setting, and then it serves.
  ServerProcess proxied(dir.file("b.db"), {"--address", "0.0.0.0", "--allow-plain-http", "true"},
                        {}, "serve", /*with_auth=*/true);
  EXPECT_EQ(proxied.get("/livez").status, 200);
  EXPECT_EQ(proxied.get("/fhir/metadata").status, 200);
}

TEST(Transport, ServesTheApiOverHttps) {
  TempDir dir;
  auto tls = http::testing::make_self_signed(dir.file("tls"));
  ASSERT_FALSE(tls.certificate.empty());
  // TLS on every interface needs no further setting.
  ServerProcess server(
      dir.file("ipa.db"),
      {"--address", "0.0.0.0", "--tls-cert", tls.certificate, "--tls-key", tls.private_key}, {},
      "serve", /*with_auth=*/true);
  ASSERT_GT(server.port(), 0);
  std::string base = "https://127.0.0.1:" + std::to_string(server.port()) + "/fhir";
  auto [status, body] = https_get(base + "/metadata", tls.certificate);
  ASSERT_EQ(status, 200);
  auto cs = json::parse(body);
  ASSERT_TRUE(cs.ok());
  // The default base follows the scheme, so every advertised URL is https.
  EXPECT_EQ(cs->find("implementation")->get_string("url"), base);
  auto [st2, smart] = https_get(base + "/.well-known/smart-configuration", tls.certificate);
  ASSERT_EQ(st2, 200);
  auto sc = json::parse(smart);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->get_string("token_endpoint").rfind("https://127.0.0.1:", 0), 0u)
      << sc->get_string("token_endpoint");
  // The FHIR API still demands a token over TLS.
  EXPECT_EQ(https_get(base + "/Patient", tls.certificate).first, 401);
  // Plain HTTP to the TLS port gets no HTTP answer.
  auto plain = http::request(server.port(), "GET", "/livez");
  EXPECT_TRUE(!plain.ok() || plain->status != 200);

  // A key that does not match the certificate: the server says so and does not start.
  auto other = http::testing::make_self_signed(dir.file("other"));
  auto bad = run_server_command({"serve", "--store", dir.file("c.db"), "--port", "0", "--tls-cert",
                                 tls.certificate, "--tls-key", other.private_key});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("does not match"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ipa::testing
