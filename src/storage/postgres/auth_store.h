// The PostgreSQL back end of AuthStore: auth_* tables in the server's database (optionally in
// their own schema), versioned by their own auth_schema_version table so the auth and resource
// migration sequences never collide. A small pool of libpq connections; single-use checks rely
// on row locks and atomic statements (UPDATE ... RETURNING, INSERT ... ON CONFLICT), so they
// hold across connections, processes and nodes. Safe for concurrent use.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "storage/auth_store.h"

namespace ipa::storage::postgres {

struct PostgresAuthOptions {
  // libpq conninfo: "host=... dbname=..." or "postgresql://user@host/db".
  std::string conninfo;
  std::shared_ptr<core::Clock> clock = core::system_clock();
  // Schema holding the auth tables, created when absent ([a-z_][a-z0-9_]*, at most 63
  // characters); empty: the connection's default search_path.
  std::string schema;
  int connections = 4;  // the most connections the pool opens
  // Longest wait for a row lock before an operation gives up with unavailable 503.
  std::chrono::milliseconds lock_timeout{5000};
};

// Connects, then creates or migrates the auth tables. Errors: unavailable 503 when the server
// cannot be reached; internal 500 for a bad `schema` name or an auth schema newer than this
// program. Each operation of the store gives unavailable 503 when the connection is lost, a
// transaction cannot be serialized (after retries), or a lock is not granted in time.
core::Result<std::unique_ptr<AuthStore>> open_postgres_auth_store(
    const PostgresAuthOptions& options);

}  // namespace ipa::storage::postgres
