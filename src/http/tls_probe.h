// TLS version probe: the client side of the TLS test kit's `tls_version_test` (requirements
// S87, pitfall P28). For an https URL it opens one TCP connection per protocol version and
// tries a handshake pinned to that version; it sends no application data. Blocking; safe to
// call from any thread (each probe has its own OpenSSL context).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ipa::http {

enum class TlsOutcome {
  kAccepted,     // the server completed a handshake at this version
  kRefused,      // the server ended the handshake (for example a protocol_version alert)
  kNotOffered,   // this machine's OpenSSL cannot offer the version: nothing was probed
  kUnreachable,  // no TCP connection
};

struct TlsVersionProbe {
  std::string version;  // "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"
  TlsOutcome outcome = TlsOutcome::kUnreachable;
  bool certificate_verified = false;  // with kAccepted: chain and host name verified
  std::string detail;                 // OpenSSL's reason or the certificate problem
};

struct TlsVersionReport {
  std::vector<TlsVersionProbe> probes;
  // "" when every version below 1.2 is refused and TLS 1.2 or 1.3 works with a certificate
  // that verifies (the kit's verdict); otherwise what is wrong.
  std::string problem;
  // One line, e.g. "TLS 1.0 refused, TLS 1.1 refused, TLS 1.2 accepted, TLS 1.3 accepted".
  std::string summary;
};

// Probes `host`:`port` with TLS 1.0, 1.1, 1.2 and 1.3 (the host name is also checked against
// the certificate). The old
// versions are offered at OpenSSL security level 0 (so that a refusal is the server's, not
// this client's); certificate verification stays on for every probe, trusting the PEM CAs in
// `ca_file` ("" = the system's store). A certificate that does not verify during a 1.0/1.1
// handshake still proves the server negotiated that version. SSL 2.0/3.0 are not probed (OpenSSL 3
// cannot offer them). Never fails as a call: an unreachable host gives a report with a problem.
TlsVersionReport probe_tls_versions(const std::string& host, int port, const std::string& ca_file,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ipa::http
