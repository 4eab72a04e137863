#include "storage/sqlite/auth_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "storage/sqlite/sqlite_store.h"
#include "storage/testing/auth_audit_checks.h"

namespace ipa::storage::sqlite {
namespace {

using std::chrono::seconds;

class ManualClock : public core::Clock {
 public:
  core::TimePoint now() const override { return t_.load(); }
  void advance(seconds d) { t_ = t_.load() + d; }

 private:
  std::atomic<core::TimePoint> t_{core::TimePoint(seconds(1'800'000'000))};
};

std::string temp_db() {
  static int n = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("ipa-auth-store-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return (dir / "store.db").string();
}

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = temp_db();
    store_ = open(path_);
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<AuthStore> open(const std::string& path) {
    SqliteOptions o;
    o.path = path;
    o.clock = clock_;
    o.synchronous_full = false;
    auto s = open_sqlite_auth_store(o);
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
  std::string path_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(AuthStoreTest, ClientRoundTripUpdateDelete) {
  Client c;
  c.client_id = "app";
  c.name = "My App";
  c.type = ClientType::kConfidentialAsymmetric;
  c.redirect_uris = {"https://app.example/cb", "http://127.0.0.1/cb"};
  c.jwks_uri = "https://app.example/jwks";
  c.token_endpoint_auth_method = "private_key_jwt";
  c.created = clock_->now();
  ASSERT_TRUE(store_->create_client(c).ok());
  EXPECT_EQ(store_->create_client(c).error().http_status, 409);

  auto got = store_->get_client("app");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "My App");
  EXPECT_EQ(got->type, ClientType::kConfidentialAsymmetric);
  EXPECT_EQ(got->redirect_uris, c.redirect_uris);
  EXPECT_EQ(got->created, c.created);

  c.redirect_uris = {"https://app.example/other"};
  c.name = "Renamed";
  ASSERT_TRUE(store_->update_client(c).ok());
  got = store_->get_client("app");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "Renamed");
  EXPECT_EQ(got->redirect_uris, c.redirect_uris);
  EXPECT_EQ(store_->list_clients()->size(), 1u);

  ASSERT_TRUE(store_->delete_client("app").ok());
  EXPECT_EQ(store_->get_client("app").error().http_status, 404);
  EXPECT_EQ(store_->delete_client("app").error().http_status, 404);
  Client ghost;
  ghost.client_id = "ghost";
  EXPECT_EQ(store_->update_client(ghost).error().http_status, 404);
}

TEST_F(AuthStoreTest, UsersAndPatients) {
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
  EXPECT_EQ(store_->get_user("bob").error().http_status, 404);
  EXPECT_EQ(store_->set_user_patients("bob", {}).error().http_status, 404);
}

TEST_F(AuthStoreTest, CodeIsSingleUseUnderConcurrency) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_code(code("h1", "g1")).ok());
  // Two store instances on the same file: the check must hold across connections too.
  auto other = open(path_);
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
        ++winners;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(reused, 7);
  EXPECT_EQ(errors, 0);
}

TEST_F(AuthStoreTest, CodeExpiryAndReuseAfterExpiry) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_code(code("fresh", "g1")).ok());
  ASSERT_TRUE(store_->save_code(code("stale", "g1")).ok());
  EXPECT_EQ(store_->save_code(code("stale", "g1")).error().http_status, 409);
  auto first = store_->consume_code("fresh");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(first->record.redirect_uri, "http://127.0.0.1/cb");
  clock_->advance(seconds(61));
  EXPECT_EQ(store_->consume_code("stale").error().http_status, 410);
  // A replay is still reported after expiry, so the grant can be revoked.
  auto replay = store_->consume_code("fresh");
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->reused);
  EXPECT_EQ(store_->consume_code("nope").error().http_status, 404);
}

TEST_F(AuthStoreTest, RefreshRotationAndReuseDetection) {
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

  // Replaying r1: reported, nothing saved; the caller revokes the grant, which kills r2.
  auto replay = store_->rotate_refresh_token("r1", refresh("r3", "g1"));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->reused);
  EXPECT_EQ(replay->record.grant_id, "g1");
  EXPECT_EQ(store_->get_refresh_token("r3").error().http_status, 404);
  ASSERT_TRUE(store_->revoke_grant(replay->record.grant_id).ok());
  EXPECT_EQ(store_->get_refresh_token("r2").error().http_status, 404);
  EXPECT_EQ(store_->rotate_refresh_token("r2", refresh("r4", "g1")).error().http_status, 404);
}

TEST_F(AuthStoreTest, RefreshRotationUnderConcurrency) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r1", "g1")).ok());
  std::atomic<int> winners{0}, reused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->rotate_refresh_token("r1", refresh("next-" + std::to_string(i), "g1"));
      ASSERT_TRUE(r.ok());
      (r->reused ? reused : winners)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(reused, 7);
}

TEST_F(AuthStoreTest, RefreshExpiry) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("r1", "g1")).ok());
  clock_->advance(seconds(86401));
  EXPECT_EQ(store_->get_refresh_token("r1").error().http_status, 410);
  EXPECT_EQ(store_->rotate_refresh_token("r1", refresh("r2", "g1")).error().http_status, 410);
}

TEST_F(AuthStoreTest, RevocationCascades) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  ASSERT_TRUE(store_->create_grant(grant("g2")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("a", "g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("b", "g1")).ok());
  ASSERT_TRUE(store_->save_refresh_token(refresh("c", "g2")).ok());
  ASSERT_TRUE(store_->save_code(code("code", "g1")).ok());
  ASSERT_TRUE(store_->revoke_grant("g1").ok());
  ASSERT_TRUE(store_->revoke_grant("g1").ok());  // idempotent
  EXPECT_TRUE(store_->get_grant("g1")->revoked);
  EXPECT_FALSE(store_->get_grant("g2")->revoked);
  EXPECT_EQ(store_->get_refresh_token("a").error().http_status, 404);
  EXPECT_EQ(store_->get_refresh_token("b").error().http_status, 404);
  EXPECT_TRUE(store_->get_refresh_token("c").ok());
  EXPECT_EQ(store_->consume_code("code").error().http_status, 404);
  EXPECT_EQ(store_->revoke_grant("nope").error().http_status, 404);
  auto grants = store_->list_grants("alice");
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->size(), 2u);
}

TEST_F(AuthStoreTest, JtiReplayRefusedUntilExpiry) {
  auto exp = clock_->now() + seconds(300);
  ASSERT_TRUE(store_->record_jti("app", "j1", exp).ok());
  EXPECT_EQ(store_->record_jti("app", "j1", exp).error().http_status, 409);
  EXPECT_TRUE(store_->record_jti("other-app", "j1", exp).ok());  // per client
  clock_->advance(seconds(301));
  EXPECT_TRUE(store_->record_jti("app", "j1", clock_->now() + seconds(300)).ok());
}

TEST_F(AuthStoreTest, JtiUnderConcurrency) {
  auto other = open(path_);
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

TEST_F(AuthStoreTest, SessionRotationMovesPendingRequests) {
  Session s;
  s.id_hash = "s-old";
  s.csrf_token = "csrf-1";
  s.created = clock_->now();
  s.expires = clock_->now() + seconds(3600);
  ASSERT_TRUE(store_->create_session(s).ok());
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
  EXPECT_EQ(store_->take_authorization_request("req1", "s-old").error().http_status, 404);
  r.patient = "pat-0001";
  r.session_id_hash = "s-new";
  ASSERT_TRUE(store_->save_authorization_request(r).ok());  // upsert
  auto taken = store_->take_authorization_request("req1", "s-new");
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->state, "xyz");
  EXPECT_EQ(taken->patient, "pat-0001");
  EXPECT_EQ(store_->take_authorization_request("req1", "s-new").error().http_status, 404);

  ASSERT_TRUE(store_->delete_session("s-new").ok());
  EXPECT_EQ(store_->get_session("s-new").error().http_status, 404);
}

TEST_F(AuthStoreTest, SessionAndRequestExpiry) {
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
  EXPECT_TRUE(store_->get_session("s").ok());
  clock_->advance(seconds(30));
  EXPECT_EQ(store_->get_session("s").error().http_status, 404);
  Session next = s;
  next.id_hash = "s2";
  EXPECT_EQ(store_->rotate_session("s", next).error().http_status, 404);
}

TEST_F(AuthStoreTest, SigningKeys) {
  SigningKey a{"kid-a", "RS256", "{}", clock_->now(), std::nullopt};
  clock_->advance(seconds(10));
  SigningKey b{"kid-b", "RS256", "{}", clock_->now(), std::nullopt};
  ASSERT_TRUE(store_->add_signing_key(a).ok());
  ASSERT_TRUE(store_->add_signing_key(b).ok());
  EXPECT_EQ(store_->add_signing_key(b).error().http_status, 409);
  auto active = store_->active_signing_keys();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].kid, "kid-b");  // newest first
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
  EXPECT_FALSE((*all)[0].expires.has_value());
  EXPECT_EQ(store_->retire_signing_key("nope", clock_->now(), clock_->now()).error().http_status,
            404);
}

TEST_F(AuthStoreTest, ThrottleWindows) {
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

TEST_F(AuthStoreTest, AuditBatches) {
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
}

TEST_F(AuthStoreTest, AuditQueriesByPatientTimeAndPage) {
  testing::check_audit_queries(*store_, clock_->now());
}

TEST_F(AuthStoreTest, PurgeExpired) {
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

TEST_F(AuthStoreTest, ReopenKeepsStateAndSharesFileWithResourceStore) {
  ASSERT_TRUE(store_->create_grant(grant("g1")).ok());
  store_.reset();
  SqliteOptions o;
  o.path = path_;
  o.synchronous_full = false;
  auto resources = open_sqlite_store(o);  // its own migrations on the same file
  ASSERT_TRUE(resources.ok()) << resources.error().log_detail;
  auto again = open(path_);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->get_grant("g1").ok());
}

TEST(SqliteAuthStore, UnopenablePathIsUnavailable) {
  SqliteOptions o;
  o.path = "/nonexistent-dir/x/store.db";
  auto s = open_sqlite_auth_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().http_status, 503);
}

}  // namespace
}  // namespace ipa::storage::sqlite
