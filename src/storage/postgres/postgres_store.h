// The PostgreSQL back end of ResourceStore: libpq over a bounded connection pool, prepared
// statements, versioned migrations (schema_version table), resources stored as canonical JSON
// text. Every table carries the owning patient (`owner`) as its distribution column so that a
// Citus deployment can shard by patient (docs/scale-out.md). Safe for concurrent use; writes of
// one resource (and conditional creates of one type) are serialized across nodes by
// transaction-level advisory locks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "storage/resource_store.h"

namespace ipa::storage::postgres {

struct PostgresOptions {
  // A libpq connection string, keyword form ("host=/tmp/pg port=5433 dbname=ipa user=ipa") or
  // URI form ("postgresql://ipa@db:5432/ipa").
  std::string conninfo;
  // Most connections the store holds open; callers beyond it wait for a free one.
  int pool_size = 8;
  std::shared_ptr<core::Clock> clock = core::system_clock();
  // Bulk load (`ipa-server import`): each transaction keeps the rows of its creates and updates
  // (versions, index and compartment rows, the same rows as otherwise) and sends them with
  // COPY ... FROM STDIN before COMMIT, instead of one INSERT per row. Reads and searches inside
  // the transaction still see its earlier writes. Each written resource is locked until COMMIT.
  bool bulk_copy = false;
  // Whether a resource type lives in the shared table set (shared_resource, shared_version,
  // shared_idx_*: Citus reference tables, docs/scale-out.md) instead of the patient tables
  // (distributed by owner). The store knows no FHIR: the server fills it from the fhir module
  // (types outside the Patient compartment, Binary excepted). Empty: every type is in the patient
  // tables. open_postgres_store() moves the rows of any stored type that is in the other set.
  std::function<bool(const std::string&)> shared_type;
  // Test hook: called with the text and the bound values (as text) of every statement that
  // reads or writes resources, before it runs, from the thread that runs it. Empty in servers.
  std::function<void(const std::string& sql, const std::vector<std::string>& binds)>
      statement_observer;
};

// Connects, migrates the schema and returns the store. Errors: unavailable 503 when the server
// cannot be reached, internal when the schema is newer than this program.
core::Result<std::unique_ptr<ResourceStore>> open_postgres_store(const PostgresOptions& options);

// Diagnostics for tests of index use: PostgreSQL's EXPLAIN (FORMAT JSON) of the page query of
// `plan` (routed to the compartment's patient when the store would route it), run with
// enable_seqscan=off on the database `conninfo` names, with the table sets of `shared_type`.
core::Result<std::string> explain_search(
    const std::string& conninfo, const SearchPlan& plan,
    const std::function<bool(const std::string&)>& shared_type = {});

}  // namespace ipa::storage::postgres
