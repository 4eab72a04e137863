// The TLS version probe against this project's HTTPS server (TLS 1.2+ only), against a server
// served by the test that still accepts TLS 1.0 and 1.1, with and without the test's CA, and
// against a closed port.
#include "http/tls_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "http/server.h"
#include "http/testing/tls_cert.h"

namespace ipa::http {
namespace {

class TempFolder {
 public:
  TempFolder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tls-probe-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempFolder() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An https server of our own transport: TLS 1.2 and later only.
std::unique_ptr<http::Server> start_https(const testing::TlsFiles& tls) {
  http::ServerOptions o;
  o.port = 0;
  o.threads = 1;
  o.tls_certificate_file = tls.certificate;
  o.tls_private_key_file = tls.private_key;
  auto s = http::Server::start(o, [](const http::Request&) { return http::Response{}; });
  if (!s.ok()) {
    ADD_FAILURE() << s.error().log_detail;
    return nullptr;
  }
  return std::move(s).value();
}

// A TLS server that accepts every version from TLS 1.0 (security level 0), handshakes and
// closes: what the probe must fail.
class PermissiveTlsServer {
 public:
  explicit PermissiveTlsServer(const testing::TlsFiles& tls) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_use_certificate_file(ctx_, tls.certificate.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_, tls.private_key.c_str(), SSL_FILETYPE_PEM);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      // The probe closes after its handshake: SSL_shutdown's write must not kill the test.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
        SSL_free(ssl);
        ERR_clear_error();
        ::close(c);
      }
    });
  }
  ~PermissiveTlsServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

const TlsVersionProbe* find(const TlsVersionReport& r, const std::string& version) {
  for (const TlsVersionProbe& p : r.probes) {
    if (p.version == version) return &p;
  }
  return nullptr;
}

TEST(TlsProbe, OurServerRefusesTls10And11AndAcceptsTls12WithTheTrustedCa) {
  TempFolder dir;
  auto tls = testing::make_self_signed(dir.path());
  ASSERT_FALSE(tls.certificate.empty());
  auto server = start_https(tls);
  ASSERT_NE(server, nullptr);
  TlsVersionReport r = probe_tls_versions("127.0.0.1", server->port(), tls.certificate);
  EXPECT_EQ(r.problem, "") << r.summary;
  ASSERT_EQ(r.probes.size(), 4u);
  for (const char* old : {"TLS 1.0", "TLS 1.1"}) {
    SCOPED_TRACE(old);
    const TlsVersionProbe* p = find(r, old);
    ASSERT_NE(p, nullptr);
    // Refused by the server (an alert), not left out by this client's OpenSSL.
    EXPECT_EQ(p->outcome, TlsOutcome::kRefused) << p->detail;
  }
  const TlsVersionProbe* v12 = find(r, "TLS 1.2");
  ASSERT_NE(v12, nullptr);
  EXPECT_EQ(v12->outcome, TlsOutcome::kAccepted) << v12->detail;
  EXPECT_TRUE(v12->certificate_verified);
  EXPECT_NE(r.summary.find("TLS 1.1 refused"), std::string::npos) << r.summary;
  EXPECT_NE(r.summary.find("TLS 1.2 accepted"), std::string::npos) << r.summary;
}

TEST(TlsProbe, AnUntrustedCertificateFails) {
  TempFolder dir;
  auto tls = testing::make_self_signed(dir.path());
  auto other = testing::make_self_signed(std::filesystem::path(dir.path()) / "other");
  ASSERT_FALSE(other.certificate.empty());
  auto server = start_https(tls);
  ASSERT_NE(server, nullptr);
  TlsVersionReport r = probe_tls_versions("127.0.0.1", server->port(), other.certificate);
  EXPECT_NE(r.problem.find("certificate does not verify"), std::string::npos) << r.problem;
  EXPECT_NE(r.problem.find("--ca-file"), std::string::npos) << r.problem;
  // The old versions are still judged: refused.
  EXPECT_EQ(r.problem.find("accepts TLS 1."), std::string::npos) << r.problem;
}

TEST(TlsProbe, AServerThatAcceptsTls10And11Fails) {
  TempFolder dir;
  auto tls = testing::make_self_signed(dir.path());
  ASSERT_FALSE(tls.certificate.empty());
  PermissiveTlsServer server(tls);
  TlsVersionReport r = probe_tls_versions("127.0.0.1", server.port(), tls.certificate);
  EXPECT_NE(r.problem.find("the server accepts TLS 1.0"), std::string::npos) << r.problem;
  EXPECT_NE(r.problem.find("the server accepts TLS 1.1"), std::string::npos) << r.problem;
  const TlsVersionProbe* v11 = find(r, "TLS 1.1");
  ASSERT_NE(v11, nullptr);
  EXPECT_EQ(v11->outcome, TlsOutcome::kAccepted);
  EXPECT_TRUE(v11->certificate_verified);
}

TEST(TlsProbe, AClosedPortIsAProblemNotACrash) {
  // Bind and close to get a port nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  TlsVersionReport r = probe_tls_versions("127.0.0.1", port, "");
  EXPECT_NE(r.problem.find("cannot connect"), std::string::npos) << r.problem;
}

}  // namespace
}  // namespace ipa::http
