#include "http/fetch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

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

// The address classifier that guards fetches of client-chosen URLs (jwks_uri, jku).
TEST(FetchAddress, ClassifiesEveryRange) {
  struct Case {
    const char* address;
    AddressKind kind;
  };
  const Case cases[] = {
      {"8.8.8.8", AddressKind::kPublic},
      {"93.184.216.34", AddressKind::kPublic},
      {"172.15.255.255", AddressKind::kPublic},
      {"172.32.0.1", AddressKind::kPublic},
      {"100.63.255.255", AddressKind::kPublic},
      {"100.128.0.1", AddressKind::kPublic},
      {"223.255.255.255", AddressKind::kPublic},
      {"0.0.0.0", AddressKind::kUnspecified},
      {"0.1.2.3", AddressKind::kUnspecified},
      {"127.0.0.1", AddressKind::kLoopback},
      {"127.255.255.254", AddressKind::kLoopback},
      {"10.0.0.1", AddressKind::kPrivate},
      {"172.16.0.1", AddressKind::kPrivate},
      {"172.31.255.255", AddressKind::kPrivate},
      {"192.168.1.1", AddressKind::kPrivate},
      {"169.254.169.254", AddressKind::kLinkLocal},
      {"100.64.0.1", AddressKind::kSharedCgnat},
      {"100.127.255.255", AddressKind::kSharedCgnat},
      {"224.0.0.1", AddressKind::kMulticast},
      {"239.255.255.250", AddressKind::kMulticast},
      {"240.0.0.1", AddressKind::kReserved},
      {"255.255.255.255", AddressKind::kReserved},
      {"192.0.2.1", AddressKind::kReserved},
      {"198.18.0.1", AddressKind::kReserved},
      {"203.0.113.9", AddressKind::kReserved},
      {"2606:4700:4700::1111", AddressKind::kPublic},
      {"2001:4860:4860::8888", AddressKind::kPublic},
      {"::", AddressKind::kUnspecified},
      {"::1", AddressKind::kLoopback},
      {"fc00::1", AddressKind::kUniqueLocal},
      {"fd12:3456:789a::1", AddressKind::kUniqueLocal},
      {"fe80::1", AddressKind::kLinkLocal},
      {"febf::1", AddressKind::kLinkLocal},
      {"fec0::1", AddressKind::kPrivate},
      {"ff02::1", AddressKind::kMulticast},
      {"2001:db8::1", AddressKind::kReserved},
      {"2001::1", AddressKind::kReserved},
      {"::ffff:10.0.0.1", AddressKind::kPrivate},
      {"::ffff:169.254.169.254", AddressKind::kLinkLocal},
      {"::ffff:127.0.0.1", AddressKind::kLoopback},
      {"::ffff:8.8.8.8", AddressKind::kPublic},
      {"64:ff9b::a00:1", AddressKind::kPrivate},
      {"2002:c0a8:0101::1", AddressKind::kPrivate},
      {"2002:0808:0808::1", AddressKind::kPublic},
      {"::10.0.0.1", AddressKind::kReserved},
      {"example.org", AddressKind::kInvalid},
      {"[::1]", AddressKind::kInvalid},
      {"10.0.0", AddressKind::kInvalid},
      {"", AddressKind::kInvalid},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.address);
    EXPECT_EQ(classify_address(c.address), c.kind)
        << address_kind_name(classify_address(c.address));
  }
}

TEST(FetchAddress, PublicOnlyRefusesInternalHostsBeforeConnecting) {
  FetchOptions o;
  o.public_only = true;
  o.timeout = std::chrono::milliseconds(2000);
  for (const char* url :
       {"http://10.0.0.1/jwks", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/jwks",
        "http://127.0.0.1:1/jwks", "http://localhost:1/", "http://[fd00::1]/jwks",
        "http://100.64.0.1/", "http://0.0.0.0:1/", "http://[::ffff:10.0.0.1]/"}) {
    SCOPED_TRACE(url);
    auto r = fetch("GET", url, {}, "", o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().diagnostics.find("Refused to fetch"), std::string::npos)
        << r.error().diagnostics;
    EXPECT_FALSE(check_fetch_target(url, o).ok());
  }
}

TEST(FetchAddress, LoopbackOnlyWithTheTestSettingAndPinned) {
  ServerOptions so;
  so.threads = 1;
  auto server = Server::start(so, [](const Request&) {
    Response resp;
    resp.body = "{}";
    return resp;
  });
  ASSERT_TRUE(server.ok());
  std::string port = std::to_string((*server)->port());
  FetchOptions o;
  o.public_only = true;
  EXPECT_FALSE(fetch("GET", "http://localhost:" + port + "/", {}, "", o).ok());
  o.allow_loopback = true;
  // A name (resolved here, then pinned with CURLOPT_RESOLVE) and a literal both reach it.
  for (const std::string& host : {std::string("localhost"), std::string("127.0.0.1")}) {
    SCOPED_TRACE(host);
    auto r = fetch("GET", "http://" + host + ":" + port + "/", {}, "", o);
    ASSERT_TRUE(r.ok()) << r.error().diagnostics;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_TRUE(check_fetch_target("http://localhost:" + port + "/", o).ok());
  o.https_only = true;
  EXPECT_FALSE(check_fetch_target("http://localhost:" + port + "/", o).ok());
}

// A resolver that answers only when released: a DNS server that never replies, for as long as a
// test wants. Each lookup counts itself in `started`.
struct StuckResolver {
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    int started = 0;
  };
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();

  Resolver resolver() const {
    return [gate = gate](const std::string&) -> core::Result<std::vector<std::string>> {
      std::unique_lock lock(gate->mu);
      ++gate->started;
      gate->cv.wait(lock, [&] { return gate->open; });
      return std::vector<std::string>{"10.0.0.1"};
    };
  }
  void release() const {
    {
      std::lock_guard lock(gate->mu);
      gate->open = true;
    }
    gate->cv.notify_all();
  }
  int started() const {
    std::lock_guard lock(gate->mu);
    return gate->started;
  }
};

// The name lookup of a client-chosen URL ends with the fetch's deadline: a resolver that never
// answers fails the fetch (and the registration check) in about `timeout`, not when it answers.
TEST(FetchResolve, ALookupThatDoesNotAnswerFailsWithinTheDeadline) {
  StuckResolver stuck;
  FetchOptions o;
  o.public_only = true;
  o.https_only = true;
  o.timeout = std::chrono::milliseconds(300);
  o.resolver = stuck.resolver();
  for (int call = 0; call < 2; ++call) {
    SCOPED_TRACE(call == 0 ? "fetch" : "check_fetch_target");
    auto start = std::chrono::steady_clock::now();
    core::Status st;
    if (call == 0) {
      auto r = fetch("GET", "https://jwks.example.org/keys", {}, "", o);
      if (!r.ok()) st = std::move(r).error();
    } else {
      st = check_fetch_target("https://jwks.example.org/keys", o);
    }
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().http_status, 503);
    EXPECT_NE(st.error().diagnostics.find("did not resolve within"), std::string::npos)
        << st.error().diagnostics;
    EXPECT_GE(took, std::chrono::milliseconds(290));
    EXPECT_LT(took, std::chrono::milliseconds(300 + 1500)) << "the lookup held the caller";
  }
  EXPECT_EQ(stuck.started(), 2);
  stuck.release();
}

// The same resolver answering at once: its answer is checked as the system's would be (here an
// internal address, refused by name), so the seam does not bypass the address policy.
TEST(FetchResolve, AnAnswerInTimeIsCheckedAsBefore) {
  FetchOptions o;
  o.public_only = true;
  o.timeout = std::chrono::milliseconds(2000);
  o.resolver = [](const std::string& host) -> core::Result<std::vector<std::string>> {
    if (host == "public.example.org") return std::vector<std::string>{"93.184.216.34"};
    if (host == "mixed.example.org") return std::vector<std::string>{"93.184.216.34", "10.1.2.3"};
    return core::unavailable("NXDOMAIN");
  };
  EXPECT_TRUE(check_fetch_target("https://public.example.org/jwks", o).ok());
  core::Status mixed = check_fetch_target("https://mixed.example.org/jwks", o);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().diagnostics.find("10.1.2.3, a private address"), std::string::npos)
      << mixed.error().diagnostics;
  core::Status missing = check_fetch_target("https://missing.example.org/jwks", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().diagnostics.find("does not resolve"), std::string::npos)
      << missing.error().diagnostics;
}

// Lookups left running by callers that gave up are bounded: past 32 at once, a new one is
// refused at once instead of starting one more thread.
TEST(FetchResolve, PendingLookupsAreBounded) {
  StuckResolver stuck;
  FetchOptions o;
  o.public_only = true;
  o.timeout = std::chrono::milliseconds(20);
  o.resolver = stuck.resolver();
  int timed_out = 0;
  std::string last;
  for (int i = 0; i < 40; ++i) {
    core::Status st = check_fetch_target("https://jwks.example.org/keys", o);
    ASSERT_FALSE(st.ok());
    last = st.error().diagnostics;
    if (last.find("did not resolve within") != std::string::npos) ++timed_out;
  }
  EXPECT_EQ(timed_out, 32);
  EXPECT_NE(last.find("too many name lookups are pending"), std::string::npos) << last;
  stuck.release();
  // Once they have answered, lookups run again (the slots are given back).
  o.timeout = std::chrono::milliseconds(2000);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  core::Status again = check_fetch_target("https://jwks.example.org/keys", o);
  while (!again.ok() && again.error().diagnostics.find("too many") != std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    again = check_fetch_target("https://jwks.example.org/keys", o);
  }
  ASSERT_FALSE(again.ok());  // the released resolver answers 10.0.0.1: refused by the policy
  EXPECT_NE(again.error().diagnostics.find("private address"), std::string::npos)
      << again.error().diagnostics;
}

}  // namespace
}  // namespace ipa::http
