#include "storage/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/secret_memo.h"
#include "storage/sqlite/internal/read_cache.h"
#include "storage/sqlite/internal/render.h"

namespace ipa::storage::sqlite {
namespace {

using core::Result;
using core::Status;

int64_t to_ms(core::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
core::TimePoint from_ms(int64_t ms) {
  return core::TimePoint(
      std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::milliseconds(ms)));
}

// Versioned migrations: entry i brings the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE version(
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version_id INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  json TEXT NOT NULL,
  UNIQUE(type, id, version_id));
CREATE INDEX version_by_type ON version(type, seq);
CREATE TABLE resource(
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  owner TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  PRIMARY KEY(type, id)) WITHOUT ROWID;
CREATE TABLE compartment(
  patient TEXT NOT NULL,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY(patient, type, id)) WITHOUT ROWID;
CREATE INDEX compartment_by_resource ON compartment(type, id);
CREATE TABLE idx_token(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  system TEXT NOT NULL, code TEXT NOT NULL, code_ci TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX idx_token_value ON idx_token(type, param, code_ci, system);
CREATE INDEX idx_token_res ON idx_token(type, id, param);
CREATE TABLE idx_string(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  norm TEXT NOT NULL, exact TEXT NOT NULL);
CREATE INDEX idx_string_value ON idx_string(type, param, norm);
CREATE INDEX idx_string_res ON idx_string(type, id, param);
CREATE TABLE idx_date(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  low INTEGER NOT NULL, high INTEGER NOT NULL);
CREATE INDEX idx_date_res ON idx_date(type, id, param);
CREATE TABLE idx_ref(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL);
CREATE INDEX idx_ref_target ON idx_ref(target_id, target_type, param, type);
CREATE INDEX idx_ref_url ON idx_ref(url) WHERE url <> '';
CREATE INDEX idx_ref_res ON idx_ref(type, id, param);
CREATE TABLE idx_quantity(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  system TEXT NOT NULL, code TEXT NOT NULL, low REAL NOT NULL, high REAL NOT NULL);
CREATE INDEX idx_quantity_res ON idx_quantity(type, id, param);
CREATE TABLE idx_number(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  low REAL NOT NULL, high REAL NOT NULL);
CREATE INDEX idx_number_res ON idx_number(type, id, param);
CREATE TABLE idx_uri(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  uri TEXT NOT NULL);
CREATE INDEX idx_uri_value ON idx_uri(type, param, uri);
CREATE INDEX idx_uri_res ON idx_uri(type, id, param);
CREATE TABLE idx_composite(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  system TEXT NOT NULL, code_ci TEXT NOT NULL, v_system TEXT NOT NULL, v_code TEXT NOT NULL,
  v_low REAL NOT NULL, v_high REAL NOT NULL, v_ilow INTEGER NOT NULL, v_ihigh INTEGER NOT NULL,
  v_text TEXT NOT NULL);
CREATE INDEX idx_composite_value ON idx_composite(type, param, code_ci, system);
CREATE INDEX idx_composite_res ON idx_composite(type, id, param);
CREATE TABLE secret(name TEXT PRIMARY KEY, value BLOB NOT NULL);
)sql",
    // 2: the per-resource probe indexes of tokens and composites carry the code and system, so a
    // correlated probe (param=code on one resource) never walks every resource with that code
    // (found by bench/run.sh at 1 million resources).
    R"sql(
DROP INDEX idx_token_res;
CREATE INDEX idx_token_res ON idx_token(type, id, param, code_ci, system);
DROP INDEX idx_composite_res;
CREATE INDEX idx_composite_res ON idx_composite(type, id, param, code_ci, system);
)sql",
    // 3: a composite's third component (a number), and Location positions for `near`.
    R"sql(
ALTER TABLE idx_composite ADD COLUMN v2_low REAL NOT NULL DEFAULT 0;
ALTER TABLE idx_composite ADD COLUMN v2_high REAL NOT NULL DEFAULT 0;
CREATE TABLE idx_position(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL);
CREATE INDEX idx_position_value ON idx_position(type, param, lat);
CREATE INDEX idx_position_res ON idx_position(type, id, param);
)sql",
    // 4: the store generation, incremented by every transaction that writes a resource (in any
    // process), so that a serving process notices another one's writes (internal/read_cache.h).
    R"sql(
CREATE TABLE store_generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO store_generation VALUES (1, 0);
)sql",
    // 5: the reference index a patient-bound search starts from (patient=, subject=) carries the
    // referring resource's id, so collecting a patient's Observations reads one index range
    // instead of a table row per match (bench/README.md "Session 4: search speed").
    R"sql(
DROP INDEX idx_ref_target;
CREATE INDEX idx_ref_target ON idx_ref(target_id, target_type, param, type, id);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

core::Error db_error(sqlite3* db, int rc, const char* what) {
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return core::unavailable("The database is busy; retry the request.");
  }
  if (rc == SQLITE_FULL) {
    return core::unavailable("The database is full.").with_log(std::string(what) + ": disk full");
  }
  return core::internal(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

// A prepared statement, reset on destruction so it can be reused from the connection's cache.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement& bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // Returns true when a row is available, false when done.
  Result<bool> step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return db_error(db_, rc, "step");
  }
  Status run() {
    auto r = step();
    if (!r.ok()) return std::move(r).error();
    return {};
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool sync_full) {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    auto conn = std::unique_ptr<Connection>(new Connection(db));
    if (rc != SQLITE_OK) {
      return core::unavailable("Cannot open the database.")
          .with_log("sqlite open " + path + ": " + sqlite3_errstr(rc));
    }
    sqlite3_busy_timeout(db, 5000);
    IPA_RETURN_IF_ERROR(conn->exec("PRAGMA journal_mode=WAL"));
    IPA_RETURN_IF_ERROR(
        conn->exec(sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    IPA_RETURN_IF_ERROR(conn->exec("PRAGMA foreign_keys=ON"));
    return conn;
  }
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    for (auto& [sql, e] : text_cache_) sqlite3_finalize(e.stmt);
    sqlite3_close(db_);
  }

  Status exec(const char* sql) {
    char* msg = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
      core::Error e = db_error(db_, rc, "exec");
      sqlite3_free(msg);
      return e;
    }
    return {};
  }

  // Returns the cached prepared statement for `sql` (a string literal: keyed by address).
  Result<std::unique_ptr<Statement>> prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return db_error(db_, rc, "prepare");
      it = cache_.emplace(sql, stmt).first;
    }
    return std::make_unique<Statement>(db_, it->second);
  }

  sqlite3* db() const { return db_; }

  // A statement of rendered SQL (search and history shapes) lent by prepare_text: reset and
  // unbound when the lease ends, then back in the connection's cache (or finalized when it was
  // prepared beside a cached one still in use). Must not outlive its connection.
  class Lease {
   public:
    Lease(Connection* conn, sqlite3_stmt* stmt, bool cached)
        : conn_(conn), stmt_(stmt), cached_(cached) {}
    Lease(Lease&& o) noexcept
        : conn_(o.conn_), stmt_(std::exchange(o.stmt_, nullptr)), cached_(o.cached_) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (stmt_ == nullptr) return;
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      if (cached_) {
        conn_->text_busy_.erase(stmt_);
      } else {
        sqlite3_finalize(stmt_);
      }
    }
    sqlite3_stmt* get() const { return stmt_; }

   private:
    Connection* conn_;
    sqlite3_stmt* stmt_;
    bool cached_;
  };

  // Returns a prepared statement for `sql`, built at run time from fixed fragments with every
  // value bound, so the same text comes back for every search of the same shape: parsing and
  // planning it again cost about as much as running it (bench/README.md "Session 4: search
  // speed"). Keeps the kTextCacheSize most recently used texts of this connection; errors from
  // the prepare.
  Result<Lease> prepare_text(const std::string& sql) {
    auto it = text_cache_.find(sql);
    if (it != text_cache_.end()) {
      it->second.last_use = ++text_clock_;
      if (text_busy_.insert(it->second.stmt).second) return Lease(this, it->second.stmt, true);
      // The same text is still stepping further up the stack: a private copy for this use.
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return db_error(db_, rc, "prepare");
    }
    if (it != text_cache_.end()) return Lease(this, stmt, false);
    if (text_cache_.size() >= kTextCacheSize) {
      // Drop the least recently used statement that nobody holds.
      auto victim = text_cache_.end();
      for (auto e = text_cache_.begin(); e != text_cache_.end(); ++e) {
        if (text_busy_.count(e->second.stmt) != 0) continue;
        if (victim == text_cache_.end() || e->second.last_use < victim->second.last_use) {
          victim = e;
        }
      }
      if (victim == text_cache_.end()) return Lease(this, stmt, false);
      sqlite3_finalize(victim->second.stmt);
      text_cache_.erase(victim);
    }
    text_cache_.emplace(sql, TextEntry{stmt, ++text_clock_});
    text_busy_.insert(stmt);
    return Lease(this, stmt, true);
  }

  // How many rendered statements this connection keeps prepared.
  static constexpr size_t kTextCacheSize = 64;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  struct TextEntry {
    sqlite3_stmt* stmt;
    uint64_t last_use;
  };
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
  std::unordered_map<std::string, TextEntry> text_cache_;
  std::unordered_set<sqlite3_stmt*> text_busy_;  // lent out now
  uint64_t text_clock_ = 0;
};

#define IPA_ASSIGN_STMT(var, conn, sql)                 \
  auto var##_r = (conn).prepare(sql);                   \
  if (!var##_r.ok()) return std::move(var##_r).error(); \
  Statement& var = **var##_r

constexpr const char* kReadCurrent =
    "SELECT v.version_id, v.last_updated, v.deleted, v.json, r.owner FROM resource r "
    "JOIN version v ON v.seq = r.seq WHERE r.type = ?1 AND r.id = ?2";
constexpr const char* kBumpGeneration =
    "UPDATE store_generation SET value = value + 1 WHERE id = 1 RETURNING value";
constexpr const char* kGetGeneration = "SELECT value FROM store_generation WHERE id = 1";
constexpr const char* kReadVersion =
    "SELECT version_id, last_updated, deleted, json FROM version "
    "WHERE type = ?1 AND id = ?2 AND version_id = ?3";
constexpr const char* kInsertVersion =
    "INSERT INTO version(type, id, version_id, last_updated, deleted, json) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kUpsertResource =
    "INSERT INTO resource(type, id, seq, last_updated, owner, deleted) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(type, id) DO UPDATE SET seq = excluded.seq, "
    "last_updated = excluded.last_updated, owner = excluded.owner, deleted = excluded.deleted";
// Every table that holds rows derived from the current version, cleared before a write.
constexpr const char* kClearIndex[] = {
    "DELETE FROM idx_token WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_string WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_date WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_ref WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_quantity WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_number WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_uri WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_composite WHERE type = ?1 AND id = ?2",
    "DELETE FROM idx_position WHERE type = ?1 AND id = ?2",
    "DELETE FROM compartment WHERE type = ?1 AND id = ?2",
};
constexpr const char* kInsertToken =
    "INSERT INTO idx_token(type, id, param, system, code, code_ci, text) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertString =
    "INSERT INTO idx_string(type, id, param, norm, exact) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertDate =
    "INSERT INTO idx_date(type, id, param, low, high) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertRef =
    "INSERT INTO idx_ref(type, id, param, target_type, target_id, url) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kInsertQuantity =
    "INSERT INTO idx_quantity(type, id, param, system, code, low, high) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertNumber =
    "INSERT INTO idx_number(type, id, param, low, high) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertUri =
    "INSERT INTO idx_uri(type, id, param, uri) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kInsertComposite =
    "INSERT INTO idx_composite(type, id, param, system, code_ci, v_system, v_code, v_low, v_high, "
    "v_ilow, v_ihigh, v_text, v2_low, v2_high) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
constexpr const char* kInsertPosition =
    "INSERT INTO idx_position(type, id, param, lat, lon, x, y, z) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kInsertCompartment =
    "INSERT OR IGNORE INTO compartment(patient, type, id) VALUES (?1, ?2, ?3)";
constexpr const char* kGetSecret = "SELECT value FROM secret WHERE name = ?1";
constexpr const char* kPutSecret = "INSERT OR IGNORE INTO secret(name, value) VALUES (?1, ?2)";
// From the patient's compartment outwards, so the cost is the size of one record, never the
// number of resources that reference a popular Practitioner.
constexpr const char* kReferencedOneHop =
    "SELECT 1 FROM compartment c JOIN idx_ref x ON x.type = c.type AND x.id = c.id "
    "WHERE c.patient = ?1 AND x.target_type = ?2 AND x.target_id = ?3 LIMIT 1";
constexpr const char* kReferencedTwoHops =
    "SELECT 1 FROM compartment c JOIN idx_ref x ON x.type = c.type AND x.id = c.id "
    "JOIN idx_ref y ON y.type = x.target_type AND y.id = x.target_id "
    "WHERE c.patient = ?1 AND y.target_type = ?2 AND y.target_id = ?3 LIMIT 1";
constexpr const char* kIsMember =
    "SELECT 1 FROM compartment WHERE patient = ?1 AND type = ?2 AND id = ?3";
constexpr const char* kCompartmentsOf =
    "SELECT patient FROM compartment WHERE type = ?1 AND id = ?2 ORDER BY patient";
constexpr const char* kRefsOf =
    "SELECT target_type, target_id FROM idx_ref WHERE type = ?1 AND id = ?2 AND "
    "(?3 = '*' OR param = ?3) AND target_id <> ''";
constexpr const char* kReferencing =
    "SELECT DISTINCT x.id FROM idx_ref x JOIN resource r ON r.type = x.type AND r.id = x.id "
    "WHERE x.target_id = ?1 AND x.target_type = ?2 AND x.type = ?3 AND (?4 = '*' OR x.param = ?4) "
    "AND r.deleted = 0 LIMIT ?5";
// kReferencing restricted to the members of one patient's compartment (?6).
constexpr const char* kReferencingMember =
    "SELECT DISTINCT x.id FROM idx_ref x JOIN resource r ON r.type = x.type AND r.id = x.id "
    "JOIN compartment c ON c.patient = ?6 AND c.type = x.type AND c.id = x.id "
    "WHERE x.target_id = ?1 AND x.target_type = ?2 AND x.type = ?3 AND (?4 = '*' OR x.param = ?4) "
    "AND r.deleted = 0 LIMIT ?5";

// Lower-cases ASCII letters: token codes compare case-insensitively (FHIR R4 search.html#token).
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Current {
  StoredResource resource;
  bool exists = false;
};

Result<Current> read_current(Connection& conn, const std::string& type, const std::string& id) {
  IPA_ASSIGN_STMT(st, conn, kReadCurrent);
  st.bind(1, type).bind(2, id);
  auto row = st.step();
  if (!row.ok()) return std::move(row).error();
  Current out;
  out.resource.resource_type = type;
  out.resource.id = id;
  if (!*row) return out;
  out.exists = true;
  out.resource.version_id = st.int64(0);
  out.resource.last_updated = from_ms(st.int64(1));
  out.resource.deleted = st.int64(2) != 0;
  out.resource.json = st.text(3);
  out.resource.owner_patient = st.text(4);
  return out;
}

Result<StoredResource> current_or_error(Result<Current> cur) {
  if (!cur.ok()) return std::move(cur).error();
  if (!cur->exists) {
    return core::not_found("Resource " + cur->resource.resource_type + "/" + cur->resource.id +
                           " is not known.");
  }
  if (cur->resource.deleted) {
    return core::gone("Resource " + cur->resource.resource_type + "/" + cur->resource.id +
                      " was deleted.");
  }
  return std::move(cur->resource);
}

// Runs a rendered statement (from the connection's cache of rendered texts), calling `row` for
// each result row.
template <typename RowFn>
Status run_sql(Connection& conn, const internal::Sql& sql, RowFn row) {
  auto lease = conn.prepare_text(sql.text);
  if (!lease.ok()) return std::move(lease).error();
  sqlite3_stmt* raw = lease->get();
  int rc = SQLITE_OK;
  for (size_t i = 0; i < sql.binds.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    const auto& b = sql.binds[i];
    if (const auto* v = std::get_if<int64_t>(&b)) {
      sqlite3_bind_int64(raw, idx, *v);
    } else if (const auto* d = std::get_if<double>(&b)) {
      sqlite3_bind_double(raw, idx, *d);
    } else {
      const auto& t = std::get<std::string>(b);
      // `sql` outlives the lease, which unbinds before it ends.
      sqlite3_bind_text(raw, idx, t.data(), static_cast<int>(t.size()), SQLITE_STATIC);
    }
  }
  while (true) {
    rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return db_error(conn.db(), rc, "step search");
    row(raw);
  }
}

std::string column_text(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

Result<std::vector<std::string>> find_ids(Connection& conn, const SearchPlan& plan) {
  std::vector<std::string> ids;
  IPA_RETURN_IF_ERROR(run_sql(conn, internal::render_ids(plan),
                              [&](sqlite3_stmt* st) { ids.push_back(column_text(st, 0)); }));
  return ids;
}

Result<SearchPage> search_on(Connection& conn, const SearchPlan& plan) {
  SearchPage page;
  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("search sql: {}", internal::render_page(plan).text);
  }
  std::vector<Keyset> keys;
  bool more = false;
  IPA_RETURN_IF_ERROR(run_sql(conn, internal::render_page(plan), [&](sqlite3_stmt* st) {
    if (static_cast<int>(page.entries.size()) == plan.count) {
      more = true;
      return;
    }
    StoredResource r;
    r.resource_type = plan.resource_type;
    r.id = column_text(st, 0);
    r.version_id = sqlite3_column_int64(st, 1);
    r.last_updated = from_ms(sqlite3_column_int64(st, 2));
    r.json = column_text(st, 3);
    Keyset k;
    for (size_t i = 0; i < plan.sort.size(); ++i) {
      int col = static_cast<int>(4 + i);
      switch (internal::sort_value_type(plan.sort[i])) {
        case internal::SortValueType::kInteger:
          k.values.push_back(std::to_string(sqlite3_column_int64(st, col)));
          break;
        case internal::SortValueType::kReal: {
          char buf[40];
          std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, col));
          k.values.push_back(buf);
          break;
        }
        case internal::SortValueType::kText:
          k.values.push_back(column_text(st, col));
          break;
      }
    }
    k.id = r.id;
    keys.push_back(std::move(k));
    page.entries.push_back(std::move(r));
  }));
  finish_page(plan, std::move(keys), more, page);
  if (plan.want_total) {
    int64_t total = 0;
    IPA_RETURN_IF_ERROR(run_sql(conn, internal::render_count(plan),
                                [&](sqlite3_stmt* st) { total = sqlite3_column_int64(st, 0); }));
    page.total = total;
  }
  return page;
}

class SqliteWriter final : public Writer {
 public:
  SqliteWriter(Connection& conn, core::Clock& clock) : conn_(conn), clock_(clock) {}

  // The resources this transaction wrote (a new version or a deletion), in write order.
  const std::vector<ResourceKey>& written() const { return written_; }

  Result<StoredResource> read(const std::string& type, const std::string& id) override {
    return current_or_error(read_current(conn_, type, id));
  }

  Result<std::vector<std::string>> find_matches(const SearchPlan& criteria) override {
    SearchPlan plan = criteria;  // writers are serialized: nothing else to hold
    plan.count = 2;
    return find_ids(conn_, plan);
  }

  Result<WriteResult> create(Write w, const SearchPlan* criteria) override {
    if (criteria != nullptr) {
      auto found = find_matches(*criteria);
      if (!found.ok()) return std::move(found).error();
      if (found->size() > 1) {
        return core::precondition_failed(
            "If-None-Exist matches " + std::to_string(found->size()) +
            " resources; the criteria must be selective enough to match at most one.");
      }
      if (found->size() == 1) {
        auto existing = read(w.resource_type, found->front());
        if (!existing.ok()) return std::move(existing).error();
        return WriteResult{std::move(*existing), false, true};
      }
    }
    auto cur = read_current(conn_, w.resource_type, w.id);
    if (!cur.ok()) return std::move(cur).error();
    if (cur->exists) {
      return core::conflict("Resource " + w.resource_type + "/" + w.id + " already exists.");
    }
    return put(std::move(w), 1, true);
  }

  Result<WriteResult> update(Write w) override {
    auto cur = read_current(conn_, w.resource_type, w.id);
    if (!cur.ok()) return std::move(cur).error();
    int64_t current_version = cur->exists ? cur->resource.version_id : 0;
    if (w.if_match && (*w.if_match != current_version || !cur->exists || cur->resource.deleted)) {
      return core::precondition_failed("If-Match version " + std::to_string(*w.if_match) +
                                       " does not match the current version " +
                                       (cur->exists && !cur->resource.deleted
                                            ? std::to_string(current_version)
                                            : std::string("(none)")) +
                                       ".");
    }
    bool created = !cur->exists || cur->resource.deleted;
    return put(std::move(w), current_version + 1, created);
  }

  Result<WriteResult> remove(const std::string& type, const std::string& id,
                             std::optional<int64_t> if_match) override {
    auto cur = read_current(conn_, type, id);
    if (!cur.ok()) return std::move(cur).error();
    if (if_match &&
        (!cur->exists || cur->resource.deleted || *if_match != cur->resource.version_id)) {
      return core::precondition_failed("If-Match does not match the current version.");
    }
    if (!cur->exists || cur->resource.deleted) {
      WriteResult none;
      none.resource = std::move(cur->resource);
      if (!cur->exists) none.resource.version_id = 0;
      return none;
    }
    StoredResource out;
    out.resource_type = type;
    out.id = id;
    out.version_id = cur->resource.version_id + 1;
    out.last_updated = clock_.now();
    out.deleted = true;
    // The deletion keeps the last owner, as on PostgreSQL: read_for_patient answers 410 to the
    // owner and 404 to everyone else.
    auto seq = insert_version(out, cur->resource.owner_patient);
    if (!seq.ok()) return std::move(seq).error();
    IPA_RETURN_IF_ERROR(clear_index(type, id));
    return WriteResult{std::move(out), false, false};
  }

 private:
  Result<WriteResult> put(Write w, int64_t version_id, bool created) {
    StoredResource out;
    out.resource_type = w.resource_type;
    out.id = w.id;
    out.version_id = version_id;
    out.last_updated = clock_.now();
    auto json = w.render(VersionStamp{out.version_id, out.last_updated});
    if (!json.ok()) return std::move(json).error();
    out.json = std::move(*json);
    auto seq = insert_version(out, w.index.owner_patient);
    if (!seq.ok()) return std::move(seq).error();
    IPA_RETURN_IF_ERROR(clear_index(out.resource_type, out.id));
    IPA_RETURN_IF_ERROR(write_index(out.resource_type, out.id, w.index));
    return WriteResult{std::move(out), created, false};
  }

  Status clear_index(const std::string& type, const std::string& id) {
    for (const char* sql : kClearIndex) {
      IPA_ASSIGN_STMT(del, conn_, sql);
      del.bind(1, type).bind(2, id);
      IPA_RETURN_IF_ERROR(del.run());
    }
    return {};
  }

  Status write_index(const std::string& type, const std::string& id, const IndexRows& x) {
    for (const TokenRow& t : x.tokens) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertToken);
      std::string ci = ascii_lower(t.code);
      ins.bind(1, type).bind(2, id).bind(3, t.param).bind(4, t.system).bind(5, t.code);
      ins.bind(6, ci).bind(7, t.text);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const StringRow& r : x.strings) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertString);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.normalized).bind(5, r.exact);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const DateRow& r : x.dates) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertDate);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.low).bind(5, r.high);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const ReferenceRow& r : x.references) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertRef);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.target_type).bind(5, r.target_id);
      ins.bind(6, r.url);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const QuantityRow& r : x.quantities) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertQuantity);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.system).bind(5, r.code);
      ins.bind(6, r.low).bind(7, r.high);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const NumberRow& r : x.numbers) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertNumber);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.low).bind(5, r.high);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const UriRow& r : x.uris) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertUri);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.uri);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const CompositeRow& r : x.composites) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertComposite);
      // Token codes compare case-insensitively; a quantity's unit code does not.
      // Bound SQLITE_STATIC: the lowered texts must outlive run().
      const std::string code_ci = ascii_lower(r.code);
      const std::string v_code =
          r.value_kind == IndexKind::kToken ? ascii_lower(r.v_code) : r.v_code;
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.system).bind(5, code_ci);
      ins.bind(6, r.v_system).bind(7, v_code).bind(8, r.v_low).bind(9, r.v_high);
      ins.bind(10, r.v_ilow).bind(11, r.v_ihigh).bind(12, r.v_text);
      ins.bind(13, r.v2_low).bind(14, r.v2_high);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const PositionRow& r : x.positions) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertPosition);
      ins.bind(1, type).bind(2, id).bind(3, r.param).bind(4, r.latitude).bind(5, r.longitude);
      ins.bind(6, r.x).bind(7, r.y).bind(8, r.z);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    for (const std::string& p : x.compartment_patients) {
      IPA_ASSIGN_STMT(ins, conn_, kInsertCompartment);
      ins.bind(1, p).bind(2, type).bind(3, id);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    return {};
  }

  Result<int64_t> insert_version(const StoredResource& r, const std::string& owner) {
    {
      IPA_ASSIGN_STMT(ins, conn_, kInsertVersion);
      ins.bind(1, r.resource_type)
          .bind(2, r.id)
          .bind(3, r.version_id)
          .bind(4, to_ms(r.last_updated))
          .bind(5, int64_t{r.deleted ? 1 : 0})
          .bind(6, r.json);
      IPA_RETURN_IF_ERROR(ins.run());
    }
    int64_t seq = sqlite3_last_insert_rowid(conn_.db());
    written_.push_back(ResourceKey{r.resource_type, r.id});
    IPA_ASSIGN_STMT(up, conn_, kUpsertResource);
    up.bind(1, r.resource_type).bind(2, r.id).bind(3, seq).bind(4, to_ms(r.last_updated));
    up.bind(5, owner).bind(6, int64_t{r.deleted ? 1 : 0});
    IPA_RETURN_IF_ERROR(up.run());
    return seq;
  }

  Connection& conn_;
  core::Clock& clock_;
  std::vector<ResourceKey> written_;
};

class SqliteStore final : public ResourceStore {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<Connection> writer)
      : options_(std::move(options)),
        writer_(std::move(writer)),
        cache_(options_.read_cache_bytes, options_.read_cache_check) {}

  // One line of read cache figures when the store closes (the hit rate under a real workload;
  // bench/cache.sh reads it).
  ~SqliteStore() override {
    auto s = cache_.stats();
    if (s.hits + s.misses == 0) return;
    spdlog::info(
        "read cache: hits={} misses={} hit_rate={:.3f} evictions={} clears={} entries={} bytes={}",
        s.hits, s.misses, static_cast<double>(s.hits) / static_cast<double>(s.hits + s.misses),
        s.evictions, s.clears, s.entries, s.bytes);
  }

  Result<StoredResource> read(const std::string& type, const std::string& id) override {
    return current_or_error(read_cached(type, id));
  }

  Result<StoredResource> read_for_patient(const std::string& patient, const std::string& type,
                                          const std::string& id) override {
    auto cur = read_cached(type, id);
    if (!cur.ok()) return std::move(cur).error();
    if (cur->exists && cur->resource.owner_patient == patient) {
      return current_or_error(std::move(cur));
    }
    // Not the patient's own: found only through a membership of the patient's compartment
    // (deletions have none), or when no patient owns it (the caller's grant check decides).
    if (cur->exists && !cur->resource.deleted && cur->resource.owner_patient.empty()) {
      return std::move(cur->resource);
    }
    bool member = false;
    if (cur->exists && !cur->resource.deleted) {
      auto found = with_reader([&](Connection& c) -> Result<bool> {
        IPA_ASSIGN_STMT(st, c, kIsMember);
        st.bind(1, patient).bind(2, type).bind(3, id);
        return st.step();
      });
      if (!found.ok()) return std::move(found).error();
      member = *found;
    }
    if (!member) return core::not_found("Resource " + type + "/" + id + " is not known.");
    return std::move(cur->resource);
  }

  Result<StoredResource> vread(const std::string& type, const std::string& id,
                               int64_t version_id) override {
    auto conn = acquire();
    if (!conn.ok()) return std::move(conn).error();
    auto out = vread_on(**conn, type, id, version_id);
    release(std::move(*conn));
    return out;
  }

  Result<HistoryPage> history(const HistoryQuery& q) override {
    auto conn = acquire();
    if (!conn.ok()) return std::move(conn).error();
    auto out = history_on(**conn, q);
    release(std::move(*conn));
    return out;
  }

  Result<SearchPage> search(const SearchPlan& plan) override {
    return with_reader([&](Connection& c) { return search_on(c, plan); });
  }

  // One database: the patient hints of the include fetches change nothing here.
  Result<std::vector<ResourceKey>> references_of(const std::vector<ResourceKey>& sources,
                                                 const std::string& param,
                                                 const std::string& /*patient*/) override {
    return with_reader([&](Connection& c) -> Result<std::vector<ResourceKey>> {
      std::vector<ResourceKey> out;
      for (const ResourceKey& k : sources) {
        IPA_ASSIGN_STMT(st, c, kRefsOf);
        st.bind(1, k.resource_type).bind(2, k.id).bind(3, param);
        while (true) {
          auto row = st.step();
          if (!row.ok()) return std::move(row).error();
          if (!*row) break;
          out.push_back(ResourceKey{st.text(0), st.text(1)});
        }
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    });
  }

  Result<std::vector<StoredResource>> read_many(const std::vector<ResourceKey>& keys,
                                                const std::string& /*patient*/) override {
    return with_reader([&](Connection& c) -> Result<std::vector<StoredResource>> {
      std::vector<StoredResource> out;
      for (const ResourceKey& k : keys) {
        auto cur = read_current(c, k.resource_type, k.id);
        if (!cur.ok()) return std::move(cur).error();
        if (cur->exists && !cur->resource.deleted) out.push_back(std::move(cur->resource));
      }
      return out;
    });
  }

  Result<std::vector<StoredResource>> referencing(const std::string& source_type,
                                                  const std::string& param,
                                                  const std::vector<ResourceKey>& targets,
                                                  int limit, const std::string& patient) override {
    return with_reader([&](Connection& c) -> Result<std::vector<StoredResource>> {
      std::vector<std::string> ids;
      for (const ResourceKey& t : targets) {
        IPA_ASSIGN_STMT(st, c, patient.empty() ? kReferencing : kReferencingMember);
        st.bind(1, t.id).bind(2, t.resource_type).bind(3, source_type).bind(4, param);
        st.bind(5, int64_t{limit});
        if (!patient.empty()) st.bind(6, patient);
        while (true) {
          auto row = st.step();
          if (!row.ok()) return std::move(row).error();
          if (!*row) break;
          ids.push_back(st.text(0));
        }
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      std::vector<StoredResource> out;
      for (const std::string& id : ids) {
        if (static_cast<int>(out.size()) >= limit) break;
        auto cur = read_current(c, source_type, id);
        if (!cur.ok()) return std::move(cur).error();
        if (cur->exists && !cur->resource.deleted) out.push_back(std::move(cur->resource));
      }
      return out;
    });
  }

  Result<bool> referenced_from_compartment(const std::string& patient,
                                           const ResourceKey& target) override {
    return with_reader([&](Connection& c) -> Result<bool> {
      for (const char* sql : {kReferencedOneHop, kReferencedTwoHops}) {
        IPA_ASSIGN_STMT(st, c, sql);
        st.bind(1, patient).bind(2, target.resource_type).bind(3, target.id);
        auto row = st.step();
        if (!row.ok()) return std::move(row).error();
        if (*row) return true;
      }
      return false;
    });
  }

  Result<std::vector<std::string>> compartments_of(const std::string& type,
                                                   const std::string& id) override {
    return with_reader([&](Connection& c) -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      IPA_ASSIGN_STMT(st, c, kCompartmentsOf);
      st.bind(1, type).bind(2, id);
      while (true) {
        auto row = st.step();
        if (!row.ok()) return std::move(row).error();
        if (!*row) break;
        out.push_back(st.text(0));
      }
      return out;
    });
  }

  Status transaction(const std::function<Status(Writer&)>& body) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    IPA_RETURN_IF_ERROR(writer_->exec("BEGIN IMMEDIATE"));
    SqliteWriter w(*writer_, *options_.clock);
    Status st = body(w);
    int64_t generation = 0;
    if (st.ok() && !w.written().empty()) {
      auto bumped = bump_generation();
      if (bumped.ok()) {
        generation = *bumped;
      } else {
        st = std::move(bumped).error();
      }
    }
    if (st.ok()) {
      Status commit = writer_->exec("COMMIT");
      if (commit.ok()) {
        if (!w.written().empty()) cache_.committed(generation, w.written());
        return {};
      }
      st = std::move(commit);
    }
    (void)writer_->exec("ROLLBACK");
    return st;
  }

  // Read once per process (storage/secret_memo.h): searches ask for the cursor key on every
  // request, and must not wait for a connection or the writer's lock to get it.
  Result<std::string> secret(const std::string& name, size_t bytes) override {
    return secrets_.get(name, [&] { return stored_secret(name, bytes); });
  }

  Result<std::string> stored_secret(const std::string& name, size_t bytes) {
    std::lock_guard<std::mutex> lock(write_mu_);
    {
      IPA_ASSIGN_STMT(get, *writer_, kGetSecret);
      get.bind(1, name);
      auto row = get.step();
      if (!row.ok()) return std::move(row).error();
      if (*row) return get.text(0);
    }
    std::string value(bytes, '\0');
    size_t got = 0;
    while (got < bytes) {
      ssize_t n = getrandom(value.data() + got, bytes - got, 0);
      if (n <= 0) return core::internal("getrandom failed");
      got += static_cast<size_t>(n);
    }
    IPA_ASSIGN_STMT(put, *writer_, kPutSecret);
    put.bind(1, name).bind(2, value);
    IPA_RETURN_IF_ERROR(put.run());
    IPA_ASSIGN_STMT(get, *writer_, kGetSecret);
    get.bind(1, name);
    auto row = get.step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return core::internal("secret vanished");
    return get.text(0);
  }

  Status ping() override {
    auto conn = acquire();
    if (!conn.ok()) return std::move(conn).error();
    Status st = (*conn)->exec("SELECT 1");
    release(std::move(*conn));
    return st;
  }

 private:
  template <typename Fn>
  auto with_reader(Fn fn) -> decltype(fn(std::declval<Connection&>())) {
    auto conn = acquire();
    if (!conn.ok()) return std::move(conn).error();
    auto out = fn(**conn);
    release(std::move(*conn));
    return out;
  }

  // The current version of type/id: from the cache when it holds it (after reading the store
  // generation when the check interval has passed), else from a reader connection (cached then).
  Result<Current> read_cached(const std::string& type, const std::string& id) {
    if (cache_.enabled()) {
      auto now = internal::ReadCache::Clock::now();
      if (cache_.due(now)) {
        auto g = with_reader([&](Connection& c) -> Result<int64_t> {
          IPA_ASSIGN_STMT(st, c, kGetGeneration);
          auto row = st.step();
          if (!row.ok()) return std::move(row).error();
          if (!*row) return core::internal("store_generation has no row");
          return st.int64(0);
        });
        if (!g.ok()) return std::move(g).error();
        cache_.observe(*g, now);
      }
      if (auto hit = cache_.find(type, id)) return Current{std::move(*hit), true};
    }
    uint64_t epoch = cache_.epoch();
    auto cur = with_reader([&](Connection& c) { return read_current(c, type, id); });
    if (cur.ok() && cur->exists) cache_.insert(epoch, cur->resource);
    return cur;
  }

  // Inside the write transaction: the store generation after this transaction.
  Result<int64_t> bump_generation() {
    IPA_ASSIGN_STMT(st, *writer_, kBumpGeneration);
    auto row = st.step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return core::internal("store_generation has no row");
    return st.int64(0);  // the statement is reset (and the UPDATE completed) when `st` ends
  }

  Result<std::unique_ptr<Connection>> acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    return Connection::open(options_.path, options_.synchronous_full);
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (static_cast<int>(pool_.size()) < options_.read_connections) pool_.push_back(std::move(c));
  }

  static Result<StoredResource> vread_on(Connection& conn, const std::string& type,
                                         const std::string& id, int64_t version_id) {
    IPA_ASSIGN_STMT(st, conn, kReadVersion);
    st.bind(1, type).bind(2, id).bind(3, version_id);
    auto row = st.step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) {
      return core::not_found("Version " + std::to_string(version_id) + " of " + type + "/" + id +
                             " is not known.");
    }
    StoredResource r{type, id, st.int64(0), from_ms(st.int64(1)), st.int64(2) != 0, st.text(3)};
    if (r.deleted) {
      return core::gone("Version " + std::to_string(version_id) + " of " + type + "/" + id +
                        " is a deletion.");
    }
    return r;
  }

  static Result<HistoryPage> history_on(Connection& conn, const HistoryQuery& q) {
    // One statement text per shape, built from fixed fragments (never from input).
    std::string where = " WHERE 1=1";
    if (!q.resource_type.empty()) where += " AND type = ?1";
    if (!q.id.empty()) where += " AND id = ?2";
    if (q.since) where += " AND last_updated >= ?3";
    std::string page_where = where;
    if (q.before_seq) page_where += " AND seq < ?4";
    std::string sql = "SELECT seq, type, id, version_id, last_updated, deleted, json FROM version" +
                      page_where + " ORDER BY seq DESC LIMIT ?5";
    std::string count_sql = "SELECT count(*) FROM version" + where;
    HistoryPage page;
    int64_t last_seq = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const std::string& text = pass == 0 ? sql : count_sql;
      auto lease = conn.prepare_text(text);
      if (!lease.ok()) return std::move(lease).error();
      Statement st(conn.db(), lease->get());
      if (!q.resource_type.empty()) st.bind(1, q.resource_type);
      if (!q.id.empty()) st.bind(2, q.id);
      if (q.since) st.bind(3, to_ms(*q.since));
      if (pass == 0) {
        if (q.before_seq) st.bind(4, *q.before_seq);
        st.bind(5, int64_t{q.count + 1});
      }
      while (true) {
        auto row = st.step();
        if (!row.ok()) return std::move(row).error();
        if (!*row) break;
        if (pass == 1) {
          page.total = st.int64(0);
          continue;
        }
        if (static_cast<int>(page.entries.size()) == q.count) {
          page.next_before_seq = last_seq;
          break;
        }
        last_seq = st.int64(0);
        page.entries.push_back(StoredResource{st.text(1), st.text(2), st.int64(3),
                                              from_ms(st.int64(4)), st.int64(5) != 0, st.text(6)});
      }
    }
    return page;
  }

  SqliteOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_;
  internal::ReadCache cache_;
  SecretMemo secrets_;
};

Status migrate(Connection& conn) {
  IPA_RETURN_IF_ERROR(conn.exec("BEGIN IMMEDIATE"));
  int version = 0;
  {
    IPA_ASSIGN_STMT(st, conn, "PRAGMA user_version");
    auto row = st.step();
    if (!row.ok()) return std::move(row).error();
    version = static_cast<int>(st.int64(0));
  }
  if (version > kSchemaVersion) {
    (void)conn.exec("ROLLBACK");
    return core::internal("database schema version " + std::to_string(version) +
                          " is newer than this program's " + std::to_string(kSchemaVersion));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    Status s = conn.exec(kMigrations[v]);
    if (!s.ok()) {
      (void)conn.exec("ROLLBACK");
      return s;
    }
  }
  std::string set = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  IPA_RETURN_IF_ERROR(conn.exec(set.c_str()));
  return conn.exec("COMMIT");
}

}  // namespace

Result<std::vector<std::string>> explain_search(const std::string& path, const SearchPlan& plan) {
  auto conn = Connection::open(path, false);
  if (!conn.ok()) return std::move(conn).error();
  internal::Sql sql = internal::render_page(plan);
  sql.text = "EXPLAIN QUERY PLAN " + sql.text;
  std::vector<std::string> lines;
  IPA_RETURN_IF_ERROR(
      run_sql(**conn, sql, [&](sqlite3_stmt* st) { lines.push_back(column_text(st, 3)); }));
  return lines;
}

Result<std::unique_ptr<ResourceStore>> open_sqlite_store(const SqliteOptions& options) {
  auto writer = Connection::open(options.path, options.synchronous_full);
  if (!writer.ok()) return std::move(writer).error();
  IPA_RETURN_IF_ERROR(migrate(**writer));
  return std::unique_ptr<ResourceStore>(new SqliteStore(options, std::move(*writer)));
}

}  // namespace ipa::storage::sqlite
