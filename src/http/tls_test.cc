// HTTPS: the server speaks TLS 1.2 and later from PEM files, refuses older protocol versions and
// plain HTTP on its TLS port, and refuses to start with missing or mismatched files.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "http/server.h"
#include "http/testing/tls_cert.h"

namespace ipa::http {
namespace {

namespace fs = std::filesystem;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ipa-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    files_ = testing::make_self_signed(dir_);
    ASSERT_FALSE(files_.certificate.empty());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Server> start_tls() {
    ServerOptions o;
    o.threads = 1;
    o.header_timeout = std::chrono::milliseconds(2000);
    o.tls_certificate_file = files_.certificate;
    o.tls_private_key_file = files_.private_key;
    auto s = Server::start(o, [](const Request& r) {
      Response resp;
      resp.body = "hello " + r.path;
      if (r.path == "/large") resp.body = std::string(400 * 1024, 'x');
      resp.set_header("Content-Type", "text/plain");
      return resp;
    });
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().diagnostics);
    return s.ok() ? std::move(*s) : nullptr;
  }

  fs::path dir_;
  testing::TlsFiles files_;
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET over HTTPS with libcurl, trusting only the test certificate. Returns the status (0 when
// the transfer failed) and the body.
std::pair<long, std::string> curl_get(const std::string& url, const std::string& ca_file) {
  std::string body;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return {status, body};
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// A raw OpenSSL handshake offering exactly [min, max]; the client's own security level is 0 so
// that it is the server, not the client, that refuses old versions.
bool handshake(uint16_t port, int min_version, int max_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  int fd = connect_loopback(port);
  bool ok = false;
  if (fd >= 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ok = SSL_connect(ssl) == 1;
    SSL_free(ssl);
    ::close(fd);
  }
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

TEST_F(TlsTest, ServesHttpsWithTheConfiguredCertificate) {
  auto server = start_tls();
  ASSERT_NE(server, nullptr);
  std::string base = "https://127.0.0.1:" + std::to_string(server->port());
  auto [status, body] = curl_get(base + "/fhir/metadata", files_.certificate);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "hello /fhir/metadata");
  // Keep-alive over TLS: a second request on libcurl's cached connection works too.
  EXPECT_EQ(curl_get(base + "/two", files_.certificate).second, "hello /two");
  // A body far larger than a TLS record and than the socket buffers.
  EXPECT_EQ(curl_get(base + "/large", files_.certificate).second.size(), 400u * 1024);
  // A client that does not trust the certificate fails the transfer.
  fs::path other = dir_ / "other";
  auto stranger = testing::make_self_signed(other);
  EXPECT_EQ(curl_get(base + "/x", stranger.certificate).first, 0);
}

TEST_F(TlsTest, RefusesProtocolsOlderThanTls12) {
  auto server = start_tls();
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(handshake(server->port(), TLS1_VERSION, TLS1_1_VERSION));
  EXPECT_TRUE(handshake(server->port(), TLS1_2_VERSION, TLS1_2_VERSION));
  EXPECT_TRUE(handshake(server->port(), TLS1_3_VERSION, TLS1_3_VERSION));
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGetsNoAnswerAndTheServerGoesOn) {
  auto server = start_tls();
  ASSERT_NE(server, nullptr);
  int fd = connect_loopback(server->port());
  ASSERT_GE(fd, 0);
  std::string req = "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  std::string got = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << got;
  ::close(fd);
  std::string base = "https://127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(curl_get(base + "/after", files_.certificate).first, 200);
}

TEST_F(TlsTest, RefusesToStartWithMissingOrMismatchedFiles) {
  ServerOptions o;
  o.threads = 1;
  auto handler = [](const Request&) { return Response{}; };
  o.tls_certificate_file = files_.certificate;  // no key
  auto s = Server::start(o, handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().diagnostics.find("private key"), std::string::npos) << s.error().diagnostics;

  o.tls_private_key_file = (dir_ / "missing.pem").string();
  s = Server::start(o, handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().diagnostics.find("missing.pem"), std::string::npos) << s.error().diagnostics;

  auto other = testing::make_self_signed(dir_ / "other");
  o.tls_private_key_file = other.private_key;  // a key of another certificate
  s = Server::start(o, handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().diagnostics.find("does not match"), std::string::npos)
      << s.error().diagnostics;
}

}  // namespace
}  // namespace ipa::http
