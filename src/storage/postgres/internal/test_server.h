// Test-only helpers for the PostgreSQL tests: the server named by IPA_TEST_POSTGRES, one fresh
// schema per store (dropped when the test program ends), and a global environment that FAILS
// every test when no server is configured, unless IPA_ALLOW_NO_POSTGRES=1 turns that into a skip.
// Not thread-safe; call from the test's main thread.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ipa::storage::postgres::testing {

inline const char* server() {
  const char* s = std::getenv("IPA_TEST_POSTGRES");
  return s != nullptr && *s != '\0' ? s : nullptr;
}

inline std::vector<std::string>& created_schemas() {
  static std::vector<std::string> names;
  return names;
}

// Runs `sql` on `conninfo`; returns whether it succeeded (the error is printed).
inline bool exec(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(conninfo.c_str()), PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << conninfo << ": " << PQerrorMessage(c.get());
    return false;
  }
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r.get());
    return false;
  }
  return true;
}

// The first column of the first row of `sql`, as an integer (-1 on error).
inline int64_t count(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(conninfo.c_str()), PQfinish);
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) < 1) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(c.get());
    return -1;
  }
  return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
}

// `base` (keyword or URI form) with `extra` keyword=value pairs, in keyword form.
inline std::string with_options(const std::string& base, const std::string& options) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(base.c_str(), &err);
  if (opts == nullptr) {
    ADD_FAILURE() << "IPA_TEST_POSTGRES is not a valid conninfo: " << (err ? err : "");
    PQfreemem(err);
    return base;
  }
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char ch : v) {
      if (ch == '\'' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    return out + "'";
  };
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "options") continue;
    out += std::string(o->keyword) + "=" + quote(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + "options=" + quote(options);
}

// Creates a new schema on the test server and returns a conninfo whose search_path is it, so
// every store starts empty. nullopt (with a failure recorded) when that is impossible.
inline std::optional<std::string> fresh_schema_conninfo() {
  const char* base = server();
  if (base == nullptr) return std::nullopt;
  static int n = 0;
  std::string schema = "ipa_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  if (!exec(base, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema)) {
    return std::nullopt;
  }
  created_schemas().push_back(schema);
  return with_options(base, "-csearch_path=" + schema);
}

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (server() != nullptr) return;
    const char* allow = std::getenv("IPA_ALLOW_NO_POSTGRES");
    if (allow != nullptr && std::string(allow) == "1") {
      GTEST_SKIP() << "IPA_TEST_POSTGRES is not set and IPA_ALLOW_NO_POSTGRES=1: skipping.";
    }
    FAIL() << "IPA_TEST_POSTGRES is not set. Start a server with\n"
              "  export IPA_TEST_POSTGRES=\"$(scripts/pg-test-cluster.sh start /tmp/ipa-pg)\"\n"
              "or set IPA_ALLOW_NO_POSTGRES=1 to skip the PostgreSQL tests on purpose.";
  }
  void TearDown() override {
    const char* base = server();
    if (base == nullptr) return;
    for (const std::string& s : created_schemas()) exec(base, "DROP SCHEMA " + s + " CASCADE");
    created_schemas().clear();
  }
};

// Registered once per test program by including this header.
inline ::testing::Environment* const kServerEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

}  // namespace ipa::storage::postgres::testing
