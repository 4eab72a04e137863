// Expired auth state is deleted by each node's maintenance thread (rest/api.cc), never on a
// request: a session that expired a day ago is gone after the first purge.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "core/clock.h"
#include "harness.h"
#include "storage/sqlite/auth_store.h"

namespace ipa::testing {
namespace {

using namespace std::chrono_literals;

// A clock three days in the past: by it, the session below is still valid, so the store
// returns it unless the row was deleted.
class PastClock final : public core::Clock {
 public:
  core::TimePoint now() const override { return std::chrono::system_clock::now() - 72h; }
};

std::unique_ptr<storage::AuthStore> open_auth(const std::string& path,
                                              std::shared_ptr<core::Clock> clock) {
  storage::sqlite::SqliteOptions o;
  o.path = path;
  o.synchronous_full = false;
  o.clock = std::move(clock);
  auto s = storage::sqlite::open_sqlite_auth_store(o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().diagnostics);
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(Purge, ExpiredSessionsAreDeletedByTheNode) {
  TempDir dir;
  const std::string db = dir.file("ipa.db");
  auto past = std::make_shared<PastClock>();
  {
    auto store = open_auth(db, past);
    ASSERT_NE(store, nullptr);
    storage::Session s;
    s.id_hash = "expired-session-hash";
    s.csrf_token = "csrf";
    s.created = std::chrono::system_clock::now() - 48h;
    s.expires = std::chrono::system_clock::now() - 24h;
    ASSERT_TRUE(store->create_session(s).ok());
    // The control: before any purge the row is there.
    ASSERT_TRUE(store->get_session("expired-session-hash").ok());
  }
  {
    ServerProcess server(db, {}, {"IPA_TEST_PURGE_INTERVAL_MS=100"}, "serve", /*with_auth=*/true);
    ASSERT_GT(server.port(), 0);
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (server.log().find("auth: purged") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_NE(server.log().find("auth: purged"), std::string::npos) << server.log();
    EXPECT_EQ(server.terminate(), 0);
  }
  auto store = open_auth(db, past);
  ASSERT_NE(store, nullptr);
  auto gone = store->get_session("expired-session-hash");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().http_status, 404);
}

}  // namespace
}  // namespace ipa::testing
