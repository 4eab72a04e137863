#include "http/tls_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "http/fetch.h"

namespace ipa::http {
namespace {

// A connected TCP socket, closed on scope exit.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Connects to host:port within `timeout`; on failure returns an invalid socket and sets `why`.
std::unique_ptr<Socket> connect_to(const std::string& host, int port,
                                   std::chrono::milliseconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    why = host + " does not resolve: " + gai_strerror(rc);
    return nullptr;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> holder(res, freeaddrinfo);
  why = "cannot connect to " + host + ":" + service;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    auto s = std::make_unique<Socket>(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (s->fd() < 0) continue;
    int flags = ::fcntl(s->fd(), F_GETFL, 0);
    ::fcntl(s->fd(), F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(s->fd(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s->fd(), POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        if (err != 0) why += std::string(": ") + std::strerror(err);
      } else {
        why += ": timed out";
      }
    }
    if (rc != 0) continue;
    ::fcntl(s->fd(), F_SETFL, flags);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(s->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s->fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
  }
  return nullptr;
}

std::string openssl_reason(unsigned long e) {
  const char* r = e == 0 ? nullptr : ERR_reason_error_string(e);
  return r != nullptr ? r : "the server closed the connection";
}

TlsVersionProbe probe_one(const std::string& host_in, int port, int version, const char* name,
                          const std::string& ca_file, std::chrono::milliseconds timeout) {
  TlsVersionProbe out;
  out.version = name;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), version) != 1) {
    out.outcome = TlsOutcome::kNotOffered;
    out.detail = "this OpenSSL cannot offer " + out.version;
    return out;
  }
  if (version < TLS1_2_VERSION) {
    // TLS 1.0/1.1 need SHA-1 and old suites, which OpenSSL 3 allows only at level 0.
    SSL_CTX_set_security_level(ctx.get(), 0);
    SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  bool trust_ok = ca_file.empty()
                      ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                      : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) == 1;
  if (!trust_ok) {
    out.outcome = TlsOutcome::kNotOffered;
    out.detail = "cannot load the trusted CAs" + (ca_file.empty() ? "" : " from " + ca_file);
    return out;
  }
  std::string why;
  auto sock = connect_to(host_in, port, timeout, why);
  if (!sock) {
    out.outcome = TlsOutcome::kUnreachable;
    out.detail = why;
    return out;
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), sock->fd()) != 1) {
    out.outcome = TlsOutcome::kNotOffered;
    out.detail = "cannot set up OpenSSL";
    return out;
  }
  std::string host = host_in;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (classify_address(host) == AddressKind::kInvalid) {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());  // SNI: names only (RFC 6066)
    SSL_set1_host(ssl.get(), host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
  }
  ERR_clear_error();
  int rc = SSL_connect(ssl.get());
  if (rc == 1) {
    out.outcome = TlsOutcome::kAccepted;
    out.certificate_verified = SSL_get_verify_result(ssl.get()) == X509_V_OK;
    SSL_shutdown(ssl.get());
    return out;
  }
  unsigned long e = ERR_peek_last_error();
  int reason = ERR_GET_REASON(e);
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    // The server sent its certificate in a handshake at this version: it accepted the version.
    out.outcome = TlsOutcome::kAccepted;
    out.detail = X509_verify_cert_error_string(SSL_get_verify_result(ssl.get()));
  } else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
             (reason == SSL_R_NO_PROTOCOLS_AVAILABLE || reason == SSL_R_NO_CIPHERS_AVAILABLE)) {
    out.outcome = TlsOutcome::kNotOffered;
    out.detail = "this OpenSSL cannot offer " + out.version + ": " + openssl_reason(e);
  } else {
    out.outcome = TlsOutcome::kRefused;
    out.detail = openssl_reason(e);
  }
  ERR_clear_error();
  return out;
}

// OpenSSL writes to the socket with write(2): a server that closes mid-handshake would raise
// SIGPIPE and end the whole process. The probing thread blocks SIGPIPE and, on the way out,
// takes the ones it raised off the pending set.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeBlocked() {
    if (sigismember(&old_, SIGPIPE) == 1) return;  // already blocked by the caller: leave it
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    timespec none{0, 0};
    while (sigtimedwait(&pipe, nullptr, &none) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

TlsVersionReport probe_tls_versions(const std::string& host, int port, const std::string& ca_file,
                                    std::chrono::milliseconds timeout) {
  SigpipeBlocked no_sigpipe;
  TlsVersionReport report;
  struct Version {
    int id;
    const char* name;
  };
  for (Version v : {Version{TLS1_VERSION, "TLS 1.0"}, Version{TLS1_1_VERSION, "TLS 1.1"},
                    Version{TLS1_2_VERSION, "TLS 1.2"}, Version{TLS1_3_VERSION, "TLS 1.3"}}) {
    report.probes.push_back(probe_one(host, port, v.id, v.name, ca_file, timeout));
  }
  std::vector<std::string> problems;
  std::vector<std::string> parts;
  bool modern_verified = false;
  std::string certificate_problem;
  for (const TlsVersionProbe& p : report.probes) {
    bool old = p.version == "TLS 1.0" || p.version == "TLS 1.1";
    switch (p.outcome) {
      case TlsOutcome::kAccepted:
        parts.push_back(
            p.version + " accepted" +
            (p.certificate_verified ? "" : " (certificate not verified: " + p.detail + ")"));
        if (old) problems.push_back("the server accepts " + p.version);
        if (!old && p.certificate_verified) modern_verified = true;
        if (!old && !p.certificate_verified && certificate_problem.empty()) {
          certificate_problem = p.detail;
        }
        break;
      case TlsOutcome::kRefused:
        parts.push_back(p.version + " refused (" + p.detail + ")");
        break;
      case TlsOutcome::kNotOffered:
        parts.push_back(p.version + " not probed (" + p.detail + ")");
        break;
      case TlsOutcome::kUnreachable:
        parts.push_back(p.version + " not probed (" + p.detail + ")");
        if (std::find(problems.begin(), problems.end(), p.detail) == problems.end()) {
          problems.push_back(p.detail);
        }
        break;
    }
  }
  if (!modern_verified) {
    if (!certificate_problem.empty()) {
      problems.push_back("the server's certificate does not verify (" + certificate_problem +
                         "): a private CA must be trusted with --ca-file");
    } else {
      problems.push_back("neither TLS 1.2 nor TLS 1.3 works");
    }
  }
  for (const std::string& p : parts) report.summary += (report.summary.empty() ? "" : ", ") + p;
  for (const std::string& p : problems) report.problem += (report.problem.empty() ? "" : "; ") + p;
  return report;
}

}  // namespace ipa::http
