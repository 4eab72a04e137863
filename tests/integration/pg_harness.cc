#include "pg_harness.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <regex>

namespace ipa::testing {

PostgresCluster postgres_cluster() {
  PostgresCluster out;
  if (const char* pg = std::getenv("IPA_TEST_POSTGRES"); pg != nullptr && *pg != '\0') {
    out.conninfo = pg;
    return out;
  }
  out.skip = std::getenv("IPA_ALLOW_NO_POSTGRES") != nullptr;
  out.why = out.skip ? "IPA_TEST_POSTGRES is not set"
                     : "IPA_TEST_POSTGRES is not set: scripts/test.sh starts a PostgreSQL cluster";
  return out;
}

std::string fresh_database(const std::string& admin_conninfo, const std::string& name) {
  PGconn* c = PQconnectdb(admin_conninfo.c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PQclear(PQexec(c, ("DROP DATABASE IF EXISTS " + name).c_str()));
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return std::regex_replace(admin_conninfo, std::regex("dbname=[^ ]*"), "dbname=" + name);
}

std::string test_database_name(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = prefix + "_" + std::to_string(::getpid());
  if (info != nullptr) name += std::string("_") + info->name();
  name = std::regex_replace(name, std::regex("[^A-Za-z0-9_]"), "_");
  // libpq's dbname is case-sensitive while SQL folds unquoted names: keep to lower case.
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.substr(0, 60);
}

void drop_database(const std::string& admin_conninfo, const std::string& conninfo) {
  std::string name = std::regex_replace(conninfo, std::regex(".*dbname=([^ ]*).*"), "$1");
  PGconn* c = PQconnectdb(admin_conninfo.c_str());
  PQclear(PQexec(c, ("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").c_str()));
  PQfinish(c);
}

PostgresTest::~PostgresTest() {
  for (const std::string& conninfo : databases_) drop_database(cluster_, conninfo);
}

void PostgresTest::SetUp() {
  PostgresCluster cluster = postgres_cluster();
  if (cluster.skip) GTEST_SKIP() << cluster.why;
  if (cluster.conninfo.empty()) FAIL() << cluster.why;
  cluster_ = cluster.conninfo;
}

std::string PostgresTest::database(const std::string& prefix) {
  databases_.push_back(fresh_database(cluster_, test_database_name(prefix)));
  return databases_.back();
}

BackendTest::~BackendTest() {
  if (!conninfo_.empty()) drop_database(cluster_, conninfo_);
}

void BackendTest::use_backend(const std::string& db_prefix) {
  if (!on_postgres()) {
    store_ = dir_.file("ipa.db");
    return;
  }
  PostgresCluster cluster = postgres_cluster();
  if (cluster.skip) GTEST_SKIP() << cluster.why;
  if (cluster.conninfo.empty()) FAIL() << cluster.why;
  cluster_ = cluster.conninfo;
  conninfo_ = fresh_database(cluster_, test_database_name(db_prefix));
  store_ = "postgresql:" + conninfo_;
}

}  // namespace ipa::testing
