#include "storage/sqlite/auth_store.h"

#include <sqlite3.h>

#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

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

core::Error db_error(sqlite3* db, int rc, std::string_view what) {
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return core::unavailable("The authorization database is busy; retry the request.");
  }
  std::string detail = "auth store: " + std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr) detail += std::string(" (") + sqlite3_errmsg(db) + ")";
  return core::internal(std::move(detail));
}

// Owns one sqlite3 connection.
class Db {
 public:
  explicit Db(sqlite3* db) : db_(db) {}
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() const { return db_; }

  Status exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    sqlite3_free(message);
    if (rc != SQLITE_OK) return db_error(db_, rc, "exec");
    return {};
  }

 private:
  sqlite3* db_;
};

// One prepared statement; binds by position from 1, reads columns from 0.
class Stmt {
 public:
  Stmt(Db& db, const char* sql) : db_(db.get()) {
    rc_ = sqlite3_prepare_v2(db_, sql, -1, &st_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepared() const {
    if (rc_ != SQLITE_OK) return db_error(db_, rc_, "prepare");
    return {};
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind(int i, core::TimePoint t) { return bind(i, to_ms(t)); }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }

  // Returns true for a row, false when done.
  Result<bool> step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return db_error(db_, rc, "step");
  }
  // Runs a statement that returns no rows. A constraint violation becomes `on_constraint`.
  Status run(std::optional<core::Error> on_constraint = std::nullopt) {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    if ((rc & 0xff) == SQLITE_CONSTRAINT && on_constraint) return std::move(on_constraint).value();
    return db_error(db_, rc, "step");
  }
  std::string text(int i) const {
    const unsigned char* p = sqlite3_column_text(st_, i);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(st_, i)));
  }
  int64_t integer(int i) const { return sqlite3_column_int64(st_, i); }
  core::TimePoint time(int i) const { return from_ms(integer(i)); }
  bool is_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  int64_t changes() const { return sqlite3_changes64(db_); }
  // Makes the statement ready to run again with new bindings.
  Status reset() {
    int rc = sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    if (rc != SQLITE_OK) return db_error(db_, rc, "reset");
    return {};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_OK;
};

#define IPA_PREPARE(var, db, sql) \
  Stmt var(db, sql);              \
  IPA_RETURN_IF_ERROR(var.prepared())

// BEGIN IMMEDIATE ... COMMIT; rolls back unless committed. IMMEDIATE takes the write lock up
// front, so a read-check-write sequence cannot interleave with another connection's.
class Txn {
 public:
  explicit Txn(Db& db) : db_(db) {}
  ~Txn() {
    if (open_) (void)db_.exec("ROLLBACK");
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Status begin() {
    IPA_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
    open_ = true;
    return {};
  }
  Status commit() {
    IPA_RETURN_IF_ERROR(db_.exec("COMMIT"));
    open_ = false;
    return {};
  }

 private:
  Db& db_;
  bool open_ = false;
};

constexpr int kAuthSchemaVersion = 4;

// Entry i brings the auth schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE auth_client(
  client_id TEXT PRIMARY KEY, name TEXT NOT NULL, type INTEGER NOT NULL, scope TEXT NOT NULL,
  jwks TEXT NOT NULL, jwks_uri TEXT NOT NULL, secret_hash TEXT NOT NULL,
  auth_method TEXT NOT NULL, registration TEXT NOT NULL, created INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE auth_client_redirect_uri(
  client_id TEXT NOT NULL REFERENCES auth_client(client_id) ON DELETE CASCADE,
  pos INTEGER NOT NULL, uri TEXT NOT NULL, PRIMARY KEY(client_id, pos)) WITHOUT ROWID;
CREATE TABLE auth_user(
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
  fhir_user TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE auth_user_patient(
  username TEXT NOT NULL REFERENCES auth_user(username) ON DELETE CASCADE,
  pos INTEGER NOT NULL, patient TEXT NOT NULL, PRIMARY KEY(username, pos)) WITHOUT ROWID;
CREATE TABLE auth_request(
  id TEXT PRIMARY KEY, session_id_hash TEXT NOT NULL, client_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL, aud TEXT NOT NULL,
  code_challenge TEXT NOT NULL, code_challenge_method TEXT NOT NULL, nonce TEXT NOT NULL,
  launch TEXT NOT NULL, patient TEXT NOT NULL, created INTEGER NOT NULL,
  expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX auth_request_by_session ON auth_request(session_id_hash);
CREATE INDEX auth_request_by_expiry ON auth_request(expires);
CREATE TABLE auth_session(
  id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
  created INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX auth_session_by_expiry ON auth_session(expires);
CREATE TABLE auth_grant(
  id TEXT PRIMARY KEY, client_id TEXT NOT NULL, username TEXT NOT NULL, patient TEXT NOT NULL,
  scope TEXT NOT NULL, aud TEXT NOT NULL, created INTEGER NOT NULL, revoked INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE INDEX auth_grant_by_user ON auth_grant(username, created);
CREATE TABLE auth_code(
  code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL, grant_id TEXT NOT NULL, nonce TEXT NOT NULL,
  created INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX auth_code_by_grant ON auth_code(grant_id);
CREATE INDEX auth_code_by_expiry ON auth_code(expires);
CREATE TABLE auth_refresh_token(
  token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
  scope TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,
  used INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX auth_refresh_token_by_grant ON auth_refresh_token(grant_id);
CREATE INDEX auth_refresh_token_by_expiry ON auth_refresh_token(expires);
CREATE TABLE auth_jti(
  client_id TEXT NOT NULL, jti TEXT NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY(client_id, jti)) WITHOUT ROWID;
CREATE INDEX auth_jti_by_expiry ON auth_jti(expires);
CREATE TABLE auth_signing_key(
  kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_jwk TEXT NOT NULL, created INTEGER NOT NULL,
  retired INTEGER) WITHOUT ROWID;
CREATE TABLE auth_throttle(
  key TEXT PRIMARY KEY, count INTEGER NOT NULL, window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE auth_audit(
  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, type TEXT NOT NULL, client_id TEXT NOT NULL,
  username TEXT NOT NULL, patient TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
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
ALTER TABLE auth_audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE auth_audit ADD COLUMN last_time INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4: when a retired signing key's last token has expired, so the purge deletes it. Keys
    // retired before get 24 h (auth::TokenConfig's default retention, the longest in use).
    R"sql(
ALTER TABLE auth_signing_key ADD COLUMN expires INTEGER;
UPDATE auth_signing_key SET expires = retired + 86400000 WHERE retired IS NOT NULL;
CREATE INDEX auth_signing_key_by_expiry ON auth_signing_key(expires);
)sql",
};
static_assert(std::size(kMigrations) == kAuthSchemaVersion);

constexpr const char* kAuditColumns =
    "seq, time, type, client_id, username, patient, outcome, detail, resource_type, resource_id, "
    "status, node, count, last_time";

AuditEvent audit_row(const Stmt& st) {
  AuditEvent e;
  e.id = st.integer(0);
  e.time = st.time(1);
  e.type = st.text(2);
  e.client_id = st.text(3);
  e.username = st.text(4);
  e.patient = st.text(5);
  e.outcome = st.text(6);
  e.detail = st.text(7);
  e.resource_type = st.text(8);
  e.resource_id = st.text(9);
  e.status = static_cast<int>(st.integer(10));
  e.node = st.text(11);
  e.count = st.integer(12);
  int64_t last = st.integer(13);
  e.last_time = last == 0 ? e.time : st.time(13);
  return e;
}

class SqliteAuthStore final : public AuthStore {
 public:
  SqliteAuthStore(std::unique_ptr<Db> db, std::shared_ptr<core::Clock> clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}

  Status migrate() {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_RETURN_IF_ERROR(
        db_->exec("CREATE TABLE IF NOT EXISTS auth_schema_version(version INTEGER NOT NULL)"));
    int64_t version = 0;
    {
      IPA_PREPARE(st, *db_, "SELECT version FROM auth_schema_version");
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (*row) {
        version = st.integer(0);
      } else {
        IPA_PREPARE(ins, *db_, "INSERT INTO auth_schema_version(version) VALUES(0)");
        IPA_RETURN_IF_ERROR(ins.run());
      }
    }
    if (version > kAuthSchemaVersion) {
      return core::internal("auth schema version " + std::to_string(version) +
                            " is newer than this program (" + std::to_string(kAuthSchemaVersion) +
                            ")");
    }
    for (int64_t v = version; v < kAuthSchemaVersion; ++v) {
      IPA_RETURN_IF_ERROR(db_->exec(kMigrations[v]));
    }
    IPA_PREPARE(set, *db_, "UPDATE auth_schema_version SET version = ?1");
    IPA_RETURN_IF_ERROR(set.bind(1, static_cast<int64_t>(kAuthSchemaVersion)).run());
    return txn.commit();
  }

  // ---- clients ----

  Status create_client(const Client& c) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_client(client_id, name, type, scope, jwks, jwks_uri, "
                "secret_hash, auth_method, registration, created) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    bind_client(st, c);
    IPA_RETURN_IF_ERROR(st.run(core::conflict("A client with this client_id exists.")));
    IPA_RETURN_IF_ERROR(write_redirect_uris(c));
    return txn.commit();
  }

  Result<Client> get_client(const std::string& client_id) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "SELECT client_id, name, type, scope, jwks, jwks_uri, secret_hash, auth_method, "
                "registration, created FROM auth_client WHERE client_id = ?1");
    st.bind(1, client_id);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown client.");
    Client c = read_client(st);
    IPA_RETURN_IF_ERROR(read_redirect_uris(c));
    return c;
  }

  Status update_client(const Client& c) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(st, *db_,
                "UPDATE auth_client SET name = ?2, type = ?3, scope = ?4, jwks = ?5, "
                "jwks_uri = ?6, secret_hash = ?7, auth_method = ?8, registration = ?9, "
                "created = ?10 WHERE client_id = ?1");
    bind_client(st, c);
    IPA_RETURN_IF_ERROR(st.run());
    if (st.changes() == 0) return core::not_found("Unknown client.");
    IPA_PREPARE(del, *db_, "DELETE FROM auth_client_redirect_uri WHERE client_id = ?1");
    IPA_RETURN_IF_ERROR(del.bind(1, c.client_id).run());
    IPA_RETURN_IF_ERROR(write_redirect_uris(c));
    return txn.commit();
  }

  Status delete_client(const std::string& client_id) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_, "DELETE FROM auth_client WHERE client_id = ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, client_id).run());
    if (st.changes() == 0) return core::not_found("Unknown client.");
    return {};
  }

  Result<std::vector<Client>> list_clients() override {
    std::lock_guard lock(mu_);
    std::vector<Client> out;
    {
      IPA_PREPARE(st, *db_,
                  "SELECT client_id, name, type, scope, jwks, jwks_uri, secret_hash, "
                  "auth_method, registration, created FROM auth_client ORDER BY client_id");
      for (;;) {
        auto row = st.step();
        IPA_RETURN_IF_ERROR(row);
        if (!*row) break;
        out.push_back(read_client(st));
      }
    }
    for (Client& c : out) IPA_RETURN_IF_ERROR(read_redirect_uris(c));
    return out;
  }

  // ---- users ----

  Status create_user(const User& u) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_user(username, password_hash, display_name, fhir_user, created) "
                "VALUES(?1, ?2, ?3, ?4, ?5)");
    st.bind(1, u.username).bind(2, u.password_hash).bind(3, u.display_name).bind(4, u.fhir_user);
    st.bind(5, u.created);
    IPA_RETURN_IF_ERROR(st.run(core::conflict("A user with this username exists.")));
    IPA_RETURN_IF_ERROR(write_patients(u.username, u.patients));
    return txn.commit();
  }

  Result<User> get_user(const std::string& username) override {
    std::lock_guard lock(mu_);
    User u;
    {
      IPA_PREPARE(st, *db_,
                  "SELECT username, password_hash, display_name, fhir_user, created "
                  "FROM auth_user WHERE username = ?1");
      st.bind(1, username);
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) return core::not_found("Unknown user.");
      u.username = st.text(0);
      u.password_hash = st.text(1);
      u.display_name = st.text(2);
      u.fhir_user = st.text(3);
      u.created = st.time(4);
    }
    IPA_PREPARE(st, *db_, "SELECT patient FROM auth_user_patient WHERE username = ?1 ORDER BY pos");
    st.bind(1, username);
    for (;;) {
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) break;
      u.patients.push_back(st.text(0));
    }
    return u;
  }

  Status set_user_patients(const std::string& username,
                           const std::vector<std::string>& patients) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_RETURN_IF_ERROR(require_user(username));
    IPA_PREPARE(del, *db_, "DELETE FROM auth_user_patient WHERE username = ?1");
    IPA_RETURN_IF_ERROR(del.bind(1, username).run());
    IPA_RETURN_IF_ERROR(write_patients(username, patients));
    return txn.commit();
  }

  Status set_user_password(const std::string& username, const std::string& hash) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_, "UPDATE auth_user SET password_hash = ?2 WHERE username = ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, username).bind(2, hash).run());
    if (st.changes() == 0) return core::not_found("Unknown user.");
    return {};
  }

  // ---- authorization requests ----

  Status save_authorization_request(const AuthorizationRequest& r) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "INSERT OR REPLACE INTO auth_request(id, session_id_hash, client_id, "
                "redirect_uri, scope, state, aud, code_challenge, code_challenge_method, nonce, "
                "launch, patient, created, expires) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    st.bind(1, r.id).bind(2, r.session_id_hash).bind(3, r.client_id).bind(4, r.redirect_uri);
    st.bind(5, r.scope).bind(6, r.state).bind(7, r.aud).bind(8, r.code_challenge);
    st.bind(9, r.code_challenge_method).bind(10, r.nonce).bind(11, r.launch).bind(12, r.patient);
    st.bind(13, r.created).bind(14, r.expires);
    return st.run();
  }

  Result<AuthorizationRequest> get_authorization_request(const std::string& id) override {
    std::lock_guard lock(mu_);
    return read_request(id);
  }

  Result<AuthorizationRequest> take_authorization_request(
      const std::string& id, const std::string& session_id_hash) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    auto r = read_request(id);
    IPA_RETURN_IF_ERROR(r);
    if (r->session_id_hash != session_id_hash) {
      return core::not_found("Unknown or expired authorization request.");
    }
    IPA_PREPARE(del, *db_, "DELETE FROM auth_request WHERE id = ?1");
    IPA_RETURN_IF_ERROR(del.bind(1, id).run());
    IPA_RETURN_IF_ERROR(txn.commit());
    return r;
  }

  // ---- sessions ----

  Status create_session(const Session& s) override {
    std::lock_guard lock(mu_);
    return insert_session(s);
  }

  Result<Session> get_session(const std::string& id_hash) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "SELECT id_hash, username, csrf_token, created, expires FROM auth_session "
                "WHERE id_hash = ?1 AND expires > ?2");
    st.bind(1, id_hash).bind(2, now());
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown or expired session.");
    Session s;
    s.id_hash = st.text(0);
    s.username = st.text(1);
    s.csrf_token = st.text(2);
    s.created = st.time(3);
    s.expires = st.time(4);
    return s;
  }

  Status rotate_session(const std::string& old_id_hash, const Session& next) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(del, *db_, "DELETE FROM auth_session WHERE id_hash = ?1 AND expires > ?2");
    IPA_RETURN_IF_ERROR(del.bind(1, old_id_hash).bind(2, now()).run());
    if (del.changes() == 0) return core::not_found("Unknown or expired session.");
    IPA_RETURN_IF_ERROR(insert_session(next));
    IPA_PREPARE(move, *db_,
                "UPDATE auth_request SET session_id_hash = ?2 WHERE session_id_hash = ?1");
    IPA_RETURN_IF_ERROR(move.bind(1, old_id_hash).bind(2, next.id_hash).run());
    return txn.commit();
  }

  Status delete_session(const std::string& id_hash) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_, "DELETE FROM auth_session WHERE id_hash = ?1");
    return st.bind(1, id_hash).run();
  }

  // ---- codes ----

  Status save_code(const AuthorizationCode& c) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_code(code_hash, client_id, redirect_uri, code_challenge, "
                "grant_id, nonce, created, expires, used) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)");
    st.bind(1, c.code_hash).bind(2, c.client_id).bind(3, c.redirect_uri);
    st.bind(4, c.code_challenge).bind(5, c.grant_id).bind(6, c.nonce);
    st.bind(7, c.created).bind(8, c.expires);
    return st.run(core::conflict("This authorization code exists."));
  }

  Result<Consumed<AuthorizationCode>> consume_code(const std::string& code_hash) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    Consumed<AuthorizationCode> out;
    bool used = false;
    {
      IPA_PREPARE(st, *db_,
                  "SELECT code_hash, client_id, redirect_uri, code_challenge, grant_id, nonce, "
                  "created, expires, used FROM auth_code WHERE code_hash = ?1");
      st.bind(1, code_hash);
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) return core::not_found("Unknown authorization code.");
      AuthorizationCode& c = out.record;
      c.code_hash = st.text(0);
      c.client_id = st.text(1);
      c.redirect_uri = st.text(2);
      c.code_challenge = st.text(3);
      c.grant_id = st.text(4);
      c.nonce = st.text(5);
      c.created = st.time(6);
      c.expires = st.time(7);
      used = st.integer(8) != 0;
    }
    // RFC 6749 section 4.1.2: a second use is reported whatever the expiry, so the grant of the
    // first use can be revoked.
    if (used) {
      out.reused = true;
      return out;
    }
    if (out.record.expires <= clock_->now()) return core::gone("The authorization code expired.");
    IPA_PREPARE(upd, *db_, "UPDATE auth_code SET used = 1 WHERE code_hash = ?1 AND used = 0");
    IPA_RETURN_IF_ERROR(upd.bind(1, code_hash).run());
    if (upd.changes() != 1) return core::internal("auth store: code consumed concurrently");
    IPA_RETURN_IF_ERROR(txn.commit());
    return out;
  }

  // ---- grants ----

  Status create_grant(const Grant& g) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_grant(id, client_id, username, patient, scope, aud, created, "
                "revoked) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    st.bind(1, g.id).bind(2, g.client_id).bind(3, g.username).bind(4, g.patient);
    st.bind(5, g.scope).bind(6, g.aud).bind(7, g.created).bind(8, int64_t{g.revoked ? 1 : 0});
    return st.run(core::conflict("A grant with this id exists."));
  }

  Result<Grant> get_grant(const std::string& id) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "SELECT id, client_id, username, patient, scope, aud, created, revoked "
                "FROM auth_grant WHERE id = ?1");
    st.bind(1, id);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown grant.");
    return read_grant(st);
  }

  Status revoke_grant(const std::string& id) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(st, *db_, "UPDATE auth_grant SET revoked = 1 WHERE id = ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, id).run());
    if (st.changes() == 0) return core::not_found("Unknown grant.");
    IPA_PREPARE(tokens, *db_, "DELETE FROM auth_refresh_token WHERE grant_id = ?1");
    IPA_RETURN_IF_ERROR(tokens.bind(1, id).run());
    IPA_PREPARE(codes, *db_, "DELETE FROM auth_code WHERE grant_id = ?1 AND used = 0");
    IPA_RETURN_IF_ERROR(codes.bind(1, id).run());
    return txn.commit();
  }

  Result<std::vector<Grant>> list_grants(const std::string& username) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "SELECT id, client_id, username, patient, scope, aud, created, revoked "
                "FROM auth_grant WHERE username = ?1 ORDER BY created, id");
    st.bind(1, username);
    std::vector<Grant> out;
    for (;;) {
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) break;
      out.push_back(read_grant(st));
    }
    return out;
  }

  // ---- refresh tokens ----

  Status save_refresh_token(const RefreshToken& t) override {
    std::lock_guard lock(mu_);
    return insert_refresh_token(t);
  }

  Result<Consumed<RefreshToken>> rotate_refresh_token(const std::string& presented_hash,
                                                      const RefreshToken& next) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    auto old = read_refresh_token(presented_hash);
    IPA_RETURN_IF_ERROR(old);
    Consumed<RefreshToken> out;
    out.record = std::move(old).value();
    if (out.record.used) {
      out.reused = true;
      return out;
    }
    IPA_PREPARE(upd, *db_,
                "UPDATE auth_refresh_token SET used = 1 WHERE token_hash = ?1 AND used = 0");
    IPA_RETURN_IF_ERROR(upd.bind(1, presented_hash).run());
    if (upd.changes() != 1) return core::internal("auth store: refresh token rotated concurrently");
    RefreshToken bound = next;
    bound.grant_id = out.record.grant_id;
    bound.client_id = out.record.client_id;
    bound.used = false;
    IPA_RETURN_IF_ERROR(insert_refresh_token(bound));
    IPA_RETURN_IF_ERROR(txn.commit());
    return out;
  }

  Result<RefreshToken> get_refresh_token(const std::string& token_hash) override {
    std::lock_guard lock(mu_);
    return read_refresh_token(token_hash);
  }

  // ---- jti ----

  Status record_jti(const std::string& client_id, const std::string& jti,
                    core::TimePoint expires) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    // An expired record no longer blocks (the assertion it guarded is expired too).
    IPA_PREPARE(del, *db_,
                "DELETE FROM auth_jti WHERE client_id = ?1 AND jti = ?2 AND expires <= ?3");
    IPA_RETURN_IF_ERROR(del.bind(1, client_id).bind(2, jti).bind(3, now()).run());
    IPA_PREPARE(ins, *db_, "INSERT INTO auth_jti(client_id, jti, expires) VALUES(?1, ?2, ?3)");
    ins.bind(1, client_id).bind(2, jti).bind(3, expires);
    IPA_RETURN_IF_ERROR(ins.run(core::conflict("This jti was used before.")));
    return txn.commit();
  }

  // ---- signing keys ----

  Result<std::vector<SigningKey>> active_signing_keys() override {
    std::lock_guard lock(mu_);
    return read_keys(
        "SELECT kid, alg, private_jwk, created, retired, expires FROM auth_signing_key "
        "WHERE retired IS NULL ORDER BY created DESC, kid DESC");
  }

  Result<std::vector<SigningKey>> list_signing_keys() override {
    std::lock_guard lock(mu_);
    return read_keys(
        "SELECT kid, alg, private_jwk, created, retired, expires FROM auth_signing_key "
        "ORDER BY created DESC, kid DESC");
  }

  Status add_signing_key(const SigningKey& k) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_signing_key(kid, alg, private_jwk, created, retired, expires) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    st.bind(1, k.kid).bind(2, k.alg).bind(3, k.private_jwk).bind(4, k.created);
    if (k.retired) {
      st.bind(5, *k.retired);
    } else {
      st.bind_null(5);
    }
    if (k.expires) {
      st.bind(6, *k.expires);
    } else {
      st.bind_null(6);
    }
    return st.run(core::conflict("A signing key with this kid exists."));
  }

  Status retire_signing_key(const std::string& kid, core::TimePoint at,
                            core::TimePoint expires) override {
    std::lock_guard lock(mu_);
    // A second retirement keeps the first one's times: the key stopped signing then.
    IPA_PREPARE(st, *db_,
                "UPDATE auth_signing_key SET expires = CASE WHEN retired IS NULL THEN ?3 "
                "ELSE expires END, retired = COALESCE(retired, ?2) WHERE kid = ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, kid).bind(2, at).bind(3, expires).run());
    if (st.changes() == 0) return core::not_found("Unknown signing key.");
    return {};
  }

  // ---- throttling ----

  Result<int64_t> throttle_hit(const std::string& key, std::chrono::seconds window) override {
    std::lock_guard lock(mu_);
    int64_t t = now();
    int64_t end = t + std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_throttle(key, count, window_start, window_end) "
                "VALUES(?1, 1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET "
                "count = CASE WHEN window_end <= ?2 THEN 1 ELSE count + 1 END, "
                "window_start = CASE WHEN window_end <= ?2 THEN ?2 ELSE window_start END, "
                "window_end = CASE WHEN window_end <= ?2 THEN ?3 ELSE window_end END "
                "RETURNING count");
    st.bind(1, key).bind(2, t).bind(3, end);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::internal("auth store: throttle upsert returned no row");
    return st.integer(0);
  }

  Status throttle_reset(const std::string& key) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_, "DELETE FROM auth_throttle WHERE key = ?1");
    return st.bind(1, key).run();
  }

  // ---- audit ----

  Status append_audit(const std::vector<AuditEvent>& events) override {
    if (events.empty()) return {};
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_audit(time, type, client_id, username, patient, outcome, "
                "detail, resource_type, resource_id, status, node, count, last_time) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    for (const AuditEvent& e : events) {
      st.bind(1, e.time).bind(2, e.type).bind(3, e.client_id).bind(4, e.username);
      st.bind(5, e.patient).bind(6, e.outcome).bind(7, e.detail).bind(8, e.resource_type);
      st.bind(9, e.resource_id).bind(10, static_cast<int64_t>(e.status)).bind(11, e.node);
      st.bind(12, std::max<int64_t>(1, e.count));
      st.bind(13, e.count > 1 ? to_ms(e.last_time) : int64_t{0});
      IPA_RETURN_IF_ERROR(st.run());
      IPA_RETURN_IF_ERROR(st.reset());
    }
    return txn.commit();
  }

  Result<std::vector<AuditEvent>> recent_audit(int limit) override {
    AuditQuery q;
    q.limit = limit;
    return find_audit(q);
  }

  Result<std::vector<AuditEvent>> find_audit(const AuditQuery& q) override {
    std::lock_guard lock(mu_);
    // Unset bounds bind values that match everything; a patient uses auth_audit_by_patient.
    static const std::string any = std::string("SELECT ") + kAuditColumns +
                                   " FROM auth_audit WHERE ?1 = '' AND time >= ?2 AND "
                                   "time <= ?3 AND seq < ?4 ORDER BY seq DESC LIMIT ?5";
    static const std::string one = std::string("SELECT ") + kAuditColumns +
                                   " FROM auth_audit WHERE patient = ?1 AND time >= ?2 AND "
                                   "time <= ?3 AND seq < ?4 ORDER BY seq DESC LIMIT ?5";
    IPA_PREPARE(st, *db_, q.patient.empty() ? any.c_str() : one.c_str());
    st.bind(1, q.patient);
    st.bind(2, q.since ? to_ms(*q.since) : std::numeric_limits<int64_t>::min());
    st.bind(3, q.until ? to_ms(*q.until) : std::numeric_limits<int64_t>::max());
    st.bind(4, q.before_id > 0 ? q.before_id : std::numeric_limits<int64_t>::max());
    st.bind(5, static_cast<int64_t>(q.limit));
    std::vector<AuditEvent> out;
    for (;;) {
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) break;
      out.push_back(audit_row(st));
    }
    return out;
  }

  Result<AuditEvent> get_audit(int64_t id) override {
    std::lock_guard lock(mu_);
    static const std::string sql =
        std::string("SELECT ") + kAuditColumns + " FROM auth_audit WHERE seq = ?1";
    IPA_PREPARE(st, *db_, sql.c_str());
    st.bind(1, id);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("No such audit event.");
    return audit_row(st);
  }

  // ---- purge ----

  Result<int64_t> purge_expired(std::chrono::seconds code_retention) override {
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    int64_t t = now();
    int64_t code_cutoff =
        t - std::chrono::duration_cast<std::chrono::milliseconds>(code_retention).count();
    int64_t total = 0;
    const std::pair<const char*, int64_t> deletes[] = {
        {"DELETE FROM auth_session WHERE expires <= ?1", t},
        {"DELETE FROM auth_request WHERE expires <= ?1", t},
        {"DELETE FROM auth_refresh_token WHERE expires <= ?1", t},
        {"DELETE FROM auth_jti WHERE expires <= ?1", t},
        {"DELETE FROM auth_throttle WHERE window_end <= ?1", t},
        {"DELETE FROM auth_code WHERE expires <= ?1", code_cutoff},
        // Retired keys whose last token has expired: no longer in any JWKS, never needed again.
        {"DELETE FROM auth_signing_key WHERE expires <= ?1", t},
    };
    for (const auto& [sql, cutoff] : deletes) {
      IPA_PREPARE(st, *db_, sql);
      IPA_RETURN_IF_ERROR(st.bind(1, cutoff).run());
      total += st.changes();
    }
    IPA_RETURN_IF_ERROR(txn.commit());
    return total;
  }

  Result<int64_t> purge_system_grants(core::TimePoint issued_before) override {
    std::lock_guard lock(mu_);
    // auth_grant_by_user (username, created) serves this range.
    IPA_PREPARE(st, *db_,
                "DELETE FROM auth_grant WHERE username = '' AND patient = '' AND created <= ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, issued_before).run());
    return st.changes();
  }

  Result<std::vector<std::string>> revoke_grants(const GrantFilter& f) override {
    if (f.username.empty() && f.client_id.empty() && f.patient.empty()) {
      return core::bad_request(core::IssueType::kRequired,
                               "Name a user, a client or a patient whose grants to revoke.");
    }
    std::lock_guard lock(mu_);
    Txn txn(*db_);
    IPA_RETURN_IF_ERROR(txn.begin());
    std::vector<std::string> ids;
    {
      IPA_PREPARE(st, *db_,
                  "UPDATE auth_grant SET revoked = 1 WHERE revoked = 0 "
                  "AND (?1 = '' OR username = ?1) AND (?2 = '' OR client_id = ?2) "
                  "AND (?3 = '' OR patient = ?3) RETURNING id");
      st.bind(1, f.username).bind(2, f.client_id).bind(3, f.patient);
      for (;;) {
        auto row = st.step();
        IPA_RETURN_IF_ERROR(row);
        if (!*row) break;
        ids.push_back(st.text(0));
      }
    }
    for (const std::string& id : ids) {
      IPA_PREPARE(tokens, *db_, "DELETE FROM auth_refresh_token WHERE grant_id = ?1");
      IPA_RETURN_IF_ERROR(tokens.bind(1, id).run());
      IPA_PREPARE(codes, *db_, "DELETE FROM auth_code WHERE grant_id = ?1 AND used = 0");
      IPA_RETURN_IF_ERROR(codes.bind(1, id).run());
    }
    IPA_RETURN_IF_ERROR(txn.commit());
    return ids;
  }

  Result<int64_t> delete_user_sessions(const std::string& username) override {
    std::lock_guard lock(mu_);
    IPA_PREPARE(st, *db_, "DELETE FROM auth_session WHERE username = ?1");
    IPA_RETURN_IF_ERROR(st.bind(1, username).run());
    return st.changes();
  }

 private:
  int64_t now() const { return to_ms(clock_->now()); }

  static void bind_client(Stmt& st, const Client& c) {
    st.bind(1, c.client_id).bind(2, c.name).bind(3, static_cast<int64_t>(c.type));
    st.bind(4, c.scope).bind(5, c.jwks).bind(6, c.jwks_uri).bind(7, c.secret_hash);
    st.bind(8, c.token_endpoint_auth_method).bind(9, c.registration).bind(10, c.created);
  }

  static Client read_client(const Stmt& st) {
    Client c;
    c.client_id = st.text(0);
    c.name = st.text(1);
    c.type = static_cast<ClientType>(st.integer(2));
    c.scope = st.text(3);
    c.jwks = st.text(4);
    c.jwks_uri = st.text(5);
    c.secret_hash = st.text(6);
    c.token_endpoint_auth_method = st.text(7);
    c.registration = st.text(8);
    c.created = st.time(9);
    return c;
  }

  Status write_redirect_uris(const Client& c) {
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_client_redirect_uri(client_id, pos, uri) VALUES(?1, ?2, ?3)");
    for (size_t i = 0; i < c.redirect_uris.size(); ++i) {
      st.bind(1, c.client_id).bind(2, static_cast<int64_t>(i)).bind(3, c.redirect_uris[i]);
      IPA_RETURN_IF_ERROR(st.run());
      IPA_RETURN_IF_ERROR(st.reset());
    }
    return {};
  }

  Status read_redirect_uris(Client& c) {
    IPA_PREPARE(st, *db_,
                "SELECT uri FROM auth_client_redirect_uri WHERE client_id = ?1 ORDER BY pos");
    st.bind(1, c.client_id);
    for (;;) {
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) return {};
      c.redirect_uris.push_back(st.text(0));
    }
  }

  Status require_user(const std::string& username) {
    IPA_PREPARE(st, *db_, "SELECT 1 FROM auth_user WHERE username = ?1");
    st.bind(1, username);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown user.");
    return {};
  }

  Status write_patients(const std::string& username, const std::vector<std::string>& patients) {
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_user_patient(username, pos, patient) VALUES(?1, ?2, ?3)");
    for (size_t i = 0; i < patients.size(); ++i) {
      st.bind(1, username).bind(2, static_cast<int64_t>(i)).bind(3, patients[i]);
      IPA_RETURN_IF_ERROR(st.run());
      IPA_RETURN_IF_ERROR(st.reset());
    }
    return {};
  }

  Result<AuthorizationRequest> read_request(const std::string& id) {
    IPA_PREPARE(st, *db_,
                "SELECT id, session_id_hash, client_id, redirect_uri, scope, state, aud, "
                "code_challenge, code_challenge_method, nonce, launch, patient, created, expires "
                "FROM auth_request WHERE id = ?1 AND expires > ?2");
    st.bind(1, id).bind(2, now());
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown or expired authorization request.");
    AuthorizationRequest r;
    r.id = st.text(0);
    r.session_id_hash = st.text(1);
    r.client_id = st.text(2);
    r.redirect_uri = st.text(3);
    r.scope = st.text(4);
    r.state = st.text(5);
    r.aud = st.text(6);
    r.code_challenge = st.text(7);
    r.code_challenge_method = st.text(8);
    r.nonce = st.text(9);
    r.launch = st.text(10);
    r.patient = st.text(11);
    r.created = st.time(12);
    r.expires = st.time(13);
    return r;
  }

  Status insert_session(const Session& s) {
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_session(id_hash, username, csrf_token, created, expires) "
                "VALUES(?1, ?2, ?3, ?4, ?5)");
    st.bind(1, s.id_hash).bind(2, s.username).bind(3, s.csrf_token).bind(4, s.created);
    st.bind(5, s.expires);
    return st.run(core::conflict("A session with this id exists."));
  }

  static Grant read_grant(const Stmt& st) {
    Grant g;
    g.id = st.text(0);
    g.client_id = st.text(1);
    g.username = st.text(2);
    g.patient = st.text(3);
    g.scope = st.text(4);
    g.aud = st.text(5);
    g.created = st.time(6);
    g.revoked = st.integer(7) != 0;
    return g;
  }

  Status insert_refresh_token(const RefreshToken& t) {
    IPA_PREPARE(st, *db_,
                "INSERT INTO auth_refresh_token(token_hash, grant_id, client_id, scope, created, "
                "expires, used) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    st.bind(1, t.token_hash).bind(2, t.grant_id).bind(3, t.client_id).bind(4, t.scope);
    st.bind(5, t.created).bind(6, t.expires).bind(7, int64_t{t.used ? 1 : 0});
    return st.run(core::conflict("This refresh token exists."));
  }

  Result<RefreshToken> read_refresh_token(const std::string& token_hash) {
    IPA_PREPARE(st, *db_,
                "SELECT token_hash, grant_id, client_id, scope, created, expires, used "
                "FROM auth_refresh_token WHERE token_hash = ?1");
    st.bind(1, token_hash);
    auto row = st.step();
    IPA_RETURN_IF_ERROR(row);
    if (!*row) return core::not_found("Unknown refresh token.");
    RefreshToken t;
    t.token_hash = st.text(0);
    t.grant_id = st.text(1);
    t.client_id = st.text(2);
    t.scope = st.text(3);
    t.created = st.time(4);
    t.expires = st.time(5);
    t.used = st.integer(6) != 0;
    // A rotated token is reported as used even past its expiry, so a late replay still revokes.
    if (!t.used && t.expires <= clock_->now()) return core::gone("The refresh token expired.");
    return t;
  }

  Result<std::vector<SigningKey>> read_keys(const char* sql) {
    IPA_PREPARE(st, *db_, sql);
    std::vector<SigningKey> out;
    for (;;) {
      auto row = st.step();
      IPA_RETURN_IF_ERROR(row);
      if (!*row) return out;
      SigningKey k;
      k.kid = st.text(0);
      k.alg = st.text(1);
      k.private_jwk = st.text(2);
      k.created = st.time(3);
      if (!st.is_null(4)) k.retired = st.time(4);
      if (!st.is_null(5)) k.expires = st.time(5);
      out.push_back(std::move(k));
    }
  }

  std::mutex mu_;
  std::unique_ptr<Db> db_;
  std::shared_ptr<core::Clock> clock_;
};

}  // namespace

Result<std::unique_ptr<AuthStore>> open_sqlite_auth_store(const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(options.path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto db = std::make_unique<Db>(raw);  // closes `raw` on every path, even a failed open
  if (rc != SQLITE_OK) {
    return core::unavailable("The authorization database cannot be opened.")
        .with_log("auth store: open " + options.path + ": " + sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(raw, 5000);
  IPA_RETURN_IF_ERROR(db->exec("PRAGMA journal_mode=WAL"));
  IPA_RETURN_IF_ERROR(
      db->exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  IPA_RETURN_IF_ERROR(db->exec("PRAGMA foreign_keys=ON"));
  auto store = std::make_unique<SqliteAuthStore>(std::move(db), options.clock);
  IPA_RETURN_IF_ERROR(store->migrate());
  return std::unique_ptr<AuthStore>(std::move(store));
}

}  // namespace ipa::storage::sqlite
