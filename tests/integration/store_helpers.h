// Test-only helper for integration tests that look into a running server's store from beside it:
// its AuthStore, opened on the same SQLite file or PostgreSQL database. Header-only; the store
// it returns is safe for concurrent use with the server's.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "storage/auth_store.h"
#include "storage/postgres/auth_store.h"
#include "storage/sqlite/auth_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::testing {

// The AuthStore behind `store`, a server's --store argument: "postgresql:<conninfo>" or a SQLite
// file. Returns null, and fails the test (EXPECT), when it cannot be opened.
inline std::unique_ptr<storage::AuthStore> open_auth_store(const std::string& store) {
  static constexpr std::string_view kPostgres = "postgresql:";
  core::Result<std::unique_ptr<storage::AuthStore>> s = core::internal("unset");
  if (store.rfind(kPostgres, 0) == 0) {
    storage::postgres::PostgresAuthOptions o;
    o.conninfo = store.substr(kPostgres.size());
    s = storage::postgres::open_postgres_auth_store(o);
  } else {
    storage::sqlite::SqliteOptions o;
    o.path = store;
    s = storage::sqlite::open_sqlite_auth_store(o);
  }
  EXPECT_TRUE(s.ok()) << s.error().diagnostics << " " << s.error().log_detail;
  return s.ok() ? std::move(*s) : nullptr;
}

}  // namespace ipa::testing
