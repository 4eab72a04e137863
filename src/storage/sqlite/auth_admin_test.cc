// The AuthStore administration checks (storage/testing/auth_admin_checks.h) on SQLite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "storage/sqlite/auth_store.h"
#include "storage/testing/auth_admin_checks.h"

namespace ipa::storage::sqlite {
namespace {

class FixedClock : public core::Clock {
 public:
  core::TimePoint now() const override {
    return core::TimePoint(std::chrono::seconds(1'800'000'000));
  }
};

class SqliteAuthAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("ipa-auth-admin-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SqliteOptions o;
    o.path = (dir_ / "store.db").string();
    o.clock = clock_;
    o.synchronous_full = false;
    auto s = open_sqlite_auth_store(o);
    ASSERT_TRUE(s.ok()) << s.error().log_detail;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<FixedClock> clock_ = std::make_shared<FixedClock>();
  std::filesystem::path dir_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(SqliteAuthAdminTest, RevokeGrantsByUserPatientAndClient) {
  testing::check_revoke_grants(*store_, clock_->now());
}

TEST_F(SqliteAuthAdminTest, DeleteUserSessions) {
  testing::check_delete_user_sessions(*store_, clock_->now());
}

}  // namespace
}  // namespace ipa::storage::sqlite
