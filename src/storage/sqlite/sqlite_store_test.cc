#include "storage/sqlite/sqlite_store.h"

#include <unistd.h>

#include <filesystem>

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

}  // namespace
}  // namespace ipa::storage::testing
