// The AuthStore behaviours of sqlite/auth_store_test.cc, run against a real PostgreSQL server
// (env IPA_TEST_POSTGRES, a libpq conninfo), plus what only a server shows: several store
// instances standing for several nodes, lost connections and lock timeouts answered 503. Each
// test works in a fresh schema that it drops afterwards.
#include "storage/postgres/auth_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "storage/testing/auth_audit_checks.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace ipa::storage::postgres {
namespace {

using std::chrono::seconds;

class ManualClock : public core::Clock {
 public:
  core::TimePoint now() const override { return t_.load(); }
  void advance(seconds d) { t_ = t_.load() + d; }

 private:
  std::atomic<core::TimePoint> t_{core::TimePoint(seconds(1'800'000'000))};
};

// The server under test, or empty.
std::string test_conninfo() {
  const char* v = std::getenv("IPA_TEST_POSTGRES");
  return v == nullptr ? std::string() : std::string(v);
}

bool allow_no_postgres() {
  const char* v = std::getenv("IPA_ALLOW_NO_POSTGRES");
  return v != nullptr && std::string(v) == "1";
}

// A direct connection for what the store does not offer: dropping schemas, killing backends,
// holding locks.
class Admin {
 public:
  explicit Admin(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
  }
  ~Admin() { PQfinish(c_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  // Runs `sql`; returns the first column of the first row ("" for none), or "ERROR: ...".
  std::string exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    std::string out;
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      out = std::string("ERROR: ") + PQresultErrorMessage(r);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* c_;
};

class PostgresAuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = test_conninfo();
    if (conninfo_.empty()) {
      if (allow_no_postgres()) GTEST_SKIP() << "IPA_TEST_POSTGRES is unset (allowed).";
      FAIL() << "IPA_TEST_POSTGRES is unset: set it to a PostgreSQL conninfo (e.g. from "
                "scripts/pg-test-cluster.sh), or set IPA_ALLOW_NO_POSTGRES=1 to skip.";
    }
    admin_ = std::make_unique<Admin>(conninfo_);
    ASSERT_TRUE(admin_->ok()) << admin_->error();
    static int n = 0;
    schema_ = "ipa_auth_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    drop_schema();  // left over by an earlier process with the same pid
    store_ = open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    if (admin_ != nullptr) drop_schema();
  }
  void drop_schema() {
    EXPECT_EQ(admin_->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"), "");
  }
  PostgresAuthOptions options() const {
    PostgresAuthOptions o;
    o.conninfo = conninfo_;
    o.clock = clock_;
    o.schema = schema_;
    return o;
  }
  std::unique_ptr<AuthStore> open() { return open(options()); }
  std::unique_ptr<AuthStore> open(const PostgresAuthOptions& o) {
    auto s = open_postgres_auth_store(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().log_detail);
    return s.ok() ? std::move(s).value() : nullptr;
  }
  Grant grant(const std::string& id) {
    Grant g;
    g.id = id;
    g.client_id = "app";
    g.username = "alice";
    g.patient = "pat-0001";
    g.scope = "launch/patient patient/*.rs offline_access";
    g.aud = "https://ehr.example.org/fhir";
    g.created = clock_->now();
    return g;
  }
  AuthorizationCode code(const std::string& hash, const std::string& grant_id) {
    AuthorizationCode c;
    c.code_hash = hash;
    c.client_id = "app";
    c.redirect_uri = "http://127.0.0.1/cb";
    c.code_challenge = "challenge";
    c.grant_id = grant_id;
    c.created = clock_->now();
    c.expires = clock_->now() + seconds(60);
    return c;
  }
  RefreshToken refresh(const std::string& hash, const std::string& grant_id) {
    RefreshToken t;
    t.token_hash = hash;
    t.grant_id = grant_id;
    t.client_id = "app";
    t.scope = "patient/*.rs offline_access";
    t.created = clock_->now();
    t.expires = clock_->now() + seconds(86400);
    return t;
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::string conninfo_;
  std::string schema_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(PostgresAuthStoreTest, ClientRoundTripUpdateDelete) {
  Client c;
  c.client_id = "app";
  c.name = "My App";
  c.type = ClientType::kConfidentialAsymmetric;
  c.redirect_uris = {"https://app.example/cb", "http://127.0.0.1/cb"};
  c.jwks_uri = "https://app.example/jwks";
  c.token_endpoint_auth_method = "private_key_jwt";
  c.registration = R"({"client_name":"My App ü"})";
  c.created = clock_->now();
  ASSERT_TRUE(store_->create_client(c).ok());
  EXPECT_EQ(store_->create_client(c).error().http_status, 409);

  auto got = store_->get_client("app");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "My App");
  EXPECT_EQ(got->type, ClientType::kConfidentialAsymmetric);
  EXPECT_EQ(got->redirect_uris, c.redirect_uris);
  EXPECT_EQ(got->registration, c.registration);
  EXPECT_EQ(got->created, c.created);

  c.redirect_uris = {"https://app.example/other"};
  c.name = "Renamed";
  ASSERT_TRUE(store_->update_client(c).ok());
  got = store_->get_client("app");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "Renamed");
  EXPECT_EQ(got->redirect_uris, c.redirect_uris);

  Client bare;
  bare.client_id = "bare";  // no redirect URIs
  ASSERT_TRUE(store_->create_client(bare).ok());
  auto all = store_->list_clients();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "app");
  EXPECT_EQ((*all)[0].redirect_uris, c.redirect_uris);
  EXPECT_TRUE((*all)[1].redirect_uris.empty());

  ASSERT_TRUE(store_->delete_client("app").ok());
  EXPECT_EQ(store_->get_client("app").error().http_status, 404);
  EXPECT_EQ(store_->delete_client("app").error().http_status, 404);
  Client ghost;
  ghost.client_id = "ghost";
  EXPECT_EQ(store_->update_client(ghost).error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, UsersAndPatients) {
  User u;
  u.username = "alice";
  u.password_hash = "$argon2id$...";
  u.display_name = "Alice";
  u.fhir_user = "RelatedPerson/rp-0002-01";
  u.patients = {"pat-0002", "pat-0003"};
  ASSERT_TRUE(store_->create_user(u).ok());
  EXPECT_EQ(store_->create_user(u).error().http_status, 409);
  auto got = store_->get_user("alice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->patients, u.patients);
  EXPECT_EQ(got->fhir_user, u.fhir_user);
  ASSERT_TRUE(store_->set_user_patients("alice", {"pat-0009"}).ok());
  ASSERT_TRUE(store_->set_user_password("alice", "new-hash").ok());
  got = store_->get_user("alice");
  EXPECT_EQ(got->patients, std::vector<std::string>{"pat-0009"});
  EXPECT_EQ(got->password_hash, "new-hash");
  ASSERT_TRUE(store_->set_user_patients("alice", {}).ok());
  EXPECT_TRUE(store_->get_user("alice")->patients.empty());
  EXPECT_EQ(store_->get_user("bob").error().http_status, 404);
  EXPECT_EQ(store_->set_user_patients("bob", {}).error().http_status, 404);
  EXPECT_EQ(store_->set_user_password("bob", "x").error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, CodeIsSingleUseUnderConcurrency) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_code(code("h1", "g1")).ok());
  // Two store instances (two nodes) on one database: the check must hold across them.
  auto other = open();
  ASSERT_NE(other, nullptr);
  std::atomic<int> winners{0}, reused{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AuthStore& s = i % 2 == 0 ? *store_ : *other;
      auto r = s.consume_code("h1");
      if (!r.ok()) {
        ++errors;
      } else if (r->reused) {
        EXPECT_EQ(r->record.grant_id, "g1");
        ++reused;
      } else {
        EXPECT_EQ(r->record.grant_id, "g1");
        ++winners;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(reused, 7);
  EXPECT_EQ(errors, 0);
}

TEST_F(PostgresAuthStoreTest, CodeExpiryAndReuseAfterExpiry) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_code(code("fresh", "g1")).ok());
  ASSERT_TRUE(store_->save_code(code("stale", "g1")).ok());
  EXPECT_EQ(store_->save_code(code("stale", "g1")).error().http_status, 409);
  auto first = store_->consume_code("fresh");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(first->record.redirect_uri, "http://127.0.0.1/cb");
  EXPECT_EQ(first->record.code_challenge, "challenge");
  clock_->advance(seconds(61));
  EXPECT_EQ(store_->consume_code("stale").error().http_status, 410);
  // A replay is still reported after expiry, so the grant can be revoked.
  auto replay = store_->consume_code("fresh");
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->reused);
  EXPECT_EQ(replay->record.grant_id, "g1");
  EXPECT_EQ(store_->consume_code("nope").error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, RefreshRotationAndReuseDetection) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r1", "g1")).ok());
  RefreshToken next = refresh("r2", "ignored");
  next.client_id = "ignored";
  auto rotated = store_->rotate_refresh_token("r1", next);
  ASSERT_TRUE(rotated.ok());
  EXPECT_FALSE(rotated->reused);
  EXPECT_EQ(rotated->record.grant_id, "g1");
  auto r2 = store_->get_refresh_token("r2");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->grant_id, "g1");  // bound to the consumed token's grant and client
  EXPECT_EQ(r2->client_id, "app");
  EXPECT_FALSE(r2->used);
  EXPECT_TRUE(store_->get_refresh_token("r1")->used);

  // Replaying r1 (from another node): reported, nothing saved; the caller revokes the grant,
  // which kills r2.
  auto other = open();
  ASSERT_NE(other, nullptr);
  auto replay = other->rotate_refresh_token("r1", refresh("r3", "g1"));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->reused);
  EXPECT_EQ(replay->record.grant_id, "g1");
  EXPECT_EQ(store_->get_refresh_token("r3").error().http_status, 404);
  ASSERT_TRUE(other->revoke_grant(replay->record.grant_id).ok());
  EXPECT_EQ(store_->get_refresh_token("r2").error().http_status, 404);
  EXPECT_EQ(store_->rotate_refresh_token("r2", refresh("r4", "g1")).error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, RefreshRotationUnderConcurrency) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r1", "g1")).ok());
  auto other = open();
  ASSERT_NE(other, nullptr);
  std::atomic<int> winners{0}, reused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AuthStore& s = i % 2 == 0 ? *store_ : *other;
      auto r = s.rotate_refresh_token("r1", refresh("next-" + std::to_string(i), "g1"));
      ASSERT_TRUE(r.ok()) << r.error().log_detail;
      (r->reused ? reused : winners)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(reused, 7);
  int saved = 0;
  for (int i = 0; i < 8; ++i) saved += store_->get_refresh_token("next-" + std::to_string(i)).ok();
  EXPECT_EQ(saved, 1);
}

TEST_F(PostgresAuthStoreTest, RevocationRacingRotationLeavesNoLiveToken) {
  // Whichever commits first, no refresh token of a revoked grant stays usable.
  auto other = open();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    std::string g = "g" + std::to_string(round);
    std::string r = "r" + std::to_string(round);
    ASSERT_TRUE(store_->create_grant(grant(g)).ok());
    ASSERT_TRUE(store_->save_refresh_token(refresh(r, g)).ok());
    std::thread rotate([&] {
      auto res = store_->rotate_refresh_token(r, refresh(r + "-next", g));
      if (!res.ok()) {
        EXPECT_EQ(res.error().http_status, 404) << res.error().log_detail;
      }
    });
    std::thread revoke([&] { EXPECT_TRUE(other->revoke_grant(g).ok()); });
    rotate.join();
    revoke.join();
    EXPECT_EQ(store_->get_refresh_token(r).error().http_status, 404);
    EXPECT_EQ(store_->get_refresh_token(r + "-next").error().http_status, 404);
  }
}

TEST_F(PostgresAuthStoreTest, RefreshExpiry) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r1", "g1")).ok());
  EXPECT_EQ(store_->save_refresh_token(refresh("r1", "g1")).error().http_status, 409);
  clock_->advance(seconds(86401));
  EXPECT_EQ(store_->get_refresh_token("r1").error().http_status, 410);
  EXPECT_EQ(store_->rotate_refresh_token("r1", refresh("r2", "g1")).error().http_status, 410);
  EXPECT_EQ(store_->get_refresh_token("r2").error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, RevocationCascades) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->create_grant(grant("g2")).ok());
  EXPECT_EQ(store_->create_grant(grant("g2")).error().http_status, 409);
  ASSERT_TRUE(store_->save_refresh_token(refresh("a", "g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("b", "g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("c", "g2")).ok());
  ASSERT_TRUE(store_->save_code(code("code", "g1")).ok());
  ASSERT_TRUE(store_->save_code(code("used", "g1")).ok());
  ASSERT_TRUE(store_->consume_code("used").ok());
  ASSERT_TRUE(store_->revoke_grant("g1").ok());
  ASSERT_TRUE(store_->revoke_grant("g1").ok());  // idempotent
  EXPECT_TRUE(store_->get_grant("g1")->revoked);
  EXPECT_FALSE(store_->get_grant("g2")->revoked);
  EXPECT_EQ(store_->get_refresh_token("a").error().http_status, 404);
  EXPECT_EQ(store_->get_refresh_token("b").error().http_status, 404);
  EXPECT_TRUE(store_->get_refresh_token("c").ok());
  EXPECT_EQ(store_->consume_code("code").error().http_status, 404);
  EXPECT_TRUE(store_->consume_code("used")->reused);  // kept, so a late replay is still seen
  EXPECT_EQ(store_->revoke_grant("nope").error().http_status, 404);
  EXPECT_EQ(store_->get_grant("nope").error().http_status, 404);
  auto grants = store_->list_grants("alice");
  ASSERT_TRUE(grants.ok());
  ASSERT_EQ(grants->size(), 2u);
  EXPECT_EQ((*grants)[0].id, "g1");
  EXPECT_EQ((*grants)[0].scope, "launch/patient patient/*.rs offline_access");
}

TEST_F(PostgresAuthStoreTest, JtiReplayRefusedUntilExpiry) {
  auto exp = clock_->now() + seconds(300);
  ASSERT_TRUE(store_->record_jti("app", "j1", exp).ok());
  EXPECT_EQ(store_->record_jti("app", "j1", exp).error().http_status, 409);
  EXPECT_TRUE(store_->record_jti("other-app", "j1", exp).ok());  // per client
  clock_->advance(seconds(301));
  EXPECT_TRUE(store_->record_jti("app", "j1", clock_->now() + seconds(300)).ok());
  EXPECT_EQ(store_->record_jti("app", "j1", clock_->now() + seconds(300)).error().http_status, 409);
}

TEST_F(PostgresAuthStoreTest, JtiReplayAcrossNodesUnderConcurrency) {
  auto other = open();
  ASSERT_NE(other, nullptr);
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AuthStore& s = i % 2 == 0 ? *store_ : *other;
      auto r = s.record_jti("app", "same", clock_->now() + seconds(300));
      if (r.ok()) {
        ++accepted;
      } else {
        EXPECT_EQ(r.error().http_status, 409);
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(refused, 7);
}

TEST_F(PostgresAuthStoreTest, SessionRotationMovesPendingRequests) {
  Session s;
  s.id_hash = "s-old";
  s.csrf_token = "csrf-1";
  s.created = clock_->now();
  s.expires = clock_->now() + seconds(3600);
  ASSERT_TRUE(store_->create_session(s).ok());
  EXPECT_EQ(store_->create_session(s).error().http_status, 409);
  AuthorizationRequest r;
  r.id = "req1";
  r.session_id_hash = "s-old";
  r.client_id = "app";
  r.state = "xyz";
  r.code_challenge = "cc";
  r.code_challenge_method = "S256";
  r.created = clock_->now();
  r.expires = clock_->now() + seconds(600);
  ASSERT_TRUE(store_->save_authorization_request(r).ok());

  Session next = s;
  next.id_hash = "s-new";
  next.username = "alice";
  next.csrf_token = "csrf-2";
  ASSERT_TRUE(store_->rotate_session("s-old", next).ok());
  EXPECT_EQ(store_->get_session("s-old").error().http_status, 404);
  auto got = store_->get_session("s-new");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->username, "alice");
  EXPECT_EQ(got->csrf_token, "csrf-2");
  EXPECT_EQ(store_->rotate_session("s-old", next).error().http_status, 404);

  // The request followed the session: only the new session can take it, and only once.
  EXPECT_EQ(store_->get_authorization_request("req1")->session_id_hash, "s-new");
  EXPECT_EQ(store_->take_authorization_request("req1", "s-old").error().http_status, 404);
  r.patient = "pat-0001";
  r.session_id_hash = "s-new";
  ASSERT_TRUE(store_->save_authorization_request(r).ok());  // upsert
  auto taken = store_->take_authorization_request("req1", "s-new");
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->state, "xyz");
  EXPECT_EQ(taken->patient, "pat-0001");
  EXPECT_EQ(taken->code_challenge_method, "S256");
  EXPECT_EQ(store_->take_authorization_request("req1", "s-new").error().http_status, 404);

  ASSERT_TRUE(store_->delete_session("s-new").ok());
  EXPECT_EQ(store_->get_session("s-new").error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, SessionAndRequestExpiry) {
  Session s;
  s.id_hash = "s";
  s.created = clock_->now();
  s.expires = clock_->now() + seconds(60);
  ASSERT_TRUE(store_->create_session(s).ok());
  AuthorizationRequest r;
  r.id = "req";
  r.session_id_hash = "s";
  r.expires = clock_->now() + seconds(30);
  ASSERT_TRUE(store_->save_authorization_request(r).ok());
  EXPECT_TRUE(store_->get_authorization_request("req").ok());
  clock_->advance(seconds(31));
  EXPECT_EQ(store_->get_authorization_request("req").error().http_status, 404);
  EXPECT_EQ(store_->take_authorization_request("req", "s").error().http_status, 404);
  EXPECT_TRUE(store_->get_session("s").ok());
  clock_->advance(seconds(30));
  EXPECT_EQ(store_->get_session("s").error().http_status, 404);
  Session next = s;
  next.id_hash = "s2";
  EXPECT_EQ(store_->rotate_session("s", next).error().http_status, 404);
}

TEST_F(PostgresAuthStoreTest, SigningKeys) {
  SigningKey a{"kid-a", "RS256", "{}", clock_->now(), std::nullopt};
  clock_->advance(seconds(10));
  SigningKey b{"kid-b", "ES384", R"({"kty":"EC"})", clock_->now(), std::nullopt};
  ASSERT_TRUE(store_->add_signing_key(a).ok());
  ASSERT_TRUE(store_->add_signing_key(b).ok());
  EXPECT_EQ(store_->add_signing_key(b).error().http_status, 409);
  auto active = store_->active_signing_keys();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].kid, "kid-b");  // newest first
  EXPECT_EQ((*active)[0].alg, "ES384");
  EXPECT_EQ((*active)[0].private_jwk, R"({"kty":"EC"})");
  auto retired_at = clock_->now();
  ASSERT_TRUE(store_->retire_signing_key("kid-a", retired_at, retired_at + seconds(3665)).ok());
  clock_->advance(seconds(5));
  ASSERT_TRUE(store_->retire_signing_key("kid-a", clock_->now(), clock_->now() + seconds(9))
                  .ok());  // keeps the first
  EXPECT_EQ(store_->active_signing_keys()->size(), 1u);
  auto all = store_->list_signing_keys();
  ASSERT_EQ(all->size(), 2u);
  ASSERT_TRUE((*all)[1].retired.has_value());
  EXPECT_EQ(*(*all)[1].retired, retired_at);
  ASSERT_TRUE((*all)[1].expires.has_value());
  EXPECT_EQ(*(*all)[1].expires, retired_at + seconds(3665));
  EXPECT_FALSE((*all)[0].retired.has_value());
  EXPECT_FALSE((*all)[0].expires.has_value());
  EXPECT_EQ(store_->retire_signing_key("nope", clock_->now(), clock_->now()).error().http_status,
            404);
}

TEST_F(PostgresAuthStoreTest, ThrottleWindows) {
  EXPECT_EQ(*store_->throttle_hit("login:alice", seconds(60)), 1);
  EXPECT_EQ(*store_->throttle_hit("login:alice", seconds(60)), 2);
  EXPECT_EQ(*store_->throttle_hit("login:bob", seconds(60)), 1);
  clock_->advance(seconds(59));
  EXPECT_EQ(*store_->throttle_hit("login:alice", seconds(60)), 3);
  clock_->advance(seconds(1));
  EXPECT_EQ(*store_->throttle_hit("login:alice", seconds(60)), 1);  // a new window
  ASSERT_TRUE(store_->throttle_reset("login:alice").ok());
  EXPECT_EQ(*store_->throttle_hit("login:alice", seconds(60)), 1);
}

TEST_F(PostgresAuthStoreTest, ThrottleCountsEveryConcurrentHit) {
  auto other = open();
  ASSERT_NE(other, nullptr);
  std::mutex mu;
  std::set<int64_t> counts;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AuthStore& s = i % 2 == 0 ? *store_ : *other;
      for (int j = 0; j < 10; ++j) {
        auto n = s.throttle_hit("login:alice", seconds(60));
        ASSERT_TRUE(n.ok()) << n.error().log_detail;
        std::lock_guard lock(mu);
        counts.insert(*n);
      }
    });
  }
  for (auto& t : threads) t.join();
  // Every hit got its own count: 1..80, none lost, none twice.
  ASSERT_EQ(counts.size(), 80u);
  EXPECT_EQ(*counts.begin(), 1);
  EXPECT_EQ(*counts.rbegin(), 80);
}

TEST_F(PostgresAuthStoreTest, AuditBatches) {
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(
        {clock_->now(), "token", "app", "alice", "pat-0001", "success", "n=" + std::to_string(i)});
  }
  ASSERT_TRUE(store_->append_audit(batch).ok());
  ASSERT_TRUE(store_->append_audit({}).ok());
  auto recent = store_->recent_audit(3);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].detail, "n=4");
  EXPECT_EQ((*recent)[0].time, clock_->now());
  EXPECT_EQ((*recent)[2].outcome, "success");
}

TEST_F(PostgresAuthStoreTest, AuditQueriesByPatientTimeAndPage) {
  testing::check_audit_queries(*store_, clock_->now());
}

TEST_F(PostgresAuthStoreTest, PurgeExpired) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_code(code("c", "g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r", "g1")).ok());
  ASSERT_TRUE(store_->record_jti("app", "j", clock_->now() + seconds(300)).ok());
  Session s;
  s.id_hash = "s";
  s.expires = clock_->now() + seconds(60);
  ASSERT_TRUE(store_->create_session(s).ok());
  ASSERT_TRUE(store_->throttle_hit("k", seconds(60)).ok());
  EXPECT_EQ(*store_->purge_expired(seconds(600)), 0);
  clock_->advance(seconds(400));
  // Session, jti and throttle row are gone; the code is kept for reuse detection.
  EXPECT_EQ(*store_->purge_expired(seconds(600)), 3);
  clock_->advance(seconds(86400));
  EXPECT_EQ(*store_->purge_expired(seconds(600)), 2);  // code and refresh token
  EXPECT_TRUE(store_->get_grant("g1").ok());           // grants are not purged
}

TEST_F(PostgresAuthStoreTest, ReopenKeepsState) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  store_.reset();
  auto again = open();
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->get_grant("g1").ok());
  EXPECT_EQ(admin_->exec("SELECT version FROM " + schema_ + ".auth_schema_version"), "4");
}

TEST_F(PostgresAuthStoreTest, ConcurrentOpenersMigrateOnce) {
  store_.reset();
  drop_schema();
  std::atomic<int> opened{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (open() != nullptr) ++opened;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened, 4);
  EXPECT_EQ(admin_->exec("SELECT count(*) FROM " + schema_ + ".auth_schema_version"), "1");
}

TEST_F(PostgresAuthStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  ASSERT_EQ(admin_->exec("UPDATE " + schema_ + ".auth_schema_version SET version = 99"), "");
  auto s = open_postgres_auth_store(options());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().http_status, 500);
  EXPECT_NE(s.error().log_detail.find("newer"), std::string::npos);
}

TEST_F(PostgresAuthStoreTest, LostConnectionIsUnavailableThenRecovers) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  std::string killed = admin_->exec(
      "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
      "WHERE application_name = 'ipa-auth:" +
      schema_ + "'");
  ASSERT_NE(killed, "0");
  ASSERT_EQ(killed.rfind("ERROR", 0), std::string::npos) << killed;
  auto lost = store_->get_grant("g1");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().http_status, 503);
  // The pool dropped the dead connections; the next request connects afresh.
  EXPECT_TRUE(store_->get_grant("g1").ok());
  EXPECT_TRUE(store_->revoke_grant("g1").ok());
}

TEST_F(PostgresAuthStoreTest, LockTimeoutIsUnavailable) {
  PostgresAuthOptions o = options();
  o.lock_timeout = std::chrono::milliseconds(200);
  auto impatient = open(o);
  ASSERT_NE(impatient, nullptr);
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  Admin holder(conninfo_);
  ASSERT_TRUE(holder.ok());
  ASSERT_EQ(holder.exec("BEGIN"), "");
  ASSERT_EQ(holder.exec("SELECT id FROM " + schema_ + ".auth_grant WHERE id = 'g1' FOR UPDATE"),
            "g1");
  auto r = impatient->revoke_grant("g1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 503);
  ASSERT_EQ(holder.exec("ROLLBACK"), "");
  EXPECT_TRUE(impatient->revoke_grant("g1").ok());
  EXPECT_TRUE(store_->get_grant("g1")->revoked);
}

TEST_F(PostgresAuthStoreTest, NulInTextIsRefusedNotTruncated) {
  std::string jti("ab\0cd", 5);
  auto r = store_->record_jti("app", jti, clock_->now() + seconds(60));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_TRUE(store_->record_jti("app", "ab", clock_->now() + seconds(60)).ok());
}

TEST(PostgresAuthStore, UnreachableServerIsUnavailable) {
  PostgresAuthOptions o;
  o.conninfo = "host=/nonexistent-dir port=1 dbname=x connect_timeout=2";
  auto s = open_postgres_auth_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().http_status, 503);
}

TEST(PostgresAuthStore, BadSchemaNameIsRefused) {
  PostgresAuthOptions o;
  o.conninfo = "host=/nonexistent-dir port=1";
  o.schema = "x\"; DROP TABLE y; --";
  auto s = open_postgres_auth_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().http_status, 500);
}

}  // namespace
}  // namespace ipa::storage::postgres
