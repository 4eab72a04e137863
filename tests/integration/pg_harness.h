// Integration tests on PostgreSQL: the throwaway cluster that scripts/test.sh starts
// (IPA_TEST_POSTGRES holds its admin conninfo), a fresh database per test on it, and the fixture
// of tests that run once on SQLite and once on PostgreSQL. Not thread-safe; one test at a time.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"

namespace ipa::testing {

// The cluster's admin conninfo in `conninfo`; when IPA_TEST_POSTGRES is not set, `conninfo` is
// empty and `why` says so: the test skips when `skip` (IPA_ALLOW_NO_POSTGRES is set, for runs
// without PostgreSQL on purpose) and fails otherwise (CI never skips PostgreSQL).
struct PostgresCluster {
  std::string conninfo;
  bool skip = false;
  std::string why;
};
PostgresCluster postgres_cluster();

// Drops and creates database `name` on the cluster; returns the libpq keyword conninfo for it.
// Connection or creation failures fail the test (ADD_FAILURE).
std::string fresh_database(const std::string& admin_conninfo, const std::string& name);

// `prefix` plus the process id and the running test's name, cut to PostgreSQL's identifier
// length and limited to [A-Za-z0-9_], so parallel test processes never share a database.
std::string test_database_name(const std::string& prefix);

// Drops the database that `conninfo` (from fresh_database) names, even with sessions open.
void drop_database(const std::string& admin_conninfo, const std::string& conninfo);

// The fixture of a test that runs on PostgreSQL only. SetUp skips or fails the test as
// postgres_cluster() says; a derived SetUp calls it first and returns when cluster_ is empty.
// Every database that database() made is dropped when the test object is destroyed, after the
// members of the derived fixture and the test body's locals (so after any server using it).
class PostgresTest : public ::testing::Test {
 protected:
  ~PostgresTest() override;
  void SetUp() override;

  // Creates a fresh database named test_database_name(prefix) on the cluster; returns its
  // conninfo (libpq keywords, without the "postgresql:" of a --store argument).
  std::string database(const std::string& prefix);

  std::string cluster_;  // the cluster's admin conninfo; empty when the test skips or fails
  TempDir dir_;

 private:
  std::vector<std::string> databases_;  // conninfos to drop
};

// The fixture of a test that runs on each back end: its parameter is "sqlite" or "postgres"
// (INSTANTIATE_TEST_SUITE_P(..., ::testing::Values("sqlite", "postgres"), ...)). use_backend()
// picks the store; the PostgreSQL database it made is dropped when the test object is destroyed,
// after the members of the derived fixture (so after any server process it holds).
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  ~BackendTest() override;

  // Sets store_ to dir_.file("ipa.db") on SQLite; on PostgreSQL to "postgresql:" + conninfo_, a
  // fresh database named test_database_name(db_prefix) on the cluster cluster_. Without a cluster
  // it skips or fails the test as postgres_cluster() says and leaves store_ empty: SetUp must
  // return then.
  void use_backend(const std::string& db_prefix);
  bool on_postgres() const { return GetParam() == "postgres"; }

  TempDir dir_;
  std::string store_;     // the server's --store argument
  std::string conninfo_;  // PostgreSQL: the test's database
  std::string cluster_;   // PostgreSQL: the cluster's admin conninfo
};

}  // namespace ipa::testing
