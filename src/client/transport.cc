#include "client/transport.h"

#include "http/fetch.h"

namespace ipa::client {
namespace {

class CurlTransport : public Transport {
 public:
  explicit CurlTransport(size_t max_body) { options_.max_body = max_body; }
  core::Result<ClientResponse> send(const std::string& method, const std::string& url,
                                    const std::vector<Header>& headers,
                                    const std::string& body) override {
    return http::fetch(method, url, headers, body, options_);
  }

 private:
  http::FetchOptions options_{.timeout = std::chrono::milliseconds(30000)};
};

}  // namespace

std::unique_ptr<Transport> curl_transport(size_t max_body) {
  return std::make_unique<CurlTransport>(max_body);
}

}  // namespace ipa::client
