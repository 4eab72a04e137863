#include "storage/sqlite/sqlite_store.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "storage/testing/bound_search_conformance.h"
#include "storage/testing/conformance.h"
#include "storage/testing/owner_conformance.h"
#include "storage/testing/search_extra_conformance.h"

namespace ipa::storage::testing {
namespace {

std::string temp_db() {
  static int n = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("ipa-sqlite-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return (dir / "store.db").string();
}

std::unique_ptr<ResourceStore> open_fresh(std::shared_ptr<ManualClock> clock) {
  sqlite::SqliteOptions o;
  o.path = temp_db();
  o.clock = std::move(clock);
  o.synchronous_full = false;  // tests need no power-loss durability
  auto s = sqlite::open_sqlite_store(o);
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(StoreFactory(open_fresh)),
                         [](const auto&) { return std::string("sqlite"); });
INSTANTIATE_TEST_SUITE_P(Sqlite, SearchConformance, ::testing::Values(StoreFactory(open_fresh)),
                         [](const auto&) { return std::string("sqlite"); });
INSTANTIATE_TEST_SUITE_P(Sqlite, OwnerConformance, ::testing::Values(StoreFactory(open_fresh)),
                         [](const auto&) { return std::string("sqlite"); });
INSTANTIATE_TEST_SUITE_P(Sqlite, BoundSearchConformance,
                         ::testing::Values(StoreFactory(open_fresh)),
                         [](const auto&) { return std::string("sqlite"); });

TEST(SqliteStore, ReopenKeepsDataAndSchema) {
  std::string path = temp_db();
  sqlite::SqliteOptions o;
  o.path = path;
  {
    auto s = sqlite::open_sqlite_store(o);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->create(make_write("Patient", "p1", "\"x\":1")).ok());
  }
  auto s = sqlite::open_sqlite_store(o);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->read("Patient", "p1").ok());
}

TEST(SqliteStore, UnopenablePathIsUnavailable) {
  sqlite::SqliteOptions o;
  o.path = "/nonexistent-dir/x/store.db";
  auto s = sqlite::open_sqlite_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().http_status, 503);
}

// The read cache (internal/read_cache.h) seen through the store: two stores on one file stand for
// two processes (a server and an `ipa-server import` run against its file).
std::unique_ptr<ResourceStore> open_at(const std::string& path, std::chrono::microseconds check) {
  sqlite::SqliteOptions o;
  o.path = path;
  o.synchronous_full = false;
  o.read_cache_check = check;
  auto s = sqlite::open_sqlite_store(o);
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

// A Patient write that owns itself, as the REST layer's index extraction says.
Write patient_write(const std::string& id, const std::string& body) {
  Write w = make_write("Patient", id, body);
  w.index.owner_patient = id;
  return w;
}

TEST(SqliteReadCache, OwnWritesAreReadAtOnce) {
  auto s = open_at(temp_db(), std::chrono::hours(1));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->create(patient_write("p1", "\"active\":true")).ok());
  EXPECT_EQ(s->read("Patient", "p1")->version_id, 1);  // now cached
  ASSERT_TRUE(s->update(patient_write("p1", "\"active\":false")).ok());
  auto r = s->read("Patient", "p1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version_id, 2);
  EXPECT_NE(r->json.find("false"), std::string::npos);
  ASSERT_TRUE(s->remove("Patient", "p1").ok());
  EXPECT_EQ(s->read("Patient", "p1").error().http_status, 410);
  // A transaction that fails changes nothing, in the store or in the cache.
  ASSERT_TRUE(s->update(patient_write("p1", "\"active\":true")).ok());
  EXPECT_EQ(s->read("Patient", "p1")->version_id, 4);
  core::Status failed = s->transaction([](Writer& w) -> core::Status {
    auto u = w.update(patient_write("p1", "\"active\":false"));
    if (!u.ok()) return std::move(u).error();
    return core::bad_request(core::IssueType::kInvalid, "abandon");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(s->read("Patient", "p1")->version_id, 4);
  EXPECT_EQ(s->read_for_patient("p1", "Patient", "p1")->version_id, 4);
}

TEST(SqliteReadCache, AnotherProcessWriteIsSeenAfterTheCheckInterval) {
  std::string path = temp_db();
  // The interval is long enough that the early read below falls inside it even on a loaded
  // machine (the two writes between take a few milliseconds).
  auto server = open_at(path, std::chrono::milliseconds(500));
  auto other = open_at(path, std::chrono::milliseconds(500));
  ASSERT_NE(server, nullptr);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(server->create(patient_write("p1", "\"active\":true")).ok());
  EXPECT_EQ(server->read("Patient", "p1")->version_id, 1);
  ASSERT_TRUE(other->update(patient_write("p1", "\"active\":false")).ok());
  ASSERT_TRUE(other->create(patient_write("p2", "\"active\":true")).ok());
  // Within the interval the cached version may still be served (that is the cache working) ...
  auto early = server->read("Patient", "p1");
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->version_id, 1);
  // ... once it has passed, the store generation shows the other writer and the cache is emptied.
  std::this_thread::sleep_for(std::chrono::milliseconds(550));
  EXPECT_EQ(server->read("Patient", "p1")->version_id, 2);
  EXPECT_EQ(server->read("Patient", "p2")->version_id, 1);  // never cached: read at once
  // A deletion by the other process is seen the same way, also by read_for_patient.
  EXPECT_EQ(server->read_for_patient("p1", "Patient", "p1")->version_id, 2);
  ASSERT_TRUE(other->remove("Patient", "p1").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(550));
  EXPECT_EQ(server->read_for_patient("p1", "Patient", "p1").error().http_status, 410);
}

TEST(SqliteReadCache, OwnWriteAfterAnotherProcessWriteDropsEverything) {
  std::string path = temp_db();
  auto server = open_at(path, std::chrono::hours(1));
  auto other = open_at(path, std::chrono::hours(1));
  ASSERT_TRUE(server->create(patient_write("p1", "\"active\":true")).ok());
  ASSERT_TRUE(server->create(patient_write("p2", "\"active\":true")).ok());
  EXPECT_EQ(server->read("Patient", "p1")->version_id, 1);
  ASSERT_TRUE(other->update(patient_write("p1", "\"active\":false")).ok());
  // The server's next write finds the generation moved by someone else: its cache is emptied,
  // not only of p2.
  ASSERT_TRUE(server->update(patient_write("p2", "\"active\":false")).ok());
  EXPECT_EQ(server->read("Patient", "p1")->version_id, 2);
}

}  // namespace
}  // namespace ipa::storage::testing
