// Test support for the client module: a fake Transport that answers from handlers keyed by
// "METHOD url" (exact) or by a URL prefix, and records every request. Tests only.
#pragma once

#include <strings.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "client/transport.h"

namespace ipa::client::testing {

struct Sent {
  std::string method;
  std::string url;
  std::vector<Header> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const Header& h : headers) {
      if (strcasecmp(h.name.c_str(), name.c_str()) == 0) return h.value;
    }
    return "";
  }
};

using Handler = std::function<ClientResponse(const Sent&)>;

inline ClientResponse json_response(int status, std::string body) {
  ClientResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/fhir+json"}};
  r.body = std::move(body);
  return r;
}

class FakeTransport : public Transport {
 public:
  // Answers "GET https://x/y" exactly, or the longest registered prefix ending in '*'.
  void on(const std::string& key, Handler h) { handlers_[key] = std::move(h); }
  void on_json(const std::string& key, int status, const std::string& body) {
    on(key, [status, body](const Sent&) { return json_response(status, body); });
  }

  core::Result<ClientResponse> send(const std::string& method, const std::string& url,
                                    const std::vector<Header>& headers,
                                    const std::string& body) override {
    Sent s{method, url, headers, body};
    sent.push_back(s);
    std::string key = method + " " + url;
    if (auto it = handlers_.find(key); it != handlers_.end()) return it->second(s);
    const Handler* best = nullptr;
    size_t best_len = 0;
    for (const auto& [k, h] : handlers_) {
      if (!k.empty() && k.back() == '*' && key.rfind(k.substr(0, k.size() - 1), 0) == 0 &&
          k.size() > best_len) {
        best = &h;
        best_len = k.size();
      }
    }
    if (best != nullptr) return (*best)(s);
    return json_response(404, R"({"resourceType":"OperationOutcome"})");
  }

  std::vector<Sent> sent;

 private:
  std::map<std::string, Handler> handlers_;
};

}  // namespace ipa::client::testing
