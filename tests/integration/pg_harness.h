// Integration tests on PostgreSQL: the throwaway cluster that scripts/test.sh starts
// (IPA_TEST_POSTGRES holds its admin conninfo) and a fresh database per test on it.
#pragma once

#include <string>

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

}  // namespace ipa::testing
