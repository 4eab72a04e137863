#include "client/transport.h"

#include <cstdlib>

#include "http/fetch.h"

namespace ipa::client {
namespace {

class CurlTransport : public Transport {
 public:
  explicit CurlTransport(const TransportOptions& o) {
    options_.max_body = o.max_body;
    options_.ca_file = o.ca_file;
  }
  core::Result<ClientResponse> send(const std::string& method, const std::string& url,
                                    const std::vector<Header>& headers,
                                    const std::string& body) override {
    auto r = http::fetch(method, url, headers, body, options_);
    if (!r.ok() && url.rfind("https://", 0) == 0 && is_certificate_problem(r.error().diagnostics)) {
      core::Error e = r.error();
      if (e.diagnostics.find("setting certificate") != std::string::npos) {
        e.diagnostics += " (the CA file " + options_.ca_file + " is not a PEM certificate list)";
        return e;
      }
      e.diagnostics += options_.ca_file.empty()
                           ? " (the server's certificate does not chain to a CA of the system's "
                             "store: for a private CA give --ca-file FILE or set SSL_CERT_FILE)"
                           : " (the server's certificate does not chain to a CA in " +
                                 options_.ca_file +
                                 ": give the CA that signed it with --ca-file FILE)";
      return e;
    }
    return r;
  }

 private:
  static bool is_certificate_problem(const std::string& text) {
    return text.find("certificate") != std::string::npos ||
           text.find("SSL peer") != std::string::npos;
  }
  http::FetchOptions options_{.timeout = std::chrono::milliseconds(30000)};
};

}  // namespace

std::unique_ptr<Transport> curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

std::string ca_file_from_environment() {
  for (const char* name : {"SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "";
}

}  // namespace ipa::client
