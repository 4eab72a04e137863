#include "client/tls_probe.h"

#include "client/url.h"

namespace ipa::client {

TlsVersionReport probe_tls_versions(const std::string& url, const std::string& ca_file,
                                    std::chrono::milliseconds timeout) {
  Url u;
  if (!parse_url(url, u) || u.scheme != "https") {
    TlsVersionReport report;
    report.problem = url + " is not an https URL";
    return report;
  }
  return http::probe_tls_versions(u.host, u.port, ca_file, timeout);
}

}  // namespace ipa::client
