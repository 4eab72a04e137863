#include "http/fetch.h"

#include <gtest/gtest.h>

namespace ipa::http {
namespace {

TEST(Fetch, GetsFromALoopbackServer) {
  ServerOptions o;
  o.threads = 1;
  auto server = Server::start(o, [](const Request& r) {
    Response resp;
    resp.body = R"({"keys":[]})";
    resp.set_header("Content-Type", "application/json");
    resp.set_header("X-Accept", r.header("Accept"));
    return resp;
  });
  ASSERT_TRUE(server.ok());
  std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/jwks";
  auto r = fetch("GET", url, {{"Accept", "application/json"}}, "");
  ASSERT_TRUE(r.ok()) << r.error().diagnostics;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"keys":[]})");
  EXPECT_EQ(r->header("x-accept"), "application/json");
  FetchOptions small;
  small.max_body = 4;
  EXPECT_EQ(fetch("GET", url, {}, "", small).error().http_status, 503);
  FetchOptions tls;
  tls.https_only = true;
  EXPECT_FALSE(fetch("GET", url, {}, "", tls).ok());
  (*server)->stop();
  EXPECT_FALSE(fetch("GET", url, {}, "").ok());  // nothing listens any more
  EXPECT_FALSE(fetch("GET", "file:///etc/passwd", {}, "").ok());
}

}  // namespace
}  // namespace ipa::http
