// The SQLite back end of AuthStore: the auth tables live in the same database file as the
// resource store (tables prefixed auth_, versioned by their own auth_schema_version table so the
// two migration sequences never collide). WAL mode; every multi-step change is one
// BEGIN IMMEDIATE transaction, so single-use checks hold across connections and processes.
// One connection serialized by a mutex: safe for concurrent use.
#pragma once

#include <memory>

#include "core/result.h"
#include "storage/auth_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::storage::sqlite {

// Opens (and migrates) the auth tables of `options.path`; `options.clock` judges expiry.
// Errors: unavailable 503 when the file cannot be opened or is busy; internal when the auth
// schema is newer than this program.
core::Result<std::unique_ptr<AuthStore>> open_sqlite_auth_store(const SqliteOptions& options);

}  // namespace ipa::storage::sqlite
