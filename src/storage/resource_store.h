// ResourceStore: the seam between the FHIR REST layer and a storage back end. A store keeps every
// version of every resource as canonical JSON text plus the index rows the REST layer extracted,
// and applies each write (resource, history row, index rows) atomically. Nothing here knows SQL.
// Implementations are safe for concurrent use from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace ipa::storage {

struct StoredResource {
  std::string resource_type;
  std::string id;
  int64_t version_id = 0;
  core::TimePoint last_updated;
  bool deleted = false;
  std::string json;  // the canonical JSON served as is; empty for a deletion
};

// A token index row (issue 3 grows this into every search parameter type).
struct TokenRow {
  std::string param;
  std::string system;
  std::string code;
};

// The version the store assigns to a write; the caller renders the final JSON text from it.
struct VersionStamp {
  int64_t version_id = 0;
  core::TimePoint last_updated;
};
using Render = std::function<core::Result<std::string>(const VersionStamp&)>;

struct Write {
  std::string resource_type;
  std::string id;
  std::optional<int64_t> if_match;  // expected current version (412 when it differs)
  Render render;                    // called once inside the transaction
  std::vector<TokenRow> tokens;
};

// For conditional create: the resource matches when it has all these tokens (AND); `system`
// empty means any system.
struct TokenCriteria {
  std::vector<TokenRow> all_of;
};

struct WriteResult {
  StoredResource resource;
  bool created = false;  // a new resource (201) rather than a new version (200)
  bool existed = false;  // conditional create: a match existed, nothing was written
};

struct HistoryQuery {
  std::string resource_type;  // empty: system history
  std::string id;             // empty: type or system history
  std::optional<core::TimePoint> since;
  int count = 50;
  std::optional<int64_t> before_seq;  // keyset cursor: entries older than this
};

struct HistoryPage {
  std::vector<StoredResource> entries;  // newest first
  std::optional<int64_t> next_before_seq;
  int64_t total = 0;
};

// The writes of one transaction; see ResourceStore::transaction.
class Writer {
 public:
  virtual ~Writer() = default;
  // Reads the current version (404 never existed, 410 deleted) as seen inside the transaction.
  virtual core::Result<StoredResource> read(const std::string& type, const std::string& id) = 0;
  // Creates `w.id`. Errors: conflict 409 when that id exists (or existed). With `criteria`, returns
  // the existing match instead (existed = true), or 412 when several match.
  virtual core::Result<WriteResult> create(Write w, const TokenCriteria* criteria) = 0;
  // Creates or replaces (upsert). Errors: 412 when `if_match` differs from the current version.
  virtual core::Result<WriteResult> update(Write w) = 0;
  // Marks the resource deleted (a later read answers 410). Deleting an absent or already deleted
  // resource succeeds and writes nothing (created = false, resource.version_id = 0 when absent).
  virtual core::Result<WriteResult> remove(const std::string& type, const std::string& id,
                                           std::optional<int64_t> if_match) = 0;
};

class ResourceStore {
 public:
  virtual ~ResourceStore() = default;

  // Current version. Errors: not_found 404 when the id never existed, gone 410 when deleted.
  virtual core::Result<StoredResource> read(const std::string& type, const std::string& id) = 0;
  // One version. Errors: not_found 404 for an unknown version; gone 410 for a deletion version.
  virtual core::Result<StoredResource> vread(const std::string& type, const std::string& id,
                                             int64_t version_id) = 0;
  // History, newest first, paged by a keyset cursor.
  virtual core::Result<HistoryPage> history(const HistoryQuery& query) = 0;
  // Ids of current, non-deleted resources of `type` having all `criteria` tokens.
  virtual core::Result<std::vector<std::string>> find_by_tokens(const std::string& type,
                                                                const TokenCriteria& criteria) = 0;

  // Runs `body` in one transaction: everything it wrote is committed when it returns ok,
  // nothing when it returns an error (which is returned). Writers are serialized.
  virtual core::Status transaction(const std::function<core::Status(Writer&)>& body) = 0;

  // Convenience single writes, each its own transaction.
  core::Result<WriteResult> create(Write w, const TokenCriteria* criteria = nullptr);
  core::Result<WriteResult> update(Write w);
  core::Result<WriteResult> remove(const std::string& type, const std::string& id,
                                   std::optional<int64_t> if_match = std::nullopt);

  // Whether the store can serve (for /readyz).
  virtual core::Status ping() = 0;
};

}  // namespace ipa::storage
