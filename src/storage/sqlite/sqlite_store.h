// The SQLite back end of ResourceStore: one database file in WAL mode, versioned migrations,
// resources stored as canonical JSON text. Readers use a pool of connections; writes are
// serialized on one connection. Safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "storage/resource_store.h"

namespace ipa::storage::sqlite {

struct SqliteOptions {
  std::string path;  // the database file; created when absent
  std::shared_ptr<core::Clock> clock = core::system_clock();
  // FULL: every acknowledged write survives power loss. NORMAL: survives a process crash, may
  // lose the last transactions on power loss (WAL mode).
  bool synchronous_full = true;
  int read_connections = 8;
  // The current versions of recently read resources are kept in memory, up to this many bytes
  // (0: no cache). Writes of this process drop their entries when they commit; a write by another
  // process is noticed within `read_cache_check` (the store generation is read at most that
  // often, before a read served from memory).
  size_t read_cache_bytes = 64 * 1024 * 1024;
  std::chrono::microseconds read_cache_check{1000};
};

// Opens (and migrates) the store. Errors: unavailable 503 when the file cannot be opened, or
// internal when the schema is newer than this program.
core::Result<std::unique_ptr<ResourceStore>> open_sqlite_store(const SqliteOptions& options);

// Diagnostics for tests of index use: the detail lines of SQLite's EXPLAIN QUERY PLAN for the
// page query of `plan`, run on the database at `path`.
core::Result<std::vector<std::string>> explain_search(const std::string& path,
                                                      const SearchPlan& plan);

}  // namespace ipa::storage::sqlite
