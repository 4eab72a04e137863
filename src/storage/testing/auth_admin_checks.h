// Behaviours of the AuthStore's administration operations (revoke_grants, delete_user_sessions),
// written once and run by each back end's test (sqlite/auth_admin_test.cc,
// postgres/auth_admin_test.cc) on a fresh, empty store. Test-only; uses GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "storage/auth_store.h"

namespace ipa::storage::testing {

inline Grant admin_grant(const std::string& id, const std::string& client, const std::string& user,
                         const std::string& patient, core::TimePoint t) {
  Grant g;
  g.id = id;
  g.client_id = client;
  g.username = user;
  g.patient = patient;
  g.scope = "launch/patient patient/*.rs offline_access";
  g.aud = "https://ehr.example.org/fhir";
  g.created = t;
  return g;
}

// Grants g1..g4 with a refresh token and an unused code each; revoking by user and patient
// ends exactly the matching grants with their tokens and codes, and a second call finds none.
inline void check_revoke_grants(AuthStore& store, core::TimePoint now) {
  const std::vector<Grant> grants = {
      admin_grant("g1", "app", "alice", "pat-1", now),
      admin_grant("g2", "other-app", "alice", "pat-1", now),
      admin_grant("g3", "app", "alice", "pat-2", now),
      admin_grant("g4", "other-app", "bob", "pat-1", now),
  };
  for (const Grant& g : grants) {
    ASSERT_TRUE(store.create_grant(g).ok()) << g.id;
    RefreshToken t;
    t.token_hash = "rt-" + g.id;
    t.grant_id = g.id;
    t.client_id = g.client_id;
    t.scope = g.scope;
    t.created = now;
    t.expires = now + std::chrono::hours(24);
    ASSERT_TRUE(store.save_refresh_token(t).ok());
    AuthorizationCode c;
    c.code_hash = "code-" + g.id;
    c.client_id = g.client_id;
    c.redirect_uri = "http://127.0.0.1/cb";
    c.code_challenge = "challenge";
    c.grant_id = g.id;
    c.created = now;
    c.expires = now + std::chrono::seconds(60);
    ASSERT_TRUE(store.save_code(c).ok());
  }
  auto none = store.revoke_grants({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().http_status, 400);

  auto ids = store.revoke_grants({.username = "alice", .patient = "pat-1"});
  ASSERT_TRUE(ids.ok()) << ids.error().log_detail;
  std::vector<std::string> got = *ids;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"g1", "g2"}));
  for (const char* id : {"g1", "g2"}) {
    SCOPED_TRACE(id);
    auto g = store.get_grant(id);
    ASSERT_TRUE(g.ok());
    EXPECT_TRUE(g->revoked);
    EXPECT_EQ(store.get_refresh_token(std::string("rt-") + id).error().http_status, 404);
    EXPECT_EQ(store.consume_code(std::string("code-") + id).error().http_status, 404);
  }
  for (const char* id : {"g3", "g4"}) {
    SCOPED_TRACE(id);
    auto g = store.get_grant(id);
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->revoked);
    EXPECT_TRUE(store.get_refresh_token(std::string("rt-") + id).ok());
  }
  auto again = store.revoke_grants({.username = "alice", .patient = "pat-1"});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  // By client: what a removed app held, whoever granted it.
  auto by_client = store.revoke_grants({.client_id = "other-app"});
  ASSERT_TRUE(by_client.ok());
  EXPECT_EQ(*by_client, std::vector<std::string>{"g4"});
  // By user alone: everything left of alice's (a password change).
  auto by_user = store.revoke_grants({.username = "alice"});
  ASSERT_TRUE(by_user.ok());
  EXPECT_EQ(*by_user, std::vector<std::string>{"g3"});
  EXPECT_TRUE(store.get_grant("g3")->revoked);
}

// Ends alice's two sessions and leaves bob's.
inline void check_delete_user_sessions(AuthStore& store, core::TimePoint now) {
  for (const auto& [hash, user] : std::vector<std::pair<std::string, std::string>>{
           {"s1", "alice"}, {"s2", "alice"}, {"s3", "bob"}, {"s4", ""}}) {
    Session s;
    s.id_hash = hash;
    s.username = user;
    s.csrf_token = "csrf-" + hash;
    s.created = now;
    s.expires = now + std::chrono::hours(1);
    ASSERT_TRUE(store.create_session(s).ok()) << hash;
  }
  auto n = store.delete_user_sessions("alice");
  ASSERT_TRUE(n.ok()) << n.error().log_detail;
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(store.get_session("s1").error().http_status, 404);
  EXPECT_EQ(store.get_session("s2").error().http_status, 404);
  EXPECT_TRUE(store.get_session("s3").ok());
  EXPECT_TRUE(store.get_session("s4").ok());
  auto zero = store.delete_user_sessions("nobody");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, 0);
}

}  // namespace ipa::storage::testing
