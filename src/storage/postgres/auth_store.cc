#include "storage/postgres/auth_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ipa::storage::postgres {
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

// A failed transaction that PostgreSQL rolled back on its own and that may simply be run again:
// serialization_failure, deadlock_detected.
bool is_retryable(std::string_view sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

// Failures of the server rather than of the request: retryable ones (after our own retries),
// connection exceptions (class 08), shutdowns (57P01-57P03), too_many_connections,
// lock_not_available (lock_timeout) and query_canceled (statement_timeout).
bool is_unavailable(std::string_view sqlstate) {
  return is_retryable(sqlstate) || sqlstate.starts_with("08") || sqlstate == "57P01" ||
         sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300" || sqlstate == "55P03" ||
         sqlstate == "57014";
}

core::Error unavailable(std::string log_detail) {
  return core::unavailable("The authorization database is unavailable; retry the request.")
      .with_log(std::move(log_detail));
}

// Owns one PGresult; reads text-format values by (row, column) from 0.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(PgResult&& other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
  PgResult& operator=(PgResult&& other) noexcept {
    std::swap(r_, other.r_);
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const { return PQntuples(r_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  int64_t integer(int row, int col) const { return parse_int(PQgetvalue(r_, row, col)); }
  core::TimePoint time(int row, int col) const { return from_ms(integer(row, col)); }
  bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t affected() const { return parse_int(PQcmdTuples(r_)); }

 private:
  static int64_t parse_int(std::string_view s) {
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  PGresult* r_;
};

// Positional text parameters $1, $2, ... in the order added.
class Params {
 public:
  Params& add(std::string_view v) {
    if (v.find('\0') != std::string_view::npos) has_nul_ = true;
    values_.emplace_back(v);
    nulls_.push_back(false);
    return *this;
  }
  Params& add(const std::string& v) { return add(std::string_view(v)); }
  Params& add(const char* v) { return add(std::string_view(v)); }
  Params& add(int64_t v) { return add(std::to_string(v)); }
  Params& add(bool v) { return add(v ? "true" : "false"); }
  Params& add(core::TimePoint t) { return add(to_ms(t)); }
  Params& add_null() {
    values_.emplace_back();
    nulls_.push_back(true);
    return *this;
  }

  // libpq takes text parameters as C strings: a NUL would silently cut the value short.
  bool has_nul() const { return has_nul_; }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) {
      out.push_back(nulls_[i] ? nullptr : values_[i].c_str());
    }
    return out;
  }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  bool has_nul_ = false;
};

// Owns one libpq connection and the statements prepared on it (prepared once, by SQL text).
class Conn {
 public:
  explicit Conn(PGconn* c) : c_(c) {}
  ~Conn() { PQfinish(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  PGconn* get() const { return c_; }
  // True when the connection cannot be used again: lost, or left inside a transaction.
  bool unusable() const {
    return PQstatus(c_) != CONNECTION_OK || PQtransactionStatus(c_) != PQTRANS_IDLE;
  }
  // The SQLSTATE of the last failed command, or empty when the last command succeeded.
  const std::string& last_state() const { return last_state_; }

  // Runs `sql` with `params` as a prepared statement. A unique_violation becomes `on_unique`
  // when given.
  Result<PgResult> exec(const char* sql, const Params& params = {},
                        std::optional<core::Error> on_unique = std::nullopt) {
    if (params.has_nul()) {
      return core::bad_request(core::IssueType::kValue, "A text value contains a NUL character.");
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "ipa_auth_" + std::to_string(prepared_.size());
      auto prepared = check(PQprepare(c_, name.c_str(), sql, 0, nullptr), "prepare", std::nullopt);
      IPA_RETURN_IF_ERROR(prepared);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values = params.pointers();
    return check(
        PQexecPrepared(c_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0),
        sql, std::move(on_unique));
  }

  // Runs one or more commands without parameters (transaction control, migrations).
  Status exec_simple(const char* sql) {
    auto r = check(PQexec(c_, sql), sql, std::nullopt);
    IPA_RETURN_IF_ERROR(r);
    return {};
  }

 private:
  Result<PgResult> check(PGresult* raw, std::string_view what,
                         std::optional<core::Error> on_unique) {
    PgResult r(raw);
    last_state_.clear();
    ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* state = raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    last_state_ = state == nullptr ? "" : state;
    if (last_state_ == "23505" && on_unique) return std::move(on_unique).value();
    std::string detail = "auth store: " + std::string(what) + ": " +
                         (raw == nullptr ? PQerrorMessage(c_) : PQresultErrorMessage(raw));
    if (is_unavailable(last_state_) || PQstatus(c_) != CONNECTION_OK) {
      return unavailable(std::move(detail));
    }
    return core::internal(std::move(detail));
  }

  PGconn* c_;
  std::string last_state_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// A bounded pool of connections, opened on demand. A connection found lost is closed together
// with the idle ones (a lost connection usually means a restarted server), so the next request
// connects afresh instead of failing once per stale connection.
class Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->release(std::move(conn_));
    }
    Conn& conn() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  Pool(std::string conninfo, std::string session_setup, int size)
      : conninfo_(std::move(conninfo)), session_setup_(std::move(session_setup)), size_(size) {}

  // Returns an idle connection, or a new one while fewer than `size` are open. Errors:
  // unavailable 503 when the server cannot be reached or no connection frees up in time.
  Result<Lease> acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10),
                      [&] { return !idle_.empty() || open_ < size_; })) {
      return unavailable("auth store: no pooled connection became free within 10 s");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;
    lock.unlock();
    auto c = connect();
    if (!c.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return std::move(c).error();
    }
    return Lease(this, std::move(c).value());
  }

 private:
  Result<std::unique_ptr<Conn>> connect() {
    auto c = std::make_unique<Conn>(PQconnectdb(conninfo_.c_str()));
    if (c->get() == nullptr || PQstatus(c->get()) != CONNECTION_OK) {
      return unavailable(std::string("auth store: connect: ") +
                         (c->get() == nullptr ? "out of memory" : PQerrorMessage(c->get())));
    }
    // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
    PQsetNoticeProcessor(
        c->get(), [](void*, const char*) {}, nullptr);
    if (PQsetClientEncoding(c->get(), "UTF8") != 0) {
      return unavailable(std::string("auth store: set client encoding: ") +
                         PQerrorMessage(c->get()));
    }
    IPA_RETURN_IF_ERROR(c->exec_simple(session_setup_.c_str()));
    return c;
  }

  void release(std::unique_ptr<Conn> c) {
    std::vector<std::unique_ptr<Conn>> closing;  // closed outside the lock
    {
      std::lock_guard lock(mu_);
      if (c->unusable()) {
        closing.push_back(std::move(c));
        if (PQstatus(closing.back()->get()) != CONNECTION_OK) {
          for (auto& idle : idle_) closing.push_back(std::move(idle));
          idle_.clear();
        }
        open_ -= static_cast<int>(closing.size());
      } else {
        idle_.push_back(std::move(c));
      }
    }
    cv_.notify_all();
  }

  const std::string conninfo_;
  const std::string session_setup_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;  // idle plus leased
};

constexpr int kAuthSchemaVersion = 4;
constexpr int kMaxAttempts = 4;
// Serializes migrations of concurrent openers (any schema of the database); an arbitrary key.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7301505219334475841)";

// Entry i brings the auth schema from version i to i + 1. Times are Unix milliseconds, as in
// the SQLite back end.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE auth_client(
  client_id TEXT PRIMARY KEY, name TEXT NOT NULL, type INTEGER NOT NULL, scope TEXT NOT NULL,
  jwks TEXT NOT NULL, jwks_uri TEXT NOT NULL, secret_hash TEXT NOT NULL,
  auth_method TEXT NOT NULL, registration TEXT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE auth_client_redirect_uri(
  client_id TEXT NOT NULL REFERENCES auth_client(client_id) ON DELETE CASCADE,
  pos INTEGER NOT NULL, uri TEXT NOT NULL, PRIMARY KEY(client_id, pos));
CREATE TABLE auth_user(
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
  fhir_user TEXT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE auth_user_patient(
  username TEXT NOT NULL REFERENCES auth_user(username) ON DELETE CASCADE,
  pos INTEGER NOT NULL, patient TEXT NOT NULL, PRIMARY KEY(username, pos));
CREATE TABLE auth_request(
  id TEXT PRIMARY KEY, session_id_hash TEXT NOT NULL, client_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL, aud TEXT NOT NULL,
  code_challenge TEXT NOT NULL, code_challenge_method TEXT NOT NULL, nonce TEXT NOT NULL,
  launch TEXT NOT NULL, patient TEXT NOT NULL, created BIGINT NOT NULL,
  expires BIGINT NOT NULL);
CREATE INDEX auth_request_by_session ON auth_request(session_id_hash);
CREATE INDEX auth_request_by_expiry ON auth_request(expires);
CREATE TABLE auth_session(
  id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
  created BIGINT NOT NULL, expires BIGINT NOT NULL);
CREATE INDEX auth_session_by_expiry ON auth_session(expires);
CREATE TABLE auth_grant(
  id TEXT PRIMARY KEY, client_id TEXT NOT NULL, username TEXT NOT NULL, patient TEXT NOT NULL,
  scope TEXT NOT NULL, aud TEXT NOT NULL, created BIGINT NOT NULL, revoked BOOLEAN NOT NULL);
CREATE INDEX auth_grant_by_user ON auth_grant(username, created);
CREATE TABLE auth_code(
  code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL, grant_id TEXT NOT NULL, nonce TEXT NOT NULL,
  created BIGINT NOT NULL, expires BIGINT NOT NULL, used BOOLEAN NOT NULL);
CREATE INDEX auth_code_by_grant ON auth_code(grant_id);
CREATE INDEX auth_code_by_expiry ON auth_code(expires);
CREATE TABLE auth_refresh_token(
  token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
  scope TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL,
  used BOOLEAN NOT NULL);
CREATE INDEX auth_refresh_token_by_grant ON auth_refresh_token(grant_id);
CREATE INDEX auth_refresh_token_by_expiry ON auth_refresh_token(expires);
CREATE TABLE auth_jti(
  client_id TEXT NOT NULL, jti TEXT NOT NULL, expires BIGINT NOT NULL,
  PRIMARY KEY(client_id, jti));
CREATE INDEX auth_jti_by_expiry ON auth_jti(expires);
CREATE TABLE auth_signing_key(
  kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_jwk TEXT NOT NULL, created BIGINT NOT NULL,
  retired BIGINT);
CREATE TABLE auth_throttle(
  key TEXT PRIMARY KEY, count BIGINT NOT NULL, window_start BIGINT NOT NULL,
  window_end BIGINT NOT NULL);
CREATE INDEX auth_throttle_by_window_end ON auth_throttle(window_end);
CREATE TABLE auth_audit(
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time BIGINT NOT NULL, type TEXT NOT NULL,
  client_id TEXT NOT NULL, username TEXT NOT NULL, patient TEXT NOT NULL, outcome TEXT NOT NULL,
  detail TEXT NOT NULL);
)sql",
    // 2: FHIR interactions in the audit trail, read back per patient (AuditEvent?patient=).
    R"sql(
ALTER TABLE auth_audit ADD COLUMN resource_type TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_audit ADD COLUMN resource_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_audit ADD COLUMN status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE auth_audit ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX auth_audit_by_patient ON auth_audit(patient, seq);
)sql",
    // 3: several reads folded into one event (audit/audit_log.h): how many requests it stands
    // for, and the time of the last one (0: only one).
    R"sql(
ALTER TABLE auth_audit ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE auth_audit ADD COLUMN last_time BIGINT NOT NULL DEFAULT 0;
)sql",
    // 4: when a retired signing key's last token has expired, so the purge deletes it. Keys
    // retired before get 24 h (auth::TokenConfig's default retention, the longest in use).
    R"sql(
ALTER TABLE auth_signing_key ADD COLUMN expires BIGINT;
UPDATE auth_signing_key SET expires = retired + 86400000 WHERE retired IS NOT NULL;
CREATE INDEX auth_signing_key_by_expiry ON auth_signing_key(expires);
)sql",
};
static_assert(std::size(kMigrations) == kAuthSchemaVersion);

constexpr const char* kAuditColumns =
    "seq, time, type, client_id, username, patient, outcome, detail, resource_type, resource_id, "
    "status, node, count, last_time";

AuditEvent audit_row(const PgResult& r, int i) {
  AuditEvent e;
  e.id = r.integer(i, 0);
  e.time = r.time(i, 1);
  e.type = r.text(i, 2);
  e.client_id = r.text(i, 3);
  e.username = r.text(i, 4);
  e.patient = r.text(i, 5);
  e.outcome = r.text(i, 6);
  e.detail = r.text(i, 7);
  e.resource_type = r.text(i, 8);
  e.resource_id = r.text(i, 9);
  e.status = static_cast<int>(r.integer(i, 10));
  e.node = r.text(i, 11);
  e.count = r.integer(i, 12);
  e.last_time = r.integer(i, 13) == 0 ? e.time : r.time(i, 13);
  return e;
}

class PostgresAuthStore final : public AuthStore {
 public:
  PostgresAuthStore(std::unique_ptr<Pool> pool, std::shared_ptr<core::Clock> clock,
                    std::string schema)
      : pool_(std::move(pool)), clock_(std::move(clock)), schema_(std::move(schema)) {}

  Status migrate() {
    return in_txn([&](Conn& c) -> Status {
      IPA_RETURN_IF_ERROR(c.exec(kMigrationLock));
      if (!schema_.empty()) {
        auto found = c.exec("SELECT 1 FROM pg_namespace WHERE nspname = $1", Params().add(schema_));
        IPA_RETURN_IF_ERROR(found);
        if (found->rows() == 0) {
          IPA_RETURN_IF_ERROR(c.exec_simple(("CREATE SCHEMA \"" + schema_ + "\"").c_str()));
        }
      }
      IPA_RETURN_IF_ERROR(c.exec_simple(
          "CREATE TABLE IF NOT EXISTS auth_schema_version(version INTEGER NOT NULL)"));
      auto row = c.exec("SELECT version FROM auth_schema_version");
      IPA_RETURN_IF_ERROR(row);
      int64_t version = 0;
      if (row->rows() > 0) {
        version = row->integer(0, 0);
      } else {
        IPA_RETURN_IF_ERROR(c.exec("INSERT INTO auth_schema_version(version) VALUES(0)"));
      }
      if (version > kAuthSchemaVersion) {
        return core::internal("auth schema version " + std::to_string(version) +
                              " is newer than this program (" + std::to_string(kAuthSchemaVersion) +
                              ")");
      }
      for (int64_t v = version; v < kAuthSchemaVersion; ++v) {
        IPA_RETURN_IF_ERROR(c.exec_simple(kMigrations[v]));
      }
      IPA_RETURN_IF_ERROR(c.exec("UPDATE auth_schema_version SET version = $1",
                                 Params().add(int64_t{kAuthSchemaVersion})));
      return {};
    });
  }

  // ---- clients ----

  Status create_client(const Client& cl) override {
    return in_txn([&](Conn& c) -> Status {
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_client(client_id, name, type, scope, jwks, "
                 "jwks_uri, secret_hash, auth_method, registration, created) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                 client_params(cl), core::conflict("A client with this client_id exists.")));
      return write_redirect_uris(c, cl);
    });
  }

  Result<Client> get_client(const std::string& client_id) override {
    return once([&](Conn& c) -> Result<Client> {
      auto rows = c.exec(
          "SELECT c.client_id, c.name, c.type, c.scope, c.jwks, c.jwks_uri, c.secret_hash, "
          "c.auth_method, "
          "c.registration, c.created, r.uri "
          "FROM auth_client c LEFT JOIN auth_client_redirect_uri r ON r.client_id = c.client_id "
          "WHERE c.client_id = $1 ORDER BY r.pos",
          Params().add(client_id));
      IPA_RETURN_IF_ERROR(rows);
      std::vector<Client> clients = read_clients(*rows);
      if (clients.empty()) return core::not_found("Unknown client.");
      return std::move(clients.front());
    });
  }

  Status update_client(const Client& cl) override {
    return in_txn([&](Conn& c) -> Status {
      auto upd = c.exec(
          "UPDATE auth_client SET name = $2, type = $3, scope = $4, jwks = $5, jwks_uri = $6, "
          "secret_hash = $7, auth_method = $8, registration = $9, created = $10 "
          "WHERE client_id = $1",
          client_params(cl));
      IPA_RETURN_IF_ERROR(upd);
      if (upd->affected() == 0) return core::not_found("Unknown client.");
      IPA_RETURN_IF_ERROR(c.exec("DELETE FROM auth_client_redirect_uri WHERE client_id = $1",
                                 Params().add(cl.client_id)));
      return write_redirect_uris(c, cl);
    });
  }

  Status delete_client(const std::string& client_id) override {
    return once([&](Conn& c) -> Status {
      auto del = c.exec("DELETE FROM auth_client WHERE client_id = $1", Params().add(client_id));
      IPA_RETURN_IF_ERROR(del);
      if (del->affected() == 0) return core::not_found("Unknown client.");
      return {};
    });
  }

  Result<std::vector<Client>> list_clients() override {
    return once([&](Conn& c) -> Result<std::vector<Client>> {
      auto rows = c.exec(
          "SELECT c.client_id, c.name, c.type, c.scope, c.jwks, c.jwks_uri, c.secret_hash, "
          "c.auth_method, "
          "c.registration, c.created, r.uri "
          "FROM auth_client c LEFT JOIN auth_client_redirect_uri r ON r.client_id = c.client_id "
          "ORDER BY c.client_id, r.pos");
      IPA_RETURN_IF_ERROR(rows);
      return read_clients(*rows);
    });
  }

  // ---- users ----

  Status create_user(const User& u) override {
    return in_txn([&](Conn& c) -> Status {
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_user(username, password_hash, display_name, fhir_user, created) "
                 "VALUES($1, $2, $3, $4, $5)",
                 Params()
                     .add(u.username)
                     .add(u.password_hash)
                     .add(u.display_name)
                     .add(u.fhir_user)
                     .add(u.created),
                 core::conflict("A user with this username exists.")));
      return write_patients(c, u.username, u.patients);
    });
  }

  Result<User> get_user(const std::string& username) override {
    return once([&](Conn& c) -> Result<User> {
      // One statement, so the user and the patient list come from one snapshot.
      auto rows = c.exec(
          "SELECT u.username, u.password_hash, u.display_name, u.fhir_user, u.created, p.patient "
          "FROM auth_user u LEFT JOIN auth_user_patient p ON p.username = u.username "
          "WHERE u.username = $1 ORDER BY p.pos",
          Params().add(username));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown user.");
      User u;
      u.username = rows->text(0, 0);
      u.password_hash = rows->text(0, 1);
      u.display_name = rows->text(0, 2);
      u.fhir_user = rows->text(0, 3);
      u.created = rows->time(0, 4);
      for (int i = 0; i < rows->rows(); ++i) {
        if (!rows->is_null(i, 5)) u.patients.push_back(rows->text(i, 5));
      }
      return u;
    });
  }

  Status set_user_patients(const std::string& username,
                           const std::vector<std::string>& patients) override {
    return in_txn([&](Conn& c) -> Status {
      // The row lock orders concurrent replacements of the same list.
      auto user =
          c.exec("SELECT 1 FROM auth_user WHERE username = $1 FOR UPDATE", Params().add(username));
      IPA_RETURN_IF_ERROR(user);
      if (user->rows() == 0) return core::not_found("Unknown user.");
      IPA_RETURN_IF_ERROR(
          c.exec("DELETE FROM auth_user_patient WHERE username = $1", Params().add(username)));
      return write_patients(c, username, patients);
    });
  }

  Status set_user_password(const std::string& username, const std::string& hash) override {
    return once([&](Conn& c) -> Status {
      auto upd = c.exec("UPDATE auth_user SET password_hash = $2 WHERE username = $1",
                        Params().add(username).add(hash));
      IPA_RETURN_IF_ERROR(upd);
      if (upd->affected() == 0) return core::not_found("Unknown user.");
      return {};
    });
  }

  // ---- authorization requests ----

  Status save_authorization_request(const AuthorizationRequest& r) override {
    return once([&](Conn& c) -> Status {
      Params p;
      p.add(r.id).add(r.session_id_hash).add(r.client_id).add(r.redirect_uri).add(r.scope);
      p.add(r.state).add(r.aud).add(r.code_challenge).add(r.code_challenge_method).add(r.nonce);
      p.add(r.launch).add(r.patient).add(r.created).add(r.expires);
      auto st = c.exec(
          "INSERT INTO auth_request(id, session_id_hash, client_id, redirect_uri, scope, state, "
          "aud, code_challenge, code_challenge_method, nonce, launch, patient, created, expires) "
          "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
          "ON CONFLICT(id) DO UPDATE SET session_id_hash = EXCLUDED.session_id_hash, "
          "client_id = EXCLUDED.client_id, redirect_uri = EXCLUDED.redirect_uri, "
          "scope = EXCLUDED.scope, state = EXCLUDED.state, aud = EXCLUDED.aud, "
          "code_challenge = EXCLUDED.code_challenge, "
          "code_challenge_method = EXCLUDED.code_challenge_method, nonce = EXCLUDED.nonce, "
          "launch = EXCLUDED.launch, patient = EXCLUDED.patient, created = EXCLUDED.created, "
          "expires = EXCLUDED.expires",
          p);
      IPA_RETURN_IF_ERROR(st);
      return {};
    });
  }

  Result<AuthorizationRequest> get_authorization_request(const std::string& id) override {
    return once([&](Conn& c) -> Result<AuthorizationRequest> {
      auto rows = c.exec(
          "SELECT id, session_id_hash, client_id, redirect_uri, scope, state, aud, code_challenge, "
          "code_challenge_method, nonce, launch, patient, created, expires "
          "FROM auth_request WHERE id = $1 AND expires > $2",
          Params().add(id).add(now()));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown or expired authorization request.");
      return read_request(*rows);
    });
  }

  Result<AuthorizationRequest> take_authorization_request(
      const std::string& id, const std::string& session_id_hash) override {
    // One DELETE ... RETURNING: of concurrent takers exactly one gets the row.
    return once([&](Conn& c) -> Result<AuthorizationRequest> {
      auto rows = c.exec(
          "DELETE FROM auth_request WHERE id = $1 AND session_id_hash = $2 AND expires > $3 "
          "RETURNING id, session_id_hash, client_id, redirect_uri, scope, state, aud, "
          "code_challenge, "
          "code_challenge_method, nonce, launch, patient, created, expires",
          Params().add(id).add(session_id_hash).add(now()));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown or expired authorization request.");
      return read_request(*rows);
    });
  }

  // ---- sessions ----

  Status create_session(const Session& s) override {
    return once([&](Conn& c) { return insert_session(c, s); });
  }

  Result<Session> get_session(const std::string& id_hash) override {
    return once([&](Conn& c) -> Result<Session> {
      auto rows = c.exec(
          "SELECT id_hash, username, csrf_token, created, expires FROM auth_session "
          "WHERE id_hash = $1 AND expires > $2",
          Params().add(id_hash).add(now()));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown or expired session.");
      Session s;
      s.id_hash = rows->text(0, 0);
      s.username = rows->text(0, 1);
      s.csrf_token = rows->text(0, 2);
      s.created = rows->time(0, 3);
      s.expires = rows->time(0, 4);
      return s;
    });
  }

  Status rotate_session(const std::string& old_id_hash, const Session& next) override {
    return in_txn([&](Conn& c) -> Status {
      auto del = c.exec("DELETE FROM auth_session WHERE id_hash = $1 AND expires > $2",
                        Params().add(old_id_hash).add(now()));
      IPA_RETURN_IF_ERROR(del);
      if (del->affected() == 0) return core::not_found("Unknown or expired session.");
      IPA_RETURN_IF_ERROR(insert_session(c, next));
      IPA_RETURN_IF_ERROR(
          c.exec("UPDATE auth_request SET session_id_hash = $2 WHERE session_id_hash = $1",
                 Params().add(old_id_hash).add(next.id_hash)));
      return {};
    });
  }

  Status delete_session(const std::string& id_hash) override {
    return once([&](Conn& c) -> Status {
      IPA_RETURN_IF_ERROR(
          c.exec("DELETE FROM auth_session WHERE id_hash = $1", Params().add(id_hash)));
      return {};
    });
  }

  // ---- codes ----

  Status save_code(const AuthorizationCode& code) override {
    return once([&](Conn& c) -> Status {
      Params p;
      p.add(code.code_hash).add(code.client_id).add(code.redirect_uri).add(code.code_challenge);
      p.add(code.grant_id).add(code.nonce).add(code.created).add(code.expires);
      IPA_RETURN_IF_ERROR(c.exec(
          "INSERT INTO auth_code(code_hash, client_id, redirect_uri, code_challenge, grant_id, "
          "nonce, created, expires, used) VALUES($1, $2, $3, $4, $5, $6, $7, $8, false)",
          p, core::conflict("This authorization code exists.")));
      return {};
    });
  }

  Result<Consumed<AuthorizationCode>> consume_code(const std::string& code_hash) override {
    return once([&](Conn& c) -> Result<Consumed<AuthorizationCode>> {
      // The UPDATE takes the row lock: a concurrent consumer waits, then re-checks `NOT used`
      // on the committed row and matches nothing. Exactly one caller gets the row back.
      Consumed<AuthorizationCode> out;
      auto won = c.exec(
          "UPDATE auth_code SET used = true WHERE code_hash = $1 AND NOT used AND expires > $2 "
          "RETURNING code_hash, client_id, redirect_uri, code_challenge, grant_id, nonce, created, "
          "expires, used",
          Params().add(code_hash).add(now()));
      IPA_RETURN_IF_ERROR(won);
      if (won->rows() == 1) {
        out.record = read_code(*won);
        return out;
      }
      // Not consumed here: unknown, used before, or expired. The row only moves towards used.
      auto rows = c.exec(
          "SELECT code_hash, client_id, redirect_uri, code_challenge, grant_id, nonce, created, "
          "expires, used FROM auth_code WHERE code_hash = $1",
          Params().add(code_hash));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown authorization code.");
      out.record = read_code(*rows);
      // RFC 6749 section 4.1.2: a second use is reported whatever the expiry, so the grant of
      // the first use can be revoked.
      if (rows->boolean(0, 8)) {
        out.reused = true;
        return out;
      }
      return core::gone("The authorization code expired.");
    });
  }

  // ---- grants ----

  Status create_grant(const Grant& g) override {
    return once([&](Conn& c) -> Status {
      Params p;
      p.add(g.id).add(g.client_id).add(g.username).add(g.patient).add(g.scope).add(g.aud);
      p.add(g.created).add(g.revoked);
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_grant(id, client_id, username, patient, scope, aud, created, "
                 "revoked) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                 p, core::conflict("A grant with this id exists.")));
      return {};
    });
  }

  Result<Grant> get_grant(const std::string& id) override {
    return once([&](Conn& c) -> Result<Grant> {
      auto rows = c.exec(
          "SELECT id, client_id, username, patient, scope, aud, created, revoked "
          "FROM auth_grant WHERE id = $1",
          Params().add(id));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("Unknown grant.");
      return read_grant(*rows, 0);
    });
  }

  Status revoke_grant(const std::string& id) override {
    return in_txn([&](Conn& c) -> Status {
      // The grant row lock is taken first; rotate_refresh_token holds a share lock on it while
      // it rotates, so the DELETE below, run after that rotation commits, sees its new token.
      auto upd = c.exec("UPDATE auth_grant SET revoked = true WHERE id = $1", Params().add(id));
      IPA_RETURN_IF_ERROR(upd);
      if (upd->affected() == 0) return core::not_found("Unknown grant.");
      IPA_RETURN_IF_ERROR(
          c.exec("DELETE FROM auth_refresh_token WHERE grant_id = $1", Params().add(id)));
      IPA_RETURN_IF_ERROR(
          c.exec("DELETE FROM auth_code WHERE grant_id = $1 AND NOT used", Params().add(id)));
      return {};
    });
  }

  Result<std::vector<Grant>> list_grants(const std::string& username) override {
    return once([&](Conn& c) -> Result<std::vector<Grant>> {
      auto rows = c.exec(
          "SELECT id, client_id, username, patient, scope, aud, created, revoked "
          "FROM auth_grant WHERE username = $1 ORDER BY created, id",
          Params().add(username));
      IPA_RETURN_IF_ERROR(rows);
      std::vector<Grant> out;
      out.reserve(static_cast<size_t>(rows->rows()));
      for (int i = 0; i < rows->rows(); ++i) out.push_back(read_grant(*rows, i));
      return out;
    });
  }

  // ---- refresh tokens ----

  Status save_refresh_token(const RefreshToken& t) override {
    return once([&](Conn& c) { return insert_refresh_token(c, t); });
  }

  Result<Consumed<RefreshToken>> rotate_refresh_token(const std::string& presented_hash,
                                                      const RefreshToken& next) override {
    return in_txn([&](Conn& c) -> Result<Consumed<RefreshToken>> {
      // Lock order: grant (share), then token (update), as revoke_grant takes the grant first.
      auto peek = c.exec("SELECT grant_id FROM auth_refresh_token WHERE token_hash = $1",
                         Params().add(presented_hash));
      IPA_RETURN_IF_ERROR(peek);
      if (peek->rows() == 0) return core::not_found("Unknown refresh token.");
      auto grant = c.exec("SELECT revoked FROM auth_grant WHERE id = $1 FOR SHARE",
                          Params().add(peek->text(0, 0)));
      IPA_RETURN_IF_ERROR(grant);
      if (grant->rows() == 1 && grant->boolean(0, 0)) {
        return core::not_found("Unknown refresh token.");
      }
      auto rows = c.exec(
          "SELECT token_hash, grant_id, client_id, scope, created, expires, used "
          "FROM auth_refresh_token WHERE token_hash = $1 FOR UPDATE",
          Params().add(presented_hash));
      IPA_RETURN_IF_ERROR(rows);
      auto old = check_refresh_token(*rows);
      IPA_RETURN_IF_ERROR(old);
      Consumed<RefreshToken> out;
      out.record = std::move(old).value();
      if (out.record.used) {
        out.reused = true;
        return out;
      }
      IPA_RETURN_IF_ERROR(c.exec("UPDATE auth_refresh_token SET used = true WHERE token_hash = $1",
                                 Params().add(presented_hash)));
      RefreshToken bound = next;
      bound.grant_id = out.record.grant_id;
      bound.client_id = out.record.client_id;
      bound.used = false;
      IPA_RETURN_IF_ERROR(insert_refresh_token(c, bound));
      return out;
    });
  }

  Result<RefreshToken> get_refresh_token(const std::string& token_hash) override {
    return once([&](Conn& c) -> Result<RefreshToken> {
      // A token whose grant is revoked counts as unknown, even one saved after the revocation.
      auto rows = c.exec(
          "SELECT t.token_hash, t.grant_id, t.client_id, t.scope, t.created, t.expires, t.used "
          "FROM auth_refresh_token t LEFT JOIN auth_grant g ON g.id = t.grant_id "
          "WHERE t.token_hash = $1 AND g.revoked IS NOT TRUE",
          Params().add(token_hash));
      IPA_RETURN_IF_ERROR(rows);
      return check_refresh_token(*rows);
    });
  }

  // ---- jti ----

  Status record_jti(const std::string& client_id, const std::string& jti,
                    core::TimePoint expires) override {
    return once([&](Conn& c) -> Status {
      // One upsert: inserts, or takes over an expired record (the assertion it guarded has
      // expired too); a live record leaves the row unchanged and returns nothing.
      auto rows = c.exec(
          "INSERT INTO auth_jti AS j(client_id, jti, expires) VALUES($1, $2, $3) "
          "ON CONFLICT(client_id, jti) DO UPDATE SET expires = EXCLUDED.expires "
          "WHERE j.expires <= $4 RETURNING 1",
          Params().add(client_id).add(jti).add(expires).add(now()));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::conflict("This jti was used before.");
      return {};
    });
  }

  // ---- signing keys ----

  Result<std::vector<SigningKey>> active_signing_keys() override {
    return read_keys(
        "SELECT kid, alg, private_jwk, created, retired, expires FROM auth_signing_key "
        "WHERE retired IS NULL ORDER BY created DESC, kid DESC");
  }

  Result<std::vector<SigningKey>> list_signing_keys() override {
    return read_keys(
        "SELECT kid, alg, private_jwk, created, retired, expires FROM auth_signing_key "
        "ORDER BY created DESC, kid DESC");
  }

  Status add_signing_key(const SigningKey& k) override {
    return once([&](Conn& c) -> Status {
      Params p;
      p.add(k.kid).add(k.alg).add(k.private_jwk).add(k.created);
      if (k.retired) {
        p.add(*k.retired);
      } else {
        p.add_null();
      }
      if (k.expires) {
        p.add(*k.expires);
      } else {
        p.add_null();
      }
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_signing_key(kid, alg, private_jwk, created, retired, expires) "
                 "VALUES($1, $2, $3, $4, $5, $6)",
                 p, core::conflict("A signing key with this kid exists.")));
      return {};
    });
  }

  Status retire_signing_key(const std::string& kid, core::TimePoint at,
                            core::TimePoint expires) override {
    return once([&](Conn& c) -> Status {
      // A second retirement keeps the first one's times: the key stopped signing then.
      auto upd = c.exec(
          "UPDATE auth_signing_key SET expires = CASE WHEN retired IS NULL THEN $3 "
          "ELSE expires END, retired = COALESCE(retired, $2) WHERE kid = $1",
          Params().add(kid).add(at).add(expires));
      IPA_RETURN_IF_ERROR(upd);
      if (upd->affected() == 0) return core::not_found("Unknown signing key.");
      return {};
    });
  }

  // ---- throttling ----

  Result<int64_t> throttle_hit(const std::string& key, std::chrono::seconds window) override {
    int64_t t = now();
    int64_t end = t + std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    return once([&](Conn& c) -> Result<int64_t> {
      // One upsert: concurrent hits on one key queue on its row lock and each count once.
      auto rows = c.exec(
          "INSERT INTO auth_throttle AS t(key, count, window_start, window_end) "
          "VALUES($1, 1, $2, $3) ON CONFLICT(key) DO UPDATE SET "
          "count = CASE WHEN t.window_end <= $2 THEN 1 ELSE t.count + 1 END, "
          "window_start = CASE WHEN t.window_end <= $2 THEN $2 ELSE t.window_start END, "
          "window_end = CASE WHEN t.window_end <= $2 THEN $3 ELSE t.window_end END "
          "RETURNING t.count",
          Params().add(key).add(t).add(end));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() != 1) return core::internal("auth store: throttle upsert returned no row");
      return rows->integer(0, 0);
    });
  }

  Status throttle_reset(const std::string& key) override {
    return once([&](Conn& c) -> Status {
      IPA_RETURN_IF_ERROR(c.exec("DELETE FROM auth_throttle WHERE key = $1", Params().add(key)));
      return {};
    });
  }

  // ---- audit ----

  Status append_audit(const std::vector<AuditEvent>& events) override {
    if (events.empty()) return {};
    // Multi-row INSERTs: one round trip per kRows events instead of one per event.
    constexpr size_t kRows = 500;
    constexpr int kColumns = 13;
    return in_txn([&](Conn& c) -> Status {
      for (size_t start = 0; start < events.size(); start += kRows) {
        size_t n = std::min(kRows, events.size() - start);
        std::string sql =
            "INSERT INTO auth_audit(time, type, client_id, username, patient, outcome, detail, "
            "resource_type, resource_id, status, node, count, last_time) VALUES";
        Params p;
        for (size_t i = 0; i < n; ++i) {
          const AuditEvent& e = events[start + i];
          p.add(e.time).add(e.type).add(e.client_id).add(e.username).add(e.patient);
          p.add(e.outcome).add(e.detail).add(e.resource_type).add(e.resource_id);
          p.add(static_cast<int64_t>(e.status)).add(e.node);
          p.add(std::max<int64_t>(1, e.count)).add(e.count > 1 ? to_ms(e.last_time) : int64_t{0});
          sql += i == 0 ? "(" : ",(";
          for (int k = 1; k <= kColumns; ++k) {
            sql += "$" + std::to_string(static_cast<int>(i) * kColumns + k);
            sql += k == kColumns ? ")" : ",";
          }
        }
        IPA_RETURN_IF_ERROR(c.exec(sql.c_str(), p));
      }
      return {};
    });
  }

  Result<std::vector<AuditEvent>> recent_audit(int limit) override {
    AuditQuery q;
    q.limit = limit;
    return find_audit(q);
  }

  Result<std::vector<AuditEvent>> find_audit(const AuditQuery& q) override {
    return once([&](Conn& c) -> Result<std::vector<AuditEvent>> {
      // Unset bounds bind values that match everything; a patient uses auth_audit_by_patient.
      static const std::string any = std::string("SELECT ") + kAuditColumns +
                                     " FROM auth_audit WHERE $1 = '' AND time >= $2 AND "
                                     "time <= $3 AND seq < $4 ORDER BY seq DESC LIMIT $5";
      static const std::string one = std::string("SELECT ") + kAuditColumns +
                                     " FROM auth_audit WHERE patient = $1 AND time >= $2 AND "
                                     "time <= $3 AND seq < $4 ORDER BY seq DESC LIMIT $5";
      Params p;
      p.add(q.patient);
      p.add(q.since ? to_ms(*q.since) : std::numeric_limits<int64_t>::min());
      p.add(q.until ? to_ms(*q.until) : std::numeric_limits<int64_t>::max());
      p.add(q.before_id > 0 ? q.before_id : std::numeric_limits<int64_t>::max());
      p.add(static_cast<int64_t>(q.limit));
      auto rows = c.exec(q.patient.empty() ? any.c_str() : one.c_str(), p);
      IPA_RETURN_IF_ERROR(rows);
      std::vector<AuditEvent> out;
      out.reserve(static_cast<size_t>(rows->rows()));
      for (int i = 0; i < rows->rows(); ++i) out.push_back(audit_row(*rows, i));
      return out;
    });
  }

  Result<AuditEvent> get_audit(int64_t id) override {
    return once([&](Conn& c) -> Result<AuditEvent> {
      static const std::string sql =
          std::string("SELECT ") + kAuditColumns + " FROM auth_audit WHERE seq = $1";
      auto rows = c.exec(sql.c_str(), Params().add(id));
      IPA_RETURN_IF_ERROR(rows);
      if (rows->rows() == 0) return core::not_found("No such audit event.");
      return audit_row(*rows, 0);
    });
  }

  // ---- purge ----

  Result<int64_t> purge_expired(std::chrono::seconds code_retention) override {
    int64_t t = now();
    int64_t code_cutoff =
        t - std::chrono::duration_cast<std::chrono::milliseconds>(code_retention).count();
    return in_txn([&](Conn& c) -> Result<int64_t> {
      int64_t total = 0;
      const std::pair<const char*, int64_t> deletes[] = {
          {"DELETE FROM auth_session WHERE expires <= $1", t},
          {"DELETE FROM auth_request WHERE expires <= $1", t},
          {"DELETE FROM auth_refresh_token WHERE expires <= $1", t},
          {"DELETE FROM auth_jti WHERE expires <= $1", t},
          {"DELETE FROM auth_throttle WHERE window_end <= $1", t},
          {"DELETE FROM auth_code WHERE expires <= $1", code_cutoff},
          // Retired keys whose last token has expired: no longer in any JWKS, never needed.
          {"DELETE FROM auth_signing_key WHERE expires <= $1", t},
      };
      for (const auto& [sql, cutoff] : deletes) {
        auto del = c.exec(sql, Params().add(cutoff));
        IPA_RETURN_IF_ERROR(del);
        total += del->affected();
      }
      return total;
    });
  }

  Result<int64_t> purge_system_grants(core::TimePoint issued_before) override {
    return once([&](Conn& c) -> Result<int64_t> {
      // auth_grant_by_user (username, created) serves this range.
      auto del =
          c.exec("DELETE FROM auth_grant WHERE username = '' AND patient = '' AND created <= $1",
                 Params().add(issued_before));
      IPA_RETURN_IF_ERROR(del);
      return del->affected();
    });
  }

  Result<std::vector<std::string>> revoke_grants(const GrantFilter& f) override {
    if (f.username.empty() && f.client_id.empty() && f.patient.empty()) {
      return core::bad_request(core::IssueType::kRequired,
                               "Name a user, a client or a patient whose grants to revoke.");
    }
    return in_txn([&](Conn& c) -> Result<std::vector<std::string>> {
      // Grant rows first, then their tokens and codes: the lock order of revoke_grant.
      auto upd = c.exec(
          "UPDATE auth_grant SET revoked = true WHERE NOT revoked "
          "AND ($1 = '' OR username = $1) AND ($2 = '' OR client_id = $2) "
          "AND ($3 = '' OR patient = $3) RETURNING id",
          Params().add(f.username).add(f.client_id).add(f.patient));
      IPA_RETURN_IF_ERROR(upd);
      std::vector<std::string> ids;
      for (int i = 0; i < upd->rows(); ++i) ids.push_back(upd->text(i, 0));
      for (const std::string& id : ids) {
        IPA_RETURN_IF_ERROR(
            c.exec("DELETE FROM auth_refresh_token WHERE grant_id = $1", Params().add(id)));
        IPA_RETURN_IF_ERROR(
            c.exec("DELETE FROM auth_code WHERE grant_id = $1 AND NOT used", Params().add(id)));
      }
      return ids;
    });
  }

  Result<int64_t> delete_user_sessions(const std::string& username) override {
    return once([&](Conn& c) -> Result<int64_t> {
      auto del = c.exec("DELETE FROM auth_session WHERE username = $1", Params().add(username));
      IPA_RETURN_IF_ERROR(del);
      return static_cast<int64_t>(del->affected());
    });
  }

 private:
  int64_t now() const { return to_ms(clock_->now()); }

  // Runs `body` on one pooled connection, inside BEGIN ... COMMIT when `transaction`. A
  // serialization failure or deadlock (rolled back by the server) is retried a few times, then
  // reported as unavailable 503. Nothing else is retried: after a lost connection the outcome
  // of the last command is unknown, and repeating a consume would report a false reuse.
  template <typename F>
  std::invoke_result_t<F&, Conn&> run(bool transaction, F& body) {
    using R = std::invoke_result_t<F&, Conn&>;
    for (int attempt = 1;; ++attempt) {
      auto lease = pool_->acquire();
      if (!lease.ok()) return std::move(lease).error();
      Conn& c = lease->conn();
      if (transaction) {
        Status begin = c.exec_simple("BEGIN");
        if (!begin.ok()) return std::move(begin).error();
      }
      R r = body(c);
      std::string state = c.last_state();
      if (transaction) {
        if (r.ok()) {
          Status commit = c.exec_simple("COMMIT");
          if (commit.ok()) return r;
          state = c.last_state();
          r = std::move(commit).error();
        } else {
          (void)c.exec_simple("ROLLBACK");
        }
      }
      if (r.ok() || attempt == kMaxAttempts || !is_retryable(state)) return r;
    }
  }
  template <typename F>
  std::invoke_result_t<F&, Conn&> in_txn(F&& body) {
    return run(true, body);
  }
  template <typename F>
  std::invoke_result_t<F&, Conn&> once(F&& body) {
    return run(false, body);
  }

  static Params client_params(const Client& cl) {
    Params p;
    p.add(cl.client_id).add(cl.name).add(static_cast<int64_t>(cl.type)).add(cl.scope);
    p.add(cl.jwks).add(cl.jwks_uri).add(cl.secret_hash).add(cl.token_endpoint_auth_method);
    p.add(cl.registration).add(cl.created);
    return p;
  }

  // Folds client rows joined with their redirect URIs (one row per URI, or one with a NULL uri)
  // into clients.
  static std::vector<Client> read_clients(const PgResult& rows) {
    std::vector<Client> out;
    for (int i = 0; i < rows.rows(); ++i) {
      if (out.empty() || out.back().client_id != rows.text(i, 0)) {
        Client c;
        c.client_id = rows.text(i, 0);
        c.name = rows.text(i, 1);
        c.type = static_cast<ClientType>(rows.integer(i, 2));
        c.scope = rows.text(i, 3);
        c.jwks = rows.text(i, 4);
        c.jwks_uri = rows.text(i, 5);
        c.secret_hash = rows.text(i, 6);
        c.token_endpoint_auth_method = rows.text(i, 7);
        c.registration = rows.text(i, 8);
        c.created = rows.time(i, 9);
        out.push_back(std::move(c));
      }
      if (!rows.is_null(i, 10)) out.back().redirect_uris.push_back(rows.text(i, 10));
    }
    return out;
  }

  static Status write_redirect_uris(Conn& c, const Client& cl) {
    for (size_t i = 0; i < cl.redirect_uris.size(); ++i) {
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_client_redirect_uri(client_id, pos, uri) VALUES($1, $2, $3)",
                 Params().add(cl.client_id).add(static_cast<int64_t>(i)).add(cl.redirect_uris[i])));
    }
    return {};
  }

  static Status write_patients(Conn& c, const std::string& username,
                               const std::vector<std::string>& patients) {
    for (size_t i = 0; i < patients.size(); ++i) {
      IPA_RETURN_IF_ERROR(
          c.exec("INSERT INTO auth_user_patient(username, pos, patient) VALUES($1, $2, $3)",
                 Params().add(username).add(static_cast<int64_t>(i)).add(patients[i])));
    }
    return {};
  }

  static AuthorizationRequest read_request(const PgResult& rows) {
    AuthorizationRequest r;
    r.id = rows.text(0, 0);
    r.session_id_hash = rows.text(0, 1);
    r.client_id = rows.text(0, 2);
    r.redirect_uri = rows.text(0, 3);
    r.scope = rows.text(0, 4);
    r.state = rows.text(0, 5);
    r.aud = rows.text(0, 6);
    r.code_challenge = rows.text(0, 7);
    r.code_challenge_method = rows.text(0, 8);
    r.nonce = rows.text(0, 9);
    r.launch = rows.text(0, 10);
    r.patient = rows.text(0, 11);
    r.created = rows.time(0, 12);
    r.expires = rows.time(0, 13);
    return r;
  }

  static Status insert_session(Conn& c, const Session& s) {
    IPA_RETURN_IF_ERROR(c.exec(
        "INSERT INTO auth_session(id_hash, username, csrf_token, created, expires) "
        "VALUES($1, $2, $3, $4, $5)",
        Params().add(s.id_hash).add(s.username).add(s.csrf_token).add(s.created).add(s.expires),
        core::conflict("A session with this id exists.")));
    return {};
  }

  static AuthorizationCode read_code(const PgResult& rows) {
    AuthorizationCode c;
    c.code_hash = rows.text(0, 0);
    c.client_id = rows.text(0, 1);
    c.redirect_uri = rows.text(0, 2);
    c.code_challenge = rows.text(0, 3);
    c.grant_id = rows.text(0, 4);
    c.nonce = rows.text(0, 5);
    c.created = rows.time(0, 6);
    c.expires = rows.time(0, 7);
    return c;
  }

  static Grant read_grant(const PgResult& rows, int i) {
    Grant g;
    g.id = rows.text(i, 0);
    g.client_id = rows.text(i, 1);
    g.username = rows.text(i, 2);
    g.patient = rows.text(i, 3);
    g.scope = rows.text(i, 4);
    g.aud = rows.text(i, 5);
    g.created = rows.time(i, 6);
    g.revoked = rows.boolean(i, 7);
    return g;
  }

  static Status insert_refresh_token(Conn& c, const RefreshToken& t) {
    Params p;
    p.add(t.token_hash).add(t.grant_id).add(t.client_id).add(t.scope).add(t.created);
    p.add(t.expires).add(t.used);
    IPA_RETURN_IF_ERROR(
        c.exec("INSERT INTO auth_refresh_token(token_hash, grant_id, client_id, scope, created, "
               "expires, used) VALUES($1, $2, $3, $4, $5, $6, $7)",
               p, core::conflict("This refresh token exists.")));
    return {};
  }

  // Turns zero or one row (token_hash, grant_id, client_id, scope, created, expires, used) into
  // a token: not_found 404 for none, gone 410 for an expired unused one.
  Result<RefreshToken> check_refresh_token(const PgResult& rows) const {
    if (rows.rows() == 0) return core::not_found("Unknown refresh token.");
    RefreshToken t;
    t.token_hash = rows.text(0, 0);
    t.grant_id = rows.text(0, 1);
    t.client_id = rows.text(0, 2);
    t.scope = rows.text(0, 3);
    t.created = rows.time(0, 4);
    t.expires = rows.time(0, 5);
    t.used = rows.boolean(0, 6);
    // A rotated token is reported as used even past its expiry, so a late replay still revokes.
    if (!t.used && t.expires <= clock_->now()) return core::gone("The refresh token expired.");
    return t;
  }

  Result<std::vector<SigningKey>> read_keys(const char* sql) {
    return once([&](Conn& c) -> Result<std::vector<SigningKey>> {
      auto rows = c.exec(sql);
      IPA_RETURN_IF_ERROR(rows);
      std::vector<SigningKey> out;
      out.reserve(static_cast<size_t>(rows->rows()));
      for (int i = 0; i < rows->rows(); ++i) {
        SigningKey k;
        k.kid = rows->text(i, 0);
        k.alg = rows->text(i, 1);
        k.private_jwk = rows->text(i, 2);
        k.created = rows->time(i, 3);
        if (!rows->is_null(i, 4)) k.retired = rows->time(i, 4);
        if (!rows->is_null(i, 5)) k.expires = rows->time(i, 5);
        out.push_back(std::move(k));
      }
      return out;
    });
  }

  std::unique_ptr<Pool> pool_;
  std::shared_ptr<core::Clock> clock_;
  std::string schema_;
};

bool valid_schema_name(const std::string& s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<AuthStore>> open_postgres_auth_store(const PostgresAuthOptions& options) {
  if (!options.schema.empty() && !valid_schema_name(options.schema)) {
    return core::internal("auth store: invalid schema name '" + options.schema + "'");
  }
  if (options.connections < 1) return core::internal("auth store: connections must be >= 1");
  // Per-connection settings. The schema name is checked above, so quoting it is enough.
  // lock_timeout bounds waits on row locks (answered 503), like SQLite's busy timeout.
  std::string setup = "SET client_min_messages = warning; SET lock_timeout = " +
                      std::to_string(options.lock_timeout.count()) +
                      "; SET application_name = 'ipa-auth" +
                      (options.schema.empty() ? "" : ":" + options.schema) + "'";
  if (!options.schema.empty()) setup += "; SET search_path TO \"" + options.schema + "\"";
  auto pool = std::make_unique<Pool>(options.conninfo, std::move(setup), options.connections);
  auto store = std::make_unique<PostgresAuthStore>(std::move(pool), options.clock, options.schema);
  IPA_RETURN_IF_ERROR(store->migrate());
  return std::unique_ptr<AuthStore>(std::move(store));
}

}  // namespace ipa::storage::postgres
