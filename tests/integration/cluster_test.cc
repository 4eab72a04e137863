// Scale-out: two ipa-server nodes on one PostgreSQL database behind HAProxy (round robin). From
// each response's X-Node header it checks that a standalone launch crosses nodes step by step, a
// refresh is served by the other node, a revocation on one node is refused on the other, a
// replayed jti is refused across nodes, paging cursors continue on the other node, and
// concurrent conditional creates on both nodes make exactly one resource.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "backend_helpers.h"
#include "core/percent.h"
#include "harness.h"
#include "jose/bytes.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "pg_harness.h"

namespace ipa::testing {
namespace {

using launch::form;
using launch::path_of;
using launch::url_param;

struct Step {
  std::string what;
  std::string node;
};

// Its databases (ipa_cluster_*, ipa_cc_*) are dropped after each test.
class ClusterTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    if (cluster_.empty()) return;
    ASSERT_EQ(access("/usr/sbin/haproxy", X_OK), 0) << "haproxy is missing (install-deps.sh)";
  }
};

TEST_F(ClusterTest, AnyNodeContinuesAnyFlow) {
  std::string db = "postgresql:" + database("ipa_cluster");
  uint16_t proxy_port = free_port();
  std::string base = "http://127.0.0.1:" + std::to_string(proxy_port) + "/fhir";
  // Node a loads the demo data and sign-ins; node b serves the same database.
  std::vector<std::string> common = {"--base-url", base, "--open-registration", "true"};
  std::vector<std::string> a_args = common;
  a_args.insert(a_args.end(), {"--node-name", "a", "--patients", "6"});
  ServerProcess a(db, a_args, {"IPA_TEST_FAST_HASH=1"}, "demo", true, dir_.file("a"));
  std::vector<std::string> b_args = common;
  b_args.insert(b_args.end(), {"--node-name", "b"});
  ServerProcess b(db, b_args, {"IPA_TEST_FAST_HASH=1"}, "serve", true, dir_.file("b"));
  ASSERT_GT(a.port(), 0);
  ASSERT_GT(b.port(), 0);
  // The proxy listens on the port the nodes name as their public base.
  std::string cfg = dir_.file("haproxy.cfg");
  std::ofstream(cfg) << "global\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 5s\n"
                        "  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind 127.0.0.1:"
                     << proxy_port
                     << "\n  default_backend nodes\nbackend nodes\n  balance roundrobin\n"
                        "  option http-server-close\n  http-reuse never\n  server a 127.0.0.1:"
                     << a.port() << "\n  server b 127.0.0.1:" << b.port() << "\n";
  pid_t haproxy = spawn_program("/usr/sbin/haproxy", {"-f", cfg, "-db"}, dir_.file("haproxy.out"),
                                dir_.file("haproxy.err"));
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = http::request(proxy_port, "GET", "/livez").ok();
    if (!up) usleep(50000);
  }
  ASSERT_TRUE(up) << "haproxy did not start";

  std::vector<Step> steps;
  std::string cookie;
  auto call = [&](const std::string& what, const std::string& method, const std::string& path,
                  const std::string& body, std::vector<http::Header> headers = {}) {
    if (!cookie.empty()) headers.push_back({"Cookie", "ipa_session=" + cookie});
    if (!body.empty()) headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    auto r = http::request(proxy_port, method, path, headers, body);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return http::ClientResponse{};
    for (const auto& h : r->headers) {
      if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 && h.value.rfind("ipa_session=", 0) == 0) {
        cookie = h.value.substr(12, h.value.find(';') - 12);
      }
    }
    steps.push_back({what, r->header("X-Node")});
    return std::move(r).value();
  };

  // A full standalone launch through the proxy.
  std::string verifier = "v" + jose::random_token(40);
  std::string challenge = jose::base64url_encode(jose::sha256(verifier));
  std::string redirect = "http://127.0.0.1:9999/callback";
  auto r = call("authorize", "GET",
                "/auth/authorize?" +
                    form({{"response_type", "code"},
                          {"client_id", "demo-public"},
                          {"redirect_uri", redirect},
                          {"scope", "launch/patient openid fhirUser offline_access patient/*.rs"},
                          {"state", "s1"},
                          {"aud", base},
                          {"code_challenge", challenge},
                          {"code_challenge_method", "S256"}}),
                "");
  ASSERT_EQ(r.status, 303) << r.body;
  auto page = call("login page", "GET", path_of(r.header("Location")), "");
  std::string request = launch::hidden_value(page.body, "request");
  r = call("login", "POST", "/auth/login",
           form({{"request", request},
                 {"csrf_token", launch::hidden_value(page.body, "csrf_token")},
                 {"username", "patient"},
                 {"password", "ipa-demo"}}));
  ASSERT_EQ(r.status, 303) << r.body;
  page = call("consent page", "GET", path_of(r.header("Location")), "");
  std::string consent_body = "request=" + core::percent_encode(request) + "&csrf_token=" +
                             core::percent_encode(launch::hidden_value(page.body, "csrf_token")) +
                             "&decision=approve";
  for (const char* sc :
       {"launch/patient", "openid", "fhirUser", "offline_access", "patient/*.rs"}) {
    consent_body += "&scope=" + core::percent_encode(sc);
  }
  r = call("consent", "POST", "/auth/consent", consent_body);
  ASSERT_EQ(r.status, 303) << r.body;
  std::string code = url_param(r.header("Location"), "code");
  ASSERT_FALSE(code.empty()) << r.header("Location");
  cookie.clear();
  r = call("token", "POST", "/auth/token",
           form({{"grant_type", "authorization_code"},
                 {"code", code},
                 {"redirect_uri", redirect},
                 {"client_id", "demo-public"},
                 {"code_verifier", verifier}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value tokens = body_json(r);
  std::string at(tokens.get_string("access_token"));
  std::string token_node = steps.back().node;
  // Every step continued state the previous step wrote on the other node.
  std::string trace;
  for (const auto& s : steps) trace += s.what + "@" + s.node + " ";
  std::set<std::string> nodes;
  for (size_t i = 0; i < steps.size(); ++i) {
    nodes.insert(steps[i].node);
    if (i > 0) {
      EXPECT_NE(steps[i].node, steps[i - 1].node) << trace;
    }
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"a", "b"})) << trace;

  // A refresh on the other node.
  r = call("refresh", "POST", "/auth/token",
           form({{"grant_type", "refresh_token"},
                 {"refresh_token", std::string(tokens.get_string("refresh_token"))},
                 {"client_id", "demo-public"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(steps.back().node, token_node) << trace;
  json::Value refreshed = body_json(r);
  std::string at2(refreshed.get_string("access_token"));

  // Paging: page 1 from node a, the next page from node b.
  auto page1 = http::request(a.port(), "GET", "/fhir/Observation?patient=pat-0006&_count=5",
                             {{"Authorization", "Bearer " + at2}});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->status, 200) << page1->body;
  json::Value p1 = body_json(*page1);
  std::string next;
  for (const auto& l : p1.find("link")->items()) {
    if (l.get_string("relation") == "next") next = std::string(l.get_string("url"));
  }
  ASSERT_FALSE(next.empty());
  auto page2 = http::request(b.port(), "GET", path_of(next), {{"Authorization", "Bearer " + at2}});
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->status, 200) << page2->body;
  EXPECT_EQ(page2->header("X-Node"), "b");
  std::set<std::string> first_ids;
  for (const auto& e : p1.find("entry")->items()) {
    first_ids.insert(std::string(e.find("resource")->get_string("id")));
  }
  json::Value p2 = body_json(*page2);
  ASSERT_NE(p2.find("entry"), nullptr);
  for (const auto& e : p2.find("entry")->items()) {
    EXPECT_EQ(first_ids.count(std::string(e.find("resource")->get_string("id"))), 0u);
  }

  // A revocation on node a is refused on node b (within the grant-status cache's 1 s).
  auto before = http::request(b.port(), "GET", "/fhir/Patient/pat-0006",
                              {{"Authorization", "Bearer " + at2}});
  ASSERT_EQ(before->status, 200);
  auto rev = http::request(a.port(), "POST", "/auth/revoke",
                           {{"Content-Type", "application/x-www-form-urlencoded"}},
                           form({{"token", at2}, {"client_id", "demo-public"}}));
  ASSERT_EQ(rev->status, 200);
  EXPECT_EQ(
      http::request(a.port(), "GET", "/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + at2}})
          ->status,
      401);
  int status_on_b = 200;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < deadline && status_on_b != 401) {
    status_on_b = http::request(b.port(), "GET", "/fhir/Patient/pat-0006",
                                {{"Authorization", "Bearer " + at2}})
                      ->status;
    if (status_on_b != 401) usleep(100000);
  }
  EXPECT_EQ(status_on_b, 401);

  // A replayed private_key_jwt assertion is refused by the other node.
  auto key = jose::Key::generate(jose::Alg::kES384);
  json::Value set = json::Value::object();
  set.set("keys", json::Value::array({key->public_jwk()}));
  auto reg = http::request(
      a.port(), "POST", "/auth/register", {{"Content-Type", "application/json"}},
      R"({"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":)" +
          json::write(set) + "}");
  ASSERT_EQ(reg->status, 201) << reg->body;
  std::string client_id(body_json(*reg).get_string("client_id"));
  // Its aud is the proxy's token endpoint, the public one both nodes name.
  std::string assertion = sign_assertion(
      *key, assertion_claims(client_id,
                             "http://127.0.0.1:" + std::to_string(proxy_port) + "/auth/token"));
  std::string body = form({{"grant_type", "refresh_token"},
                           {"refresh_token", "unknown"},
                           {"client_assertion_type", kClientAssertionType},
                           {"client_assertion", assertion}});
  auto first = http::request(a.port(), "POST", "/auth/token",
                             {{"Content-Type", "application/x-www-form-urlencoded"}}, body);
  EXPECT_EQ(body_json(*first).get_string("error"), "invalid_grant");  // authenticated
  auto replay = http::request(b.port(), "POST", "/auth/token",
                              {{"Content-Type", "application/x-www-form-urlencoded"}}, body);
  EXPECT_EQ(body_json(*replay).get_string("error"), "invalid_client");

  kill(haproxy, SIGTERM);
  waitpid(haproxy, nullptr, 0);
}

TEST_F(ClusterTest, ConcurrentConditionalCreatesOnBothNodesMakeOne) {
  std::string db = "postgresql:" + database("ipa_cc");
  ServerProcess a(db, {"--node-name", "a"}, {}, "serve", false, dir_.file("a"));
  ServerProcess b(db, {"--node-name", "b"}, {}, "serve", false, dir_.file("b"));
  std::string body =
      R"({"resourceType":"Patient","identifier":[{"system":"urn:x","value":"once"}],"active":true})";
  std::atomic<int> created{0}, found{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 12; ++i) {
    uint16_t port = i % 2 ? a.port() : b.port();
    threads.emplace_back([&, port] {
      auto r = http::request(
          port, "POST", "/fhir/Patient",
          {{"Content-Type", "application/fhir+json"}, {"If-None-Exist", "identifier=urn:x|once"}},
          body);
      if (r.ok() && r->status == 201) ++created;
      if (r.ok() && r->status == 200) ++found;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(found.load(), 11);
}

}  // namespace
}  // namespace ipa::testing
