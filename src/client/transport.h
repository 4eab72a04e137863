// Transport: the IPA client's one seam to the network. Production code uses curl_transport()
// (libcurl through the http module); unit tests pass a fake that answers from a table. A
// transport never follows redirects by itself (the OAuth form driver must see each 303).
// Implementations are used from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "http/server.h"

namespace ipa::client {

using http::ClientResponse;
using http::Header;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request to the absolute `url` and returns the response, whatever its status.
  // Errors: unavailable (503) when the server cannot be reached or the answer is too large.
  virtual core::Result<ClientResponse> send(const std::string& method, const std::string& url,
                                            const std::vector<Header>& headers,
                                            const std::string& body) = 0;
};

struct TransportOptions {
  size_t max_body = 64 * 1024 * 1024;  // larger responses fail
  // PEM file of the CAs that https servers must chain to, instead of the system's bundle (a
  // private CA); "" = the system's. Certificates are always verified: there is no insecure mode.
  std::string ca_file;
};

// Returns a libcurl transport with a 30 s timeout per request. When a server's certificate
// does not verify, the error says which CAs were trusted and how to trust a private CA.
std::unique_ptr<Transport> curl_transport(const TransportOptions& options = {});

// Returns the CA file named by the environment: $SSL_CERT_FILE, else $CURL_CA_BUNDLE, else "".
std::string ca_file_from_environment();

}  // namespace ipa::client
