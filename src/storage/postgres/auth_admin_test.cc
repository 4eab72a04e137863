// The AuthStore administration checks (storage/testing/auth_admin_checks.h) on PostgreSQL
// (env IPA_TEST_POSTGRES), each test in a fresh schema dropped afterwards.
#include <gtest/gtest.h>
#include <unistd.h>

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

#include <cstdlib>

#include "storage/postgres/auth_store.h"
#include "storage/testing/auth_admin_checks.h"

namespace ipa::storage::postgres {
namespace {

class FixedClock : public core::Clock {
 public:
  core::TimePoint now() const override {
    return core::TimePoint(std::chrono::seconds(1'800'000'000));
  }
};

void drop_schema(const std::string& conninfo, const std::string& schema) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) == CONNECTION_OK) {
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    PQclear(PQexec(c, ("DROP SCHEMA IF EXISTS " + schema + " CASCADE").c_str()));
  }
  PQfinish(c);
}

class PostgresAuthAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conninfo = std::getenv("IPA_TEST_POSTGRES");
    if (conninfo == nullptr || *conninfo == '\0') {
      const char* allow = std::getenv("IPA_ALLOW_NO_POSTGRES");
      if (allow != nullptr && std::string(allow) == "1") GTEST_SKIP() << "IPA_TEST_POSTGRES unset";
      FAIL() << "IPA_TEST_POSTGRES is unset (scripts/pg-test-cluster.sh start DIR prints one), "
                "or set IPA_ALLOW_NO_POSTGRES=1 to skip.";
    }
    conninfo_ = conninfo;
    static int n = 0;
    schema_ = "ipa_auth_admin_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    drop_schema(conninfo_, schema_);
    PostgresAuthOptions o;
    o.conninfo = conninfo_;
    o.clock = clock_;
    o.schema = schema_;
    auto s = open_postgres_auth_store(o);
    ASSERT_TRUE(s.ok()) << s.error().log_detail;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    if (!schema_.empty()) drop_schema(conninfo_, schema_);
  }

  std::shared_ptr<FixedClock> clock_ = std::make_shared<FixedClock>();
  std::string conninfo_, schema_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(PostgresAuthAdminTest, RevokeGrantsByUserPatientAndClient) {
  testing::check_revoke_grants(*store_, clock_->now());
}

TEST_F(PostgresAuthAdminTest, DeleteUserSessions) {
  testing::check_delete_user_sessions(*store_, clock_->now());
}

}  // namespace
}  // namespace ipa::storage::postgres
