#include "storage/postgres/postgres_store.h"

#include <libpq-fe.h>
#include <sys/random.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/postgres/internal/render.h"
#include "storage/secret_memo.h"

namespace ipa::storage::postgres {
namespace {

using core::Result;
using core::Status;
using internal::Bind;

int64_t to_ms(core::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
core::TimePoint from_ms(int64_t ms) {
  return core::TimePoint(
      std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::milliseconds(ms)));
}

// Versioned migrations: entry i brings the schema from version i to i + 1 (recorded in
// schema_version). Text columns compare bytewise (COLLATE "C"), as SQLite does, so prefix ranges
// ([v, v || U+10FFFF)) and id order mean the same on both back ends. Every resource-side table
// carries `owner`, the owning patient ('' outside any compartment): the Citus distribution column,
// part of every primary key (docs/scale-out.md).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE SEQUENCE version_seq;
CREATE TABLE version(
  owner text COLLATE "C" NOT NULL,
  seq bigint NOT NULL DEFAULT nextval('version_seq'),
  type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  version_id bigint NOT NULL,
  last_updated bigint NOT NULL,
  deleted boolean NOT NULL,
  json text NOT NULL,
  PRIMARY KEY(owner, seq));
CREATE INDEX version_by_seq ON version(seq);
CREATE INDEX version_by_type ON version(type, seq);
CREATE INDEX version_by_id ON version(type, id, version_id);
CREATE TABLE resource(
  owner text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  last_updated bigint NOT NULL,
  deleted boolean NOT NULL,
  PRIMARY KEY(owner, type, id));
CREATE INDEX resource_by_id ON resource(type, id);
CREATE INDEX resource_by_updated ON resource(type, last_updated);
CREATE TABLE compartment(
  patient text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  owner text COLLATE "C" NOT NULL,
  PRIMARY KEY(patient, type, id));
CREATE INDEX compartment_by_resource ON compartment(type, id);
CREATE TABLE idx_token(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, system text COLLATE "C" NOT NULL,
  code text COLLATE "C" NOT NULL, code_ci text COLLATE "C" NOT NULL,
  text text COLLATE "C" NOT NULL);
CREATE INDEX idx_token_value ON idx_token(type, param, code_ci, system);
CREATE INDEX idx_token_res ON idx_token(type, id, param);
CREATE TABLE idx_string(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, norm text COLLATE "C" NOT NULL,
  exact text COLLATE "C" NOT NULL);
CREATE INDEX idx_string_value ON idx_string(type, param, norm);
CREATE INDEX idx_string_exact ON idx_string(type, param, exact);
CREATE INDEX idx_string_res ON idx_string(type, id, param);
CREATE TABLE idx_date(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, low bigint NOT NULL,
  high bigint NOT NULL);
CREATE INDEX idx_date_res ON idx_date(type, id, param);
CREATE TABLE idx_ref(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL,
  target_type text COLLATE "C" NOT NULL, target_id text COLLATE "C" NOT NULL,
  url text COLLATE "C" NOT NULL);
CREATE INDEX idx_ref_target ON idx_ref(target_id, target_type, param, type);
CREATE INDEX idx_ref_url ON idx_ref(url) WHERE url <> '';
CREATE INDEX idx_ref_res ON idx_ref(type, id, param);
CREATE TABLE idx_quantity(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, system text COLLATE "C" NOT NULL,
  code text COLLATE "C" NOT NULL, low double precision NOT NULL, high double precision NOT NULL);
CREATE INDEX idx_quantity_res ON idx_quantity(type, id, param);
CREATE TABLE idx_number(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, low double precision NOT NULL,
  high double precision NOT NULL);
CREATE INDEX idx_number_res ON idx_number(type, id, param);
CREATE TABLE idx_uri(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, uri text COLLATE "C" NOT NULL);
CREATE INDEX idx_uri_value ON idx_uri(type, param, uri);
CREATE INDEX idx_uri_res ON idx_uri(type, id, param);
CREATE TABLE idx_composite(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, system text COLLATE "C" NOT NULL,
  code_ci text COLLATE "C" NOT NULL, v_system text COLLATE "C" NOT NULL,
  v_code text COLLATE "C" NOT NULL, v_low double precision NOT NULL,
  v_high double precision NOT NULL, v_ilow bigint NOT NULL, v_ihigh bigint NOT NULL,
  v_text text COLLATE "C" NOT NULL);
CREATE INDEX idx_composite_value ON idx_composite(type, param, code_ci, system);
CREATE INDEX idx_composite_res ON idx_composite(type, id, param);
CREATE TABLE secret(name text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
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
ALTER TABLE idx_composite ADD COLUMN v2_low double precision NOT NULL DEFAULT 0,
  ADD COLUMN v2_high double precision NOT NULL DEFAULT 0;
CREATE TABLE idx_position(owner text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL, lat double precision NOT NULL,
  lon double precision NOT NULL, x double precision NOT NULL, y double precision NOT NULL,
  z double precision NOT NULL);
CREATE INDEX idx_position_value ON idx_position(type, param, lat);
CREATE INDEX idx_position_res ON idx_position(type, id, param);
)sql",
    // 4: the memberships of a patient's compartment owned by another patient (a performer, an
    // author, a linked Patient), rare: a compartment-bound query is routed to the patient's own
    // rows (owner = patient) only when the patient has none of the type (docs/scale-out.md).
    R"sql(
CREATE INDEX compartment_foreign ON compartment(patient, type) WHERE owner <> patient;
)sql",
    // 5: the shared table set, for resources outside every patient compartment (Practitioner,
    // Organization, Medication, ...; PostgresOptions::shared_type): Citus reference tables,
    // copied to every node, so joins from a patient's shard to them stay local. Same columns as
    // the patient set (`owner` is always ''), so every statement is one text with a table prefix;
    // the same version_seq, so history is one order over both sets. No shared compartment: these
    // types have no members. Rows of an existing store are moved at open (move_types()).
    R"sql(
CREATE TABLE shared_version(
  owner text COLLATE "C" NOT NULL DEFAULT '',
  seq bigint NOT NULL DEFAULT nextval('version_seq'),
  type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  version_id bigint NOT NULL,
  last_updated bigint NOT NULL,
  deleted boolean NOT NULL,
  json text NOT NULL,
  PRIMARY KEY(seq));
CREATE INDEX shared_version_by_type ON shared_version(type, seq);
CREATE INDEX shared_version_by_id ON shared_version(type, id, version_id);
CREATE TABLE shared_resource(
  owner text COLLATE "C" NOT NULL DEFAULT '',
  type text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  last_updated bigint NOT NULL,
  deleted boolean NOT NULL,
  PRIMARY KEY(type, id));
CREATE INDEX shared_resource_by_updated ON shared_resource(type, last_updated);
CREATE TABLE shared_idx_token (LIKE idx_token INCLUDING ALL);
CREATE TABLE shared_idx_string (LIKE idx_string INCLUDING ALL);
CREATE TABLE shared_idx_date (LIKE idx_date INCLUDING ALL);
CREATE TABLE shared_idx_ref (LIKE idx_ref INCLUDING ALL);
CREATE TABLE shared_idx_quantity (LIKE idx_quantity INCLUDING ALL);
CREATE TABLE shared_idx_number (LIKE idx_number INCLUDING ALL);
CREATE TABLE shared_idx_uri (LIKE idx_uri INCLUDING ALL);
CREATE TABLE shared_idx_composite (LIKE idx_composite INCLUDING ALL);
CREATE TABLE shared_idx_position (LIKE idx_position INCLUDING ALL);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// PostgreSQL type oids of the bound parameters (pg_type.h).
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;

bool starts_with(const char* s, const char* prefix) {
  return s != nullptr && std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Turns a failed command into an Error: a lost connection, a serialization failure (40001), a
// deadlock (40P01) or an exhausted server (class 53, 57P0x shutdown) is unavailable 503, which a
// client may retry; anything else is internal.
core::Error pg_error(PGconn* conn, const PGresult* res, const std::string& what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = res ? PQresultErrorMessage(res) : "";
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  std::string log = "postgres " + what + ": " + message;
  if (conn == nullptr || PQstatus(conn) == CONNECTION_BAD || starts_with(state, "08")) {
    return core::unavailable("The database is not reachable; retry the request.").with_log(log);
  }
  if (starts_with(state, "40001") || starts_with(state, "40P01") || starts_with(state, "55P03")) {
    return core::unavailable("The database is busy; retry the request.").with_log(log);
  }
  if (starts_with(state, "53") || starts_with(state, "57P0")) {
    return core::unavailable("The database is unavailable; retry the request.").with_log(log);
  }
  return core::internal(log);
}

// A float8 parameter as text: 17 significant digits round-trip every double.
std::string float8_text(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// The rows of one command; owns the PGresult.
class Rows {
 public:
  explicit Rows(PGresult* res) : res_(res, PQclear) {}
  int size() const { return PQntuples(res_.get()); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(res_.get(), row, col),
                       static_cast<size_t>(PQgetlength(res_.get(), row, col)));
  }
  int64_t int64(int row, int col) const {
    return std::strtoll(PQgetvalue(res_.get(), row, col), nullptr, 10);
  }
  bool boolean(int row, int col) const { return PQgetvalue(res_.get(), row, col)[0] == 't'; }
  PGresult* raw() const { return res_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> res_;
};

// One libpq connection and the statements prepared on it (named s0, s1, ... by first use).
class Connection {
 public:
  using Observer = std::function<void(const std::string&, const std::vector<std::string>&)>;

  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo,
                                                  Observer observer = {}) {
    auto conn = std::unique_ptr<Connection>(new Connection(PQconnectdb(conninfo.c_str())));
    conn->observer_ = std::move(observer);
    if (conn->pg_ == nullptr || PQstatus(conn->pg_) != CONNECTION_OK) {
      return core::unavailable("Cannot connect to the database.")
          .with_log(std::string("postgres connect: ") +
                    (conn->pg_ ? PQerrorMessage(conn->pg_) : "out of memory"));
    }
    // Quiet NOTICEs (e.g. "relation already exists, skipping") instead of printing them.
    PQsetNoticeProcessor(
        conn->pg_, [](void*, const char*) {}, nullptr);
    return conn;
  }
  ~Connection() { PQfinish(pg_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without parameters.
  Status exec(const char* sql) {
    PGresult* res = PQexec(pg_, sql);
    Rows holder(res);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(pg_, res, "exec");
    return {};
  }

  // Runs `sql` with `binds` as $1, $2, ... . `prepare`: the statement text is fixed (a store
  // statement), so it is prepared once per connection and reused; rendered searches are not.
  Result<Rows> query(const std::string& sql, const std::vector<Bind>& binds, bool prepare) {
    std::vector<Oid> types;
    std::vector<std::string> texts;
    types.reserve(binds.size());
    texts.reserve(binds.size());
    for (const Bind& b : binds) {
      if (const auto* v = std::get_if<int64_t>(&b)) {
        types.push_back(kInt8Oid);
        texts.push_back(std::to_string(*v));
      } else if (const auto* d = std::get_if<double>(&b)) {
        types.push_back(kFloat8Oid);
        texts.push_back(float8_text(*d));
      } else {
        types.push_back(kTextOid);
        texts.push_back(std::get<std::string>(b));
      }
    }
    if (observer_) observer_(sql, texts);
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const std::string& t : texts) {
      values.push_back(t.c_str());
      lengths.push_back(static_cast<int>(t.size()));
    }
    const int n = static_cast<int>(binds.size());
    PGresult* res = nullptr;
    if (prepare) {
      auto it = prepared_.find(sql);
      if (it == prepared_.end()) {
        std::string name = "s" + std::to_string(prepared_.size());
        Rows made(PQprepare(pg_, name.c_str(), sql.c_str(), n, types.data()));
        if (PQresultStatus(made.raw()) != PGRES_COMMAND_OK) {
          return pg_error(pg_, made.raw(), "prepare");
        }
        it = prepared_.emplace(sql, std::move(name)).first;
      }
      res = PQexecPrepared(pg_, it->second.c_str(), n, values.data(), lengths.data(), nullptr, 0);
    } else {
      res = PQexecParams(pg_, sql.c_str(), n, types.data(), values.data(), lengths.data(), nullptr,
                         0);
    }
    Rows rows(res);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(pg_, res, "query");
    return rows;
  }

  // Runs `sql` (a COPY ... FROM STDIN) with `data` in COPY's text format, sent in chunks.
  Status copy(const char* sql, const std::string& data) {
    Rows start(PQexec(pg_, sql));
    if (PQresultStatus(start.raw()) != PGRES_COPY_IN) return pg_error(pg_, start.raw(), "copy");
    constexpr size_t kChunk = 1 << 20;
    bool sent = true;
    for (size_t at = 0; at < data.size() && sent; at += kChunk) {
      size_t n = std::min(kChunk, data.size() - at);
      sent = PQputCopyData(pg_, data.data() + at, static_cast<int>(n)) == 1;
    }
    const char* abort_reason = sent ? nullptr : "client failed to send the data";
    if (PQputCopyEnd(pg_, abort_reason) != 1) return pg_error(pg_, nullptr, "copy end");
    Status st;
    // Every result of the command is read, so the connection is ready for the next one.
    while (PGresult* res = PQgetResult(pg_)) {
      Rows done(res);
      if (st.ok() && PQresultStatus(res) != PGRES_COMMAND_OK) st = pg_error(pg_, res, "copy");
    }
    if (st.ok() && !sent) return pg_error(pg_, nullptr, "copy data");
    return st;
  }

  // Whether the connection can go back to the pool: alive and outside any transaction.
  bool reusable() const {
    return PQstatus(pg_) == CONNECTION_OK && PQtransactionStatus(pg_) == PQTRANS_IDLE;
  }

 private:
  explicit Connection(PGconn* pg) : pg_(pg) {}
  PGconn* pg_;
  Observer observer_;
  std::unordered_map<std::string, std::string> prepared_;
};

// A bounded pool: at most `size` connections; callers beyond it wait for one to be returned.
// A connection that broke (or was left inside a transaction) is closed, not reused.
class Pool {
 public:
  Pool(std::string conninfo, int size, Connection::Observer observer = {})
      : conninfo_(std::move(conninfo)), size_(std::max(size, 1)), observer_(std::move(observer)) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;
    lock.unlock();
    auto c = Connection::open(conninfo_, observer_);
    if (!c.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return std::move(c).error();
    }
    return Lease(this, std::move(*c));
  }

 private:
  void release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->reusable()) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  const std::string conninfo_;
  const int size_;
  const Connection::Observer observer_;
  std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// Statement templates name a resource's tables with '@' ("@resource", "@idx_token"): in_set()
// makes the statement of the patient set (resource) or of the shared set (shared_resource).
std::string in_set(const char* tmpl, bool shared) {
  std::string out;
  for (const char* c = tmpl; *c != '\0'; ++c) {
    if (*c == '@') {
      if (shared) out += "shared_";
    } else {
      out.push_back(*c);
    }
  }
  return out;
}

constexpr const char* kReadCurrent =
    "SELECT v.version_id, v.last_updated, v.deleted, v.json, r.owner FROM @resource r "
    "JOIN @version v ON v.owner = r.owner AND v.seq = r.seq WHERE r.type = $1 AND r.id = $2";
// A read routed to one owner (read_for_patient): every table is filtered on the owner.
constexpr const char* kReadOwned =
    "SELECT v.version_id, v.last_updated, v.deleted, v.json, r.owner FROM @resource r "
    "JOIN @version v ON v.owner = $3 AND v.seq = r.seq WHERE r.owner = $3 AND r.type = $1 AND "
    "r.id = $2";
// The owner of a member of a patient's compartment (one shard: compartment is distributed by
// patient).
constexpr const char* kMemberOwner =
    "SELECT owner FROM compartment WHERE patient = $1 AND type = $2 AND id = $3";
// Whether a patient's compartment holds a resource of the type owned by someone else.
constexpr const char* kForeignMembers =
    "SELECT 1 FROM compartment WHERE patient = $1 AND type = $2 AND owner <> $1 LIMIT 1";
constexpr const char* kReadVersion =
    "SELECT version_id, last_updated, deleted, json FROM @version "
    "WHERE type = $1 AND id = $2 AND version_id = $3";
constexpr const char* kInsertVersion =
    "INSERT INTO @version(owner, type, id, version_id, last_updated, deleted, json) "
    "VALUES ($1, $2, $3, $4, $5, $6 <> 0, $7) RETURNING seq";
// The owner may change between versions, and a distribution column cannot be updated in place:
// the resource row is replaced, not upserted.
constexpr const char* kDeleteResource = "DELETE FROM @resource WHERE type = $1 AND id = $2";
constexpr const char* kInsertResource =
    "INSERT INTO @resource(owner, type, id, seq, last_updated, deleted) "
    "VALUES ($1, $2, $3, $4, $5, $6 <> 0)";
// Every table that holds rows derived from the current version, cleared before a write.
constexpr const char* kClearIndex[] = {
    "DELETE FROM @idx_token WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_string WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_date WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_ref WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_quantity WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_number WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_uri WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_composite WHERE type = $1 AND id = $2",
    "DELETE FROM @idx_position WHERE type = $1 AND id = $2",
};
// The membership rows of a resource (patient set only: shared types have none).
constexpr const char* kClearCompartment = "DELETE FROM compartment WHERE type = $1 AND id = $2";
constexpr const char* kInsertToken =
    "INSERT INTO @idx_token(owner, type, id, param, system, code, code_ci, text) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr const char* kInsertString =
    "INSERT INTO @idx_string(owner, type, id, param, norm, exact) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kInsertDate =
    "INSERT INTO @idx_date(owner, type, id, param, low, high) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kInsertRef =
    "INSERT INTO @idx_ref(owner, type, id, param, target_type, target_id, url) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr const char* kInsertQuantity =
    "INSERT INTO @idx_quantity(owner, type, id, param, system, code, low, high) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr const char* kInsertNumber =
    "INSERT INTO @idx_number(owner, type, id, param, low, high) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kInsertUri =
    "INSERT INTO @idx_uri(owner, type, id, param, uri) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kInsertComposite =
    "INSERT INTO @idx_composite(owner, type, id, param, system, code_ci, v_system, v_code, v_low, "
    "v_high, v_ilow, v_ihigh, v_text, v2_low, v2_high) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
constexpr const char* kInsertPosition =
    "INSERT INTO @idx_position(owner, type, id, param, lat, lon, x, y, z) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
constexpr const char* kInsertCompartment =
    "INSERT INTO compartment(patient, type, id, owner) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING";
// Secrets travel hex-encoded: every parameter and column here is text.
constexpr const char* kGetSecret = "SELECT encode(value, 'hex') FROM secret WHERE name = $1";
constexpr const char* kPutSecret =
    "INSERT INTO secret(name, value) VALUES ($1, decode($2, 'hex')) ON CONFLICT (name) DO NOTHING";
// From the patient's compartment outwards, so the cost is the size of one record, never the
// number of resources that reference a popular Practitioner. The membership row names the
// resource's owner, so the first join stays on one shard under Citus.
constexpr const char* kReferencedOneHop =
    "SELECT 1 FROM compartment c JOIN idx_ref x ON x.owner = c.owner AND x.type = c.type AND "
    "x.id = c.id WHERE c.patient = $1 AND x.target_type = $2 AND x.target_id = $3 LIMIT 1";
// The second hop through a shared intermediate (a PractitionerRole, an Organization): a join of
// the patient's rows with a reference table, local on the patient's node under Citus.
constexpr const char* kReferencedTwoHopsShared =
    "SELECT 1 FROM compartment c JOIN idx_ref x ON x.owner = c.owner AND x.type = c.type AND "
    "x.id = c.id JOIN shared_idx_ref y ON y.type = x.target_type AND y.id = x.target_id "
    "WHERE c.patient = $1 AND y.target_type = $2 AND y.target_id = $3 LIMIT 1";
// Through an intermediate in the patient set (an Encounter, a Binary; rare): exact, but the
// intermediate may belong to anyone, so not co-located.
constexpr const char* kReferencedTwoHops =
    "SELECT 1 FROM compartment c JOIN idx_ref x ON x.owner = c.owner AND x.type = c.type AND "
    "x.id = c.id JOIN idx_ref y ON y.type = x.target_type AND y.id = x.target_id "
    "WHERE c.patient = $1 AND y.target_type = $2 AND y.target_id = $3 LIMIT 1";
constexpr const char* kCompartmentsOf =
    "SELECT patient FROM compartment WHERE type = $1 AND id = $2 ORDER BY patient";
constexpr const char* kRefsOf =
    "SELECT target_type, target_id FROM @idx_ref WHERE type = $1 AND id = $2 AND "
    "($3 = '*' OR param = $3) AND target_id <> ''";
constexpr const char* kReferencing =
    "SELECT DISTINCT x.id FROM @idx_ref x JOIN @resource r ON r.owner = x.owner AND "
    "r.type = x.type AND r.id = x.id WHERE x.target_id = $1 AND x.target_type = $2 AND "
    "x.type = $3 AND ($4 = '*' OR x.param = $4) AND NOT r.deleted LIMIT $5";
// references_of for a source the search's patient owns (one shard): one row per reference, or
// one row of NULLs when it has none; no row when the patient does not own it.
constexpr const char* kRefsOfOwned =
    "SELECT x.target_type, x.target_id FROM resource r LEFT JOIN idx_ref x ON x.owner = $4 AND "
    "x.type = r.type AND x.id = r.id AND ($3 = '*' OR x.param = $3) AND x.target_id <> '' "
    "WHERE r.owner = $4 AND r.type = $1 AND r.id = $2";
// referencing() for a patient-bound caller: the members of the patient's compartment ($6).
// Routed when the patient owns every member of the source type (one shard: every table is
// filtered on $6 as the owner), else joined through the membership rows (every shard).
constexpr const char* kReferencingOwned =
    "SELECT DISTINCT x.id FROM idx_ref x JOIN resource r ON r.owner = $6 AND r.type = x.type AND "
    "r.id = x.id WHERE x.owner = $6 AND x.target_id = $1 AND x.target_type = $2 AND "
    "x.type = $3 AND ($4 = '*' OR x.param = $4) AND NOT r.deleted LIMIT $5";
constexpr const char* kReferencingMember =
    "SELECT DISTINCT x.id FROM idx_ref x JOIN resource r ON r.owner = x.owner AND "
    "r.type = x.type AND r.id = x.id JOIN compartment c ON c.patient = $6 AND c.type = x.type AND "
    "c.id = x.id AND c.owner = x.owner WHERE x.target_id = $1 AND x.target_type = $2 AND "
    "x.type = $3 AND ($4 = '*' OR x.param = $4) AND NOT r.deleted LIMIT $5";
// Every version of a resource lives with its current owner: a new owner takes the older
// versions along (a distribution column is never updated in place, so they are re-inserted).
constexpr const char* kMoveVersions =
    "WITH moved AS (DELETE FROM version WHERE type = $1 AND id = $2 AND owner <> $3 "
    "RETURNING seq, type, id, version_id, last_updated, deleted, json) "
    "INSERT INTO version(owner, seq, type, id, version_id, last_updated, deleted, json) "
    "SELECT $3, seq, type, id, version_id, last_updated, deleted, json FROM moved";
// Transaction-level advisory locks, released at COMMIT or ROLLBACK and shared by every node on
// the database: one per resource (its version sequence) and one per type for conditional creates
// (the search and the insert must not interleave with another conditional create).
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

// Lower-cases ASCII letters: token codes compare case-insensitively (FHIR R4 search.html#token).
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

struct Current {
  StoredResource resource;
  bool exists = false;
};

// The current version from a kReadCurrent or kReadOwned row (none: not existing).
Result<Current> current_from(Result<Rows> rows, const std::string& type, const std::string& id) {
  if (!rows.ok()) return std::move(rows).error();
  Current out;
  out.resource.resource_type = type;
  out.resource.id = id;
  if (rows->size() == 0) return out;
  out.exists = true;
  out.resource.version_id = rows->int64(0, 0);
  out.resource.last_updated = from_ms(rows->int64(0, 1));
  out.resource.deleted = rows->boolean(0, 2);
  out.resource.json = rows->text(0, 3);
  out.resource.owner_patient = rows->text(0, 4);
  return out;
}

// Which table set holds each resource type (PostgresOptions::shared_type).
class Layout {
 public:
  explicit Layout(internal::SharedType shared) : shared_(std::move(shared)) {}
  bool shared(const std::string& type) const { return shared_ && shared_(type); }
  // The statement `tmpl` on the tables of `type`'s set.
  std::string sql(const char* tmpl, const std::string& type) const {
    return in_set(tmpl, shared(type));
  }
  const internal::SharedType& predicate() const { return shared_; }

 private:
  internal::SharedType shared_;
};

Result<Current> read_current(Connection& conn, const Layout& layout, const std::string& type,
                             const std::string& id) {
  return current_from(conn.query(layout.sql(kReadCurrent, type), {type, id}, true), type, id);
}

Result<Current> read_owned(Connection& conn, const Layout& layout, const std::string& owner,
                           const std::string& type, const std::string& id) {
  return current_from(conn.query(layout.sql(kReadOwned, type), {type, id, owner}, true), type, id);
}

// Whether a plan may be routed to one patient's own rows: it is bound to the patient's
// compartment (or names the patient, SearchPlan::routing_patient) and the patient owns every
// member of the plan's type (render.h).
Result<bool> routable(Connection& conn, const SearchPlan& plan) {
  const std::optional<std::string>& patient =
      plan.compartment_patient ? plan.compartment_patient : plan.routing_patient;
  if (!patient) return false;
  auto rows = conn.query(kForeignMembers, {*patient, plan.resource_type}, true);
  if (!rows.ok()) return std::move(rows).error();
  return rows->size() == 0;
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

Result<std::vector<std::string>> find_ids(Connection& conn, const Layout& layout,
                                          const SearchPlan& plan) {
  auto routed = routable(conn, plan);
  if (!routed.ok()) return std::move(routed).error();
  internal::Sql sql = internal::render_ids(plan, *routed, layout.predicate());
  auto rows = conn.query(sql.text, sql.binds, false);
  if (!rows.ok()) return std::move(rows).error();
  std::vector<std::string> ids;
  for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->text(i, 0));
  return ids;
}

Result<SearchPage> search_on(Connection& conn, const Layout& layout, const SearchPlan& plan) {
  SearchPage page;
  auto routed = routable(conn, plan);
  if (!routed.ok()) return std::move(routed).error();
  internal::Sql sql = internal::render_page(plan, *routed, layout.predicate());
  auto rows = conn.query(sql.text, sql.binds, false);
  if (!rows.ok()) return std::move(rows).error();
  const int n = std::min(rows->size(), plan.count);
  // Sort values in their text form: integers as digits, float8 in PostgreSQL's shortest
  // round-trip form, text as is; render.cc parses them back by the key's type.
  std::vector<Keyset> keys;
  for (int i = 0; i < n; ++i) {
    StoredResource r;
    r.resource_type = plan.resource_type;
    r.id = rows->text(i, 0);
    r.version_id = rows->int64(i, 1);
    r.last_updated = from_ms(rows->int64(i, 2));
    r.json = rows->text(i, 3);
    Keyset k;
    for (size_t j = 0; j < plan.sort.size(); ++j) {
      k.values.push_back(rows->text(i, static_cast<int>(4 + j)));
    }
    k.id = r.id;
    keys.push_back(std::move(k));
    page.entries.push_back(std::move(r));
  }
  finish_page(plan, std::move(keys), rows->size() > plan.count, page);
  if (plan.want_total) {
    internal::Sql count = internal::render_count(plan, *routed, layout.predicate());
    auto total = conn.query(count.text, count.binds, false);
    if (!total.ok()) return std::move(total).error();
    page.total = total->int64(0, 0);
  }
  return page;
}

// Index and compartment tables in the order of their columns, for one INSERT per row (the normal
// path) or one COPY per table and transaction (bulk_copy). The COPY column lists match the
// INSERTs', so both paths store the same rows.
struct RowTable {
  const char* insert;
  const char* copy;
};
constexpr RowTable kRowTables[] = {
    {kInsertToken,
     "COPY @idx_token(owner, type, id, param, system, code, code_ci, text) FROM STDIN"},
    {kInsertString, "COPY @idx_string(owner, type, id, param, norm, exact) FROM STDIN"},
    {kInsertDate, "COPY @idx_date(owner, type, id, param, low, high) FROM STDIN"},
    {kInsertRef, "COPY @idx_ref(owner, type, id, param, target_type, target_id, url) FROM STDIN"},
    {kInsertQuantity,
     "COPY @idx_quantity(owner, type, id, param, system, code, low, high) FROM STDIN"},
    {kInsertNumber, "COPY @idx_number(owner, type, id, param, low, high) FROM STDIN"},
    {kInsertUri, "COPY @idx_uri(owner, type, id, param, uri) FROM STDIN"},
    {kInsertComposite,
     "COPY @idx_composite(owner, type, id, param, system, code_ci, v_system, v_code, v_low, "
     "v_high, v_ilow, v_ihigh, v_text, v2_low, v2_high) FROM STDIN"},
    {kInsertCompartment, "COPY compartment(patient, type, id, owner) FROM STDIN"},
    {kInsertPosition, "COPY @idx_position(owner, type, id, param, lat, lon, x, y, z) FROM STDIN"},
};
enum RowTableIndex : size_t {
  kTokenTable,
  kStringTable,
  kDateTable,
  kRefTable,
  kQuantityTable,
  kNumberTable,
  kUriTable,
  kCompositeTable,
  kCompartmentTable,
  kPositionTable,
};
constexpr size_t kRowTableCount = std::size(kRowTables);
constexpr const char* kCopyVersion =
    "COPY @version(owner, seq, type, id, version_id, last_updated, deleted, json) FROM STDIN";
constexpr const char* kCopyResource =
    "COPY @resource(owner, type, id, seq, last_updated, deleted) FROM STDIN";
constexpr const char* kNextSeqs = "SELECT nextval('version_seq') FROM generate_series(1, $1)";
// A bulk transaction sends its rows once they reach this size, and before COMMIT.
constexpr size_t kCopyFlushBytes = 16 << 20;

// Appends one field in COPY's text format (PostgreSQL COPY, "Text Format"): backslash, tab,
// newline and carriage return are escaped; every column here is NOT NULL, so \N never appears.
void append_copy_text(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
}

// One row: each bind as the text Connection::query would send for it.
void append_copy_row(std::string& out, const std::vector<Bind>& binds) {
  for (size_t i = 0; i < binds.size(); ++i) {
    if (i) out.push_back('\t');
    if (const auto* v = std::get_if<int64_t>(&binds[i])) {
      out += std::to_string(*v);
    } else if (const auto* d = std::get_if<double>(&binds[i])) {
      out += float8_text(*d);
    } else {
      append_copy_text(out, std::get<std::string>(binds[i]));
    }
  }
  out.push_back('\n');
}

class PostgresWriter final : public Writer {
 public:
  // `bulk`: the rows of creates and updates are kept and sent through COPY by flush() (before
  // COMMIT, or once they grow large); reads and searches first send what they could see.
  // `layout` picks each resource's table set (patient or shared).
  PostgresWriter(Connection& conn, const Layout& layout, core::Clock& clock, bool bulk)
      : conn_(conn), layout_(layout), clock_(clock), bulk_(bulk) {}

  Result<StoredResource> read(const std::string& type, const std::string& id) override {
    if (!bulk_) return current_or_error(read_current(conn_, layout_, type, id));
    // A bulk load reads a resource to write it next: lock it now, and let the write reuse the
    // read (nothing else can change it while the lock is held).
    auto cur = locked_current(type, id);
    if (cur.ok()) seen_[type + "/" + id] = *cur;
    return current_or_error(std::move(cur));
  }

  Result<std::vector<std::string>> find_matches(const SearchPlan& criteria) override {
    IPA_RETURN_IF_ERROR(flush());
    IPA_RETURN_IF_ERROR(lock("ipa:create:" + criteria.resource_type));
    SearchPlan plan = criteria;
    plan.count = 2;
    return find_ids(conn_, layout_, plan);
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
    auto cur = locked_current(w.resource_type, w.id);
    if (!cur.ok()) return std::move(cur).error();
    if (cur->exists) {
      return core::conflict("Resource " + w.resource_type + "/" + w.id + " already exists.");
    }
    return put(std::move(w), 1, true, false, false);
  }

  Result<WriteResult> update(Write w) override {
    auto cur = locked_current(w.resource_type, w.id);
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
    const std::string owner = layout_.shared(w.resource_type) ? "" : w.index.owner_patient;
    bool owner_changed = cur->exists && cur->resource.owner_patient != owner;
    return put(std::move(w), current_version + 1, created, cur->exists, owner_changed);
  }

  Result<WriteResult> remove(const std::string& type, const std::string& id,
                             std::optional<int64_t> if_match) override {
    IPA_RETURN_IF_ERROR(flush());
    auto cur = locked_current(type, id);
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
    // The deletion stays with the resource's last owner (its shard), unlike SQLite's "": the
    // owner of a deleted resource is never reported, so only locality differs.
    auto seq = insert_version(out, cur->resource.owner_patient);
    if (!seq.ok()) return std::move(seq).error();
    IPA_RETURN_IF_ERROR(clear_index(type, id));
    return WriteResult{std::move(out), false, false};
  }

  // Sends the kept rows of a bulk transaction: version numbers (seq) from the sequence in write
  // order, then one COPY per table. A no-op when nothing is kept.
  Status flush() {
    if (versions_.empty()) return {};
    auto seqs = conn_.query(kNextSeqs, {static_cast<int64_t>(versions_.size())}, true);
    if (!seqs.ok()) return std::move(seqs).error();
    if (seqs->size() != static_cast<int>(versions_.size())) {
      return core::internal("postgres copy: the sequence gave too few values");
    }
    std::vector<int64_t> seq(versions_.size());
    for (size_t i = 0; i < seq.size(); ++i) seq[i] = seqs->int64(static_cast<int>(i), 0);
    std::sort(seq.begin(), seq.end());
    // Per table set (0: patient, 1: shared); seq is one order over both.
    std::string version_rows[2];
    std::string resource_rows[2];
    for (size_t i = 0; i < versions_.size(); ++i) {
      const KeptVersion& v = versions_[i];
      const int64_t deleted = v.deleted ? 1 : 0;
      const int set = v.shared ? 1 : 0;
      append_copy_row(version_rows[set],
                      {v.owner, seq[i], v.type, v.id, v.version_id, v.last_updated,
                       std::string(deleted ? "t" : "f"), v.json});
      append_copy_row(resource_rows[set], {v.owner, v.type, v.id, seq[i], v.last_updated,
                                           std::string(deleted ? "t" : "f")});
    }
    versions_.clear();
    for (int set = 0; set < 2; ++set) {
      if (version_rows[set].empty()) continue;
      IPA_RETURN_IF_ERROR(conn_.copy(in_set(kCopyVersion, set == 1).c_str(), version_rows[set]));
      IPA_RETURN_IF_ERROR(conn_.copy(in_set(kCopyResource, set == 1).c_str(), resource_rows[set]));
    }
    for (int set = 0; set < 2; ++set) {
      for (size_t t = 0; t < kRowTableCount; ++t) {
        if (rows_[set][t].empty()) continue;
        IPA_RETURN_IF_ERROR(
            conn_.copy(in_set(kRowTables[t].copy, set == 1).c_str(), rows_[set][t]));
        rows_[set][t].clear();
      }
    }
    kept_bytes_ = 0;
    kept_keys_.clear();
    return {};
  }

 private:
  struct KeptVersion {
    bool shared = false;  // in the shared table set
    std::string owner;
    std::string type;
    std::string id;
    int64_t version_id = 0;
    int64_t last_updated = 0;
    bool deleted = false;
    std::string json;
  };

  Status lock(const std::string& key) {
    auto r = conn_.query(kLock, {key}, true);
    if (!r.ok()) return std::move(r).error();
    return {};
  }

  // Locks the resource for the rest of the transaction and reads its current version. Bulk: a
  // resource already locked is not locked again, a version this transaction read last (read())
  // is reused, and kept rows of the resource are sent first so the read sees them.
  Result<Current> locked_current(const std::string& type, const std::string& id) {
    if (!bulk_) {
      IPA_RETURN_IF_ERROR(lock("ipa:resource:" + type + "/" + id));
      return read_current(conn_, layout_, type, id);
    }
    std::string key = type + "/" + id;
    if (auto it = seen_.find(key); it != seen_.end()) {
      Current c = std::move(it->second);
      seen_.erase(it);
      return c;
    }
    if (kept_keys_.count(key) != 0) IPA_RETURN_IF_ERROR(flush());
    if (locked_.insert(key).second) IPA_RETURN_IF_ERROR(lock("ipa:resource:" + key));
    return read_current(conn_, layout_, type, id);
  }

  Status run(const std::string& sql, std::vector<Bind> binds) {
    auto r = conn_.query(sql, binds, true);
    if (!r.ok()) return std::move(r).error();
    return {};
  }

  // `existed`: the resource has rows (a resource row, and index rows unless deleted) to replace.
  // `owner_changed`: its versions so far carry another owner, and move to the new one.
  Result<WriteResult> put(Write w, int64_t version_id, bool created, bool existed,
                          bool owner_changed) {
    StoredResource out;
    out.resource_type = w.resource_type;
    out.id = w.id;
    out.version_id = version_id;
    out.last_updated = clock_.now();
    auto json = w.render(VersionStamp{out.version_id, out.last_updated});
    if (!json.ok()) return std::move(json).error();
    out.json = std::move(*json);
    // A shared type belongs to no patient: its rows carry no owner and no membership.
    const bool shared = layout_.shared(w.resource_type);
    if (shared) {
      w.index.owner_patient.clear();
      w.index.compartment_patients.clear();
    }
    if (owner_changed && !shared) {
      IPA_RETURN_IF_ERROR(
          run(kMoveVersions, {out.resource_type, out.id, std::string(w.index.owner_patient)}));
    }
    if (!bulk_) {
      auto seq = insert_version(out, w.index.owner_patient);
      if (!seq.ok()) return std::move(seq).error();
      IPA_RETURN_IF_ERROR(clear_index(out.resource_type, out.id));
      IPA_RETURN_IF_ERROR(write_index(out.resource_type, out.id, w.index));
      return WriteResult{std::move(out), created, false};
    }
    if (existed) {
      // The previous version's rows go now; the new ones travel with the batch.
      IPA_RETURN_IF_ERROR(
          run(layout_.sql(kDeleteResource, out.resource_type), {out.resource_type, out.id}));
      IPA_RETURN_IF_ERROR(clear_index(out.resource_type, out.id));
    }
    std::string key = out.resource_type + "/" + out.id;
    seen_.erase(key);
    kept_keys_.insert(key);
    kept_bytes_ += out.json.size();
    versions_.push_back(KeptVersion{shared, w.index.owner_patient, out.resource_type, out.id,
                                    out.version_id, to_ms(out.last_updated), false, out.json});
    IPA_RETURN_IF_ERROR(write_index(out.resource_type, out.id, w.index));
    if (kept_bytes_ >= kCopyFlushBytes) IPA_RETURN_IF_ERROR(flush());
    return WriteResult{std::move(out), created, false};
  }

  Status clear_index(const std::string& type, const std::string& id) {
    for (const char* sql : kClearIndex)
      IPA_RETURN_IF_ERROR(run(layout_.sql(sql, type), {type, id}));
    if (!layout_.shared(type)) IPA_RETURN_IF_ERROR(run(kClearCompartment, {type, id}));
    return {};
  }

  // One index or compartment row: inserted now, or kept for the batch's COPY.
  Status emit(size_t table, bool shared, std::vector<Bind> binds) {
    if (!bulk_) return run(in_set(kRowTables[table].insert, shared), std::move(binds));
    std::string& rows = rows_[shared ? 1 : 0][table];
    size_t before = rows.size();
    append_copy_row(rows, binds);
    kept_bytes_ += rows.size() - before;
    return {};
  }

  Status write_index(const std::string& type, const std::string& id, const IndexRows& x) {
    const std::string& o = x.owner_patient;
    const bool shared = layout_.shared(type);
    auto emit = [&](size_t table, std::vector<Bind> binds) {
      return this->emit(table, shared, std::move(binds));
    };
    for (const TokenRow& t : x.tokens) {
      IPA_RETURN_IF_ERROR(
          emit(kTokenTable, {o, type, id, t.param, t.system, t.code, ascii_lower(t.code), t.text}));
    }
    for (const StringRow& r : x.strings) {
      IPA_RETURN_IF_ERROR(emit(kStringTable, {o, type, id, r.param, r.normalized, r.exact}));
    }
    for (const DateRow& r : x.dates) {
      IPA_RETURN_IF_ERROR(emit(kDateTable, {o, type, id, r.param, r.low, r.high}));
    }
    for (const ReferenceRow& r : x.references) {
      IPA_RETURN_IF_ERROR(
          emit(kRefTable, {o, type, id, r.param, r.target_type, r.target_id, r.url}));
    }
    for (const QuantityRow& r : x.quantities) {
      IPA_RETURN_IF_ERROR(
          emit(kQuantityTable, {o, type, id, r.param, r.system, r.code, r.low, r.high}));
    }
    for (const NumberRow& r : x.numbers) {
      IPA_RETURN_IF_ERROR(emit(kNumberTable, {o, type, id, r.param, r.low, r.high}));
    }
    for (const UriRow& r : x.uris) {
      IPA_RETURN_IF_ERROR(emit(kUriTable, {o, type, id, r.param, r.uri}));
    }
    for (const CompositeRow& r : x.composites) {
      // Token codes compare case-insensitively; a quantity's unit code does not.
      std::string v_code = r.value_kind == IndexKind::kToken ? ascii_lower(r.v_code) : r.v_code;
      IPA_RETURN_IF_ERROR(
          emit(kCompositeTable,
               {o, type, id, r.param, r.system, ascii_lower(r.code), r.v_system, std::move(v_code),
                r.v_low, r.v_high, r.v_ilow, r.v_ihigh, r.v_text, r.v2_low, r.v2_high}));
    }
    for (const PositionRow& r : x.positions) {
      IPA_RETURN_IF_ERROR(
          emit(kPositionTable, {o, type, id, r.param, r.latitude, r.longitude, r.x, r.y, r.z}));
    }
    // A patient named twice gets one row (the INSERT's ON CONFLICT DO NOTHING; COPY has none).
    // The owner is always a member of its compartment: a routed search tests owner = patient
    // alone (render.cc), so the membership must hold even if a caller left it out.
    std::set<std::string> members;
    std::vector<std::string> patients = x.compartment_patients;
    if (!o.empty()) patients.push_back(o);
    for (const std::string& p : patients) {
      if (!members.insert(p).second) continue;
      IPA_RETURN_IF_ERROR(emit(kCompartmentTable, {p, type, id, o}));
    }
    return {};
  }

  Result<int64_t> insert_version(const StoredResource& r, const std::string& owner) {
    const int64_t deleted = r.deleted ? 1 : 0;
    auto rows = conn_.query(
        layout_.sql(kInsertVersion, r.resource_type),
        {owner, r.resource_type, r.id, r.version_id, to_ms(r.last_updated), deleted, r.json}, true);
    if (!rows.ok()) return std::move(rows).error();
    int64_t seq = rows->int64(0, 0);
    IPA_RETURN_IF_ERROR(
        run(layout_.sql(kDeleteResource, r.resource_type), {r.resource_type, r.id}));
    IPA_RETURN_IF_ERROR(run(layout_.sql(kInsertResource, r.resource_type),
                            {owner, r.resource_type, r.id, seq, to_ms(r.last_updated), deleted}));
    return seq;
  }

  Connection& conn_;
  const Layout& layout_;
  core::Clock& clock_;
  const bool bulk_;
  // Bulk state: the kept rows and the resources they belong to, the resources locked by this
  // transaction, and the last version read() saw of each (consumed by the next write).
  std::vector<KeptVersion> versions_;
  std::string rows_[2][kRowTableCount];  // [0: patient set, 1: shared set][table]
  size_t kept_bytes_ = 0;
  std::set<std::string> kept_keys_;
  std::set<std::string> locked_;
  std::unordered_map<std::string, Current> seen_;
};

class PostgresStore final : public ResourceStore {
 public:
  explicit PostgresStore(PostgresOptions options)
      : options_(std::move(options)),
        layout_(options_.shared_type),
        pool_(options_.conninfo, options_.pool_size, options_.statement_observer) {}

  Result<StoredResource> read(const std::string& type, const std::string& id) override {
    return with_conn(
        [&](Connection& c) { return current_or_error(read_current(c, layout_, type, id)); });
  }

  // The patient's own resource in one routed statement; else, through the membership row of the
  // patient's compartment (also one shard), the resource at its owner's; else the unowned one
  // (owner '', one shard too).
  Result<StoredResource> read_for_patient(const std::string& patient, const std::string& type,
                                          const std::string& id) override {
    return with_conn([&](Connection& c) -> Result<StoredResource> {
      auto own = read_owned(c, layout_, patient, type, id);
      if (!own.ok()) return std::move(own).error();
      if (own->exists) return current_or_error(std::move(own));
      auto member = c.query(kMemberOwner, {patient, type, id}, true);
      if (!member.ok()) return std::move(member).error();
      std::string owner;  // '' when the patient's compartment does not hold it
      if (member->size() == 1) owner = member->text(0, 0);
      if (owner != patient) {
        auto other = read_owned(c, layout_, owner, type, id);
        if (!other.ok()) return std::move(other).error();
        if (other->exists && !other->resource.deleted) return std::move(other->resource);
      }
      return core::not_found("Resource " + type + "/" + id + " is not known.");
    });
  }

  Result<StoredResource> vread(const std::string& type, const std::string& id,
                               int64_t version_id) override {
    return with_conn([&](Connection& c) { return vread_on(c, layout_, type, id, version_id); });
  }

  Result<HistoryPage> history(const HistoryQuery& q) override {
    return with_conn([&](Connection& c) { return history_on(c, layout_, q); });
  }

  Result<SearchPage> search(const SearchPlan& plan) override {
    return with_conn([&](Connection& c) { return search_on(c, layout_, plan); });
  }

  // With `patient`, a source in the patient set is looked up at the patient's first (one
  // shard); one the patient does not own (no row) is looked up by key, as without.
  Result<std::vector<ResourceKey>> references_of(const std::vector<ResourceKey>& sources,
                                                 const std::string& param,
                                                 const std::string& patient) override {
    return with_conn([&](Connection& c) -> Result<std::vector<ResourceKey>> {
      std::vector<ResourceKey> out;
      for (const ResourceKey& k : sources) {
        if (!patient.empty() && !layout_.shared(k.resource_type)) {
          auto owned = c.query(kRefsOfOwned, {k.resource_type, k.id, param, patient}, true);
          if (!owned.ok()) return std::move(owned).error();
          for (int i = 0; i < owned->size(); ++i) {
            if (PQgetisnull(owned->raw(), i, 1)) continue;  // owned, no reference
            out.push_back(ResourceKey{owned->text(i, 0), owned->text(i, 1)});
          }
          if (owned->size() > 0) continue;
        }
        auto rows =
            c.query(layout_.sql(kRefsOf, k.resource_type), {k.resource_type, k.id, param}, true);
        if (!rows.ok()) return std::move(rows).error();
        for (int i = 0; i < rows->size(); ++i) {
          out.push_back(ResourceKey{rows->text(i, 0), rows->text(i, 1)});
        }
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    });
  }

  // With `patient`, a resource in the patient set is read at the patient's first (one shard);
  // one the patient does not own is read by key, as without.
  Result<std::vector<StoredResource>> read_many(const std::vector<ResourceKey>& keys,
                                                const std::string& patient) override {
    return with_conn([&](Connection& c) -> Result<std::vector<StoredResource>> {
      std::vector<StoredResource> out;
      for (const ResourceKey& k : keys) {
        if (!patient.empty() && !layout_.shared(k.resource_type)) {
          auto own = read_owned(c, layout_, patient, k.resource_type, k.id);
          if (!own.ok()) return std::move(own).error();
          if (own->exists) {
            if (!own->resource.deleted) out.push_back(std::move(own->resource));
            continue;
          }
        }
        auto cur = read_current(c, layout_, k.resource_type, k.id);
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
    return with_conn([&](Connection& c) -> Result<std::vector<StoredResource>> {
      std::vector<StoredResource> out;
      // A shared type has no members: nothing is in a patient's compartment.
      if (!patient.empty() && layout_.shared(source_type)) return out;
      bool routed = false;
      if (!patient.empty()) {
        auto foreign = c.query(kForeignMembers, {patient, source_type}, true);
        if (!foreign.ok()) return std::move(foreign).error();
        routed = foreign->size() == 0;
      }
      const std::string sql = patient.empty() ? layout_.sql(kReferencing, source_type)
                              : routed        ? std::string(kReferencingOwned)
                                              : std::string(kReferencingMember);
      std::vector<std::string> ids;
      for (const ResourceKey& t : targets) {
        std::vector<Bind> binds = {t.id, t.resource_type, source_type, param, int64_t{limit}};
        if (!patient.empty()) binds.emplace_back(patient);
        auto rows = c.query(sql, binds, true);
        if (!rows.ok()) return std::move(rows).error();
        for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->text(i, 0));
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (const std::string& id : ids) {
        if (static_cast<int>(out.size()) >= limit) break;
        auto cur = routed ? read_owned(c, layout_, patient, source_type, id)
                          : read_current(c, layout_, source_type, id);
        if (!cur.ok()) return std::move(cur).error();
        if (cur->exists && !cur->resource.deleted) out.push_back(std::move(cur->resource));
      }
      return out;
    });
  }

  Result<bool> referenced_from_compartment(const std::string& patient,
                                           const ResourceKey& target) override {
    return with_conn([&](Connection& c) -> Result<bool> {
      for (const char* sql : {kReferencedOneHop, kReferencedTwoHopsShared, kReferencedTwoHops}) {
        auto rows = c.query(sql, {patient, target.resource_type, target.id}, true);
        if (!rows.ok()) return std::move(rows).error();
        if (rows->size() > 0) return true;
      }
      return false;
    });
  }

  Result<std::vector<std::string>> compartments_of(const std::string& type,
                                                   const std::string& id) override {
    return with_conn([&](Connection& c) -> Result<std::vector<std::string>> {
      auto rows = c.query(kCompartmentsOf, {type, id}, true);
      if (!rows.ok()) return std::move(rows).error();
      std::vector<std::string> out;
      for (int i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, 0));
      return out;
    });
  }

  Status transaction(const std::function<Status(Writer&)>& body) override {
    auto conn = pool_.acquire();
    if (!conn.ok()) return std::move(conn).error();
    Connection& c = **conn;
    IPA_RETURN_IF_ERROR(c.exec("BEGIN"));
    PostgresWriter w(c, layout_, *options_.clock, options_.bulk_copy);
    Status st = body(w);
    if (st.ok()) st = w.flush();
    if (st.ok()) {
      Status commit = c.exec("COMMIT");
      if (commit.ok()) return {};
      st = std::move(commit);
    }
    (void)c.exec("ROLLBACK");
    return st;
  }

  // Read once per process (storage/secret_memo.h): searches ask for the cursor key on every
  // request, and must not wait for a connection or the writer's lock to get it.
  Result<std::string> secret(const std::string& name, size_t bytes) override {
    return secrets_.get(name, [&] { return stored_secret(name, bytes); });
  }

  Result<std::string> stored_secret(const std::string& name, size_t bytes) {
    return with_conn([&](Connection& c) -> Result<std::string> {
      auto got = c.query(kGetSecret, {name}, true);
      if (!got.ok()) return std::move(got).error();
      if (got->size() == 1) return from_hex(got->text(0, 0));
      std::string value(bytes, '\0');
      size_t filled = 0;
      while (filled < bytes) {
        ssize_t n = getrandom(value.data() + filled, bytes - filled, 0);
        if (n <= 0) return core::internal("getrandom failed");
        filled += static_cast<size_t>(n);
      }
      // Two nodes may race here: ON CONFLICT DO NOTHING keeps the first, and both read it back.
      auto put = c.query(kPutSecret, {name, to_hex(value)}, true);
      if (!put.ok()) return std::move(put).error();
      auto again = c.query(kGetSecret, {name}, true);
      if (!again.ok()) return std::move(again).error();
      if (again->size() != 1) return core::internal("secret vanished");
      return from_hex(again->text(0, 0));
    });
  }

  Status ping() override {
    auto conn = pool_.acquire();
    if (!conn.ok()) return std::move(conn).error();
    return (*conn)->exec("SELECT 1");
  }

 private:
  template <typename Fn>
  auto with_conn(Fn fn) -> decltype(fn(std::declval<Connection&>())) {
    auto conn = pool_.acquire();
    if (!conn.ok()) return std::move(conn).error();
    return fn(**conn);
  }

  static Result<StoredResource> vread_on(Connection& conn, const Layout& layout,
                                         const std::string& type, const std::string& id,
                                         int64_t version_id) {
    auto rows = conn.query(layout.sql(kReadVersion, type), {type, id, version_id}, true);
    if (!rows.ok()) return std::move(rows).error();
    if (rows->size() == 0) {
      return core::not_found("Version " + std::to_string(version_id) + " of " + type + "/" + id +
                             " is not known.");
    }
    StoredResource r{type,
                     id,
                     rows->int64(0, 0),
                     from_ms(rows->int64(0, 1)),
                     rows->boolean(0, 2),
                     rows->text(0, 3)};
    if (r.deleted) {
      return core::gone("Version " + std::to_string(version_id) + " of " + type + "/" + id +
                        " is a deletion.");
    }
    return r;
  }

  static Result<HistoryPage> history_on(Connection& conn, const Layout& layout,
                                        const HistoryQuery& q) {
    // One statement text per shape, built from fixed fragments (never from input).
    std::string where = " WHERE true";
    std::vector<Bind> binds;
    auto param = [&](Bind b) {
      binds.push_back(std::move(b));
      return "$" + std::to_string(binds.size());
    };
    // An instance history with its owner known reads the owner's rows only (one shard); every
    // version lives with the current owner (kMoveVersions). Shared types have no owner.
    if (q.owner && !q.id.empty() && !layout.shared(q.resource_type)) {
      where += " AND owner = " + param(*q.owner);
    }
    if (!q.resource_type.empty()) where += " AND type = " + param(q.resource_type);
    if (!q.id.empty()) where += " AND id = " + param(q.id);
    if (q.since) where += " AND last_updated >= " + param(to_ms(*q.since));
    std::vector<Bind> count_binds = binds;
    std::string page_where = where;
    if (q.before_seq) page_where += " AND seq < " + param(*q.before_seq);
    const std::string limit = param(int64_t{q.count + 1});
    const std::string select =
        "SELECT seq, type, id, version_id, last_updated, deleted, json FROM ";
    std::string sql;
    std::string count_sql;
    if (!q.resource_type.empty()) {
      // A type's or a resource's history: the one set that holds the type.
      const std::string version = in_set("@version", layout.shared(q.resource_type));
      sql = select + version + page_where + " ORDER BY seq DESC LIMIT " + limit;
      count_sql = "SELECT count(*) FROM " + version + where;
    } else {
      // System history: both sets, one order by seq (one sequence); each branch stops at the
      // page size, so each walks its seq index backwards only as far as the page needs.
      sql = "(" + select + "version" + page_where + " ORDER BY seq DESC LIMIT " + limit +
            ") UNION ALL (" + select + "shared_version" + page_where + " ORDER BY seq DESC LIMIT " +
            limit + ") ORDER BY seq DESC LIMIT " + limit;
      count_sql = "SELECT (SELECT count(*) FROM version" + where +
                  ") + (SELECT count(*) FROM shared_version" + where + ")";
    }
    HistoryPage page;
    auto rows = conn.query(sql, binds, true);
    if (!rows.ok()) return std::move(rows).error();
    const int n = std::min(rows->size(), q.count);
    for (int i = 0; i < n; ++i) {
      page.entries.push_back(StoredResource{rows->text(i, 1), rows->text(i, 2), rows->int64(i, 3),
                                            from_ms(rows->int64(i, 4)), rows->boolean(i, 5),
                                            rows->text(i, 6)});
    }
    if (rows->size() > q.count) page.next_before_seq = n > 0 ? rows->int64(n - 1, 0) : 0;
    auto count = conn.query(count_sql, count_binds, true);
    if (!count.ok()) return std::move(count).error();
    page.total = count->int64(0, 0);
    return page;
  }

  PostgresOptions options_;
  Layout layout_;
  Pool pool_;
  SecretMemo secrets_;
};

// Applies the missing migrations in one transaction. The advisory lock makes nodes that start
// together migrate one after the other.
Status migrate(Connection& conn) {
  IPA_RETURN_IF_ERROR(conn.exec("BEGIN"));
  Status st = [&]() -> Status {
    IPA_RETURN_IF_ERROR(
        conn.exec("SELECT pg_advisory_xact_lock(hashtextextended('ipa:migrate', 0))"));
    IPA_RETURN_IF_ERROR(
        conn.exec("CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)"));
    auto rows = conn.query("SELECT coalesce(max(version), 0) FROM schema_version", {}, false);
    if (!rows.ok()) return std::move(rows).error();
    int version = static_cast<int>(rows->int64(0, 0));
    if (version > kSchemaVersion) {
      return core::internal("database schema version " + std::to_string(version) +
                            " is newer than this program's " + std::to_string(kSchemaVersion));
    }
    for (int v = version; v < kSchemaVersion; ++v) IPA_RETURN_IF_ERROR(conn.exec(kMigrations[v]));
    if (version == kSchemaVersion) return {};
    IPA_RETURN_IF_ERROR(conn.exec("DELETE FROM schema_version"));
    auto set = conn.query("INSERT INTO schema_version(version) VALUES ($1)",
                          {int64_t{kSchemaVersion}}, false);
    if (!set.ok()) return std::move(set).error();
    return {};
  }();
  if (!st.ok()) {
    (void)conn.exec("ROLLBACK");
    return st;
  }
  return conn.exec("COMMIT");
}

// The tables of one resource set, with their columns (the same in both sets); `owner` first.
struct SetTable {
  const char* name;
  const char* columns;  // after owner
};
constexpr SetTable kSetTables[] = {
    {"version", "seq, type, id, version_id, last_updated, deleted, json"},
    {"resource", "type, id, seq, last_updated, deleted"},
    {"idx_token", "type, id, param, system, code, code_ci, text"},
    {"idx_string", "type, id, param, norm, exact"},
    {"idx_date", "type, id, param, low, high"},
    {"idx_ref", "type, id, param, target_type, target_id, url"},
    {"idx_quantity", "type, id, param, system, code, low, high"},
    {"idx_number", "type, id, param, low, high"},
    {"idx_uri", "type, id, param, uri"},
    {"idx_composite",
     "type, id, param, system, code_ci, v_system, v_code, v_low, v_high, v_ilow, v_ihigh, v_text, "
     "v2_low, v2_high"},
    {"idx_position", "type, id, param, lat, lon, x, y, z"},
};

// The distinct types of a resource table, one index probe per type (a loose index scan on the
// primary key), so a start-up on a large store costs a few probes, not a scan.
constexpr const char* kPatientSetOwnerlessTypes = R"sql(
WITH RECURSIVE t(type) AS (
  (SELECT type FROM resource WHERE owner = '' ORDER BY type LIMIT 1)
  UNION ALL
  SELECT (SELECT r.type FROM resource r WHERE r.owner = '' AND r.type > t.type
          ORDER BY r.type LIMIT 1) FROM t WHERE t.type IS NOT NULL)
SELECT type FROM t WHERE type IS NOT NULL)sql";
constexpr const char* kSharedSetTypes = R"sql(
WITH RECURSIVE t(type) AS (
  (SELECT type FROM shared_resource ORDER BY type LIMIT 1)
  UNION ALL
  SELECT (SELECT r.type FROM shared_resource r WHERE r.type > t.type ORDER BY r.type LIMIT 1)
  FROM t WHERE t.type IS NOT NULL)
SELECT type FROM t WHERE type IS NOT NULL)sql";

// Moves every row of `type` from one set to the other (owner '' in both: a type outside the
// patient compartment has no owner).
Status move_type(Connection& conn, const std::string& type, bool to_shared) {
  for (const SetTable& t : kSetTables) {
    const std::string from = std::string(to_shared ? "" : "shared_") + t.name;
    const std::string to = std::string(to_shared ? "shared_" : "") + t.name;
    auto moved = conn.query("INSERT INTO " + to + "(owner, " + t.columns + ") SELECT '', " +
                                t.columns + " FROM " + from + " WHERE type = $1",
                            {type}, false);
    if (!moved.ok()) return std::move(moved).error();
    auto gone = conn.query("DELETE FROM " + from + " WHERE type = $1", {type}, false);
    if (!gone.ok()) return std::move(gone).error();
  }
  if (to_shared) {
    // A shared type has no members (a stale row would only cost a multi-shard delete later).
    auto gone = conn.query("DELETE FROM compartment WHERE type = $1", {type}, false);
    if (!gone.ok()) return std::move(gone).error();
  }
  return {};
}

// Puts each stored type in the set `layout` names: rows of a store written before migration 5
// (or with another predicate) move once, in one transaction, under the migration lock. A new
// store, or one already in place, costs the two loose index scans.
Status move_types(Connection& conn, const Layout& layout) {
  IPA_RETURN_IF_ERROR(conn.exec("BEGIN"));
  Status st = [&]() -> Status {
    IPA_RETURN_IF_ERROR(
        conn.exec("SELECT pg_advisory_xact_lock(hashtextextended('ipa:migrate', 0))"));
    for (bool to_shared : {true, false}) {
      auto types = conn.query(to_shared ? kPatientSetOwnerlessTypes : kSharedSetTypes, {}, false);
      if (!types.ok()) return std::move(types).error();
      for (int i = 0; i < types->size(); ++i) {
        const std::string type = types->text(i, 0);
        if (layout.shared(type) == to_shared) IPA_RETURN_IF_ERROR(move_type(conn, type, to_shared));
      }
    }
    return {};
  }();
  if (!st.ok()) {
    (void)conn.exec("ROLLBACK");
    return st;
  }
  return conn.exec("COMMIT");
}

}  // namespace

Result<std::string> explain_search(const std::string& conninfo, const SearchPlan& plan,
                                   const std::function<bool(const std::string&)>& shared_type) {
  auto conn = Connection::open(conninfo);
  if (!conn.ok()) return std::move(conn).error();
  IPA_RETURN_IF_ERROR((*conn)->exec("SET enable_seqscan = off"));
  auto routed = routable(**conn, plan);
  if (!routed.ok()) return std::move(routed).error();
  internal::Sql sql = internal::render_page(plan, *routed, shared_type);
  auto rows = (*conn)->query("EXPLAIN (FORMAT JSON) " + sql.text, sql.binds, false);
  if (!rows.ok()) return std::move(rows).error();
  std::string out;
  for (int i = 0; i < rows->size(); ++i) out += rows->text(i, 0);
  return out;
}

Result<std::unique_ptr<ResourceStore>> open_postgres_store(const PostgresOptions& options) {
  auto conn = Connection::open(options.conninfo);
  if (!conn.ok()) return std::move(conn).error();
  IPA_RETURN_IF_ERROR(migrate(**conn));
  IPA_RETURN_IF_ERROR(move_types(**conn, Layout(options.shared_type)));
  return std::unique_ptr<ResourceStore>(new PostgresStore(options));
}

}  // namespace ipa::storage::postgres
