// `ipa-server admin` against a running server sharing its store: revoking a user's access,
// changing a password and removing a client end the tokens at once (grant-status cache, 1 s on
// the test clock); `user grant` writes the RelatedPerson that fhirUser names; key rotation keeps
// old tokens verifying until they expire; CORS follows registered and configured origins; a
// jwks_uri on an internal address is refused at registration; `client add` keeps system/ scopes
// for backend clients; client_credentials grants are purged once their tokens expired. Every
// case runs on SQLite and on PostgreSQL (IPA_TEST_POSTGRES; IPA_ALLOW_NO_POSTGRES=1 skips that
// half), where a second server process on the same database also picks up a rotated key.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "backend_helpers.h"
#include "harness.h"
#include "jose/jws.h"
#include "launch_helpers.h"
#include "pg_harness.h"
#include "store_helpers.h"

namespace ipa::testing {
namespace {

using launch::form;
using launch::post_form;

class AdminTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_admin");
    if (store_.empty()) return;
    clock_file_ = dir_.file("clock");
    launch::set_clock(clock_file_, 0);
    server_ = std::make_unique<ServerProcess>(
        store_,
        std::vector<std::string>{"--patients", "6", "--cors-origin", "https://app.example.org"},
        env(), "demo", /*with_auth=*/true, dir_.file("srv"));
  }
  void TearDown() override {
    second_.reset();
    server_.reset();
  }
  std::vector<std::string> env() const {
    return {"IPA_TEST_FAST_HASH=1", "IPA_TEST_CLOCK_FILE=" + clock_file_};
  }
  RunResult admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--store", store_});
    return run_server_command(args, env());
  }
  int read_status(const std::string& token, const std::string& path) {
    return server_->get(path, {{"Authorization", "Bearer " + token}}).status;
  }
  static std::string kid_of(const std::string& jwt) {
    auto text = jose::base64url_decode(jwt.substr(0, jwt.find('.')));
    if (!text.ok()) return "";
    auto header = json::parse(*text);
    return header.ok() ? std::string(header->get_string("kid")) : "";
  }
  std::vector<std::string> jwks_kids(const ServerProcess* server = nullptr) {
    std::vector<std::string> out;
    json::Value v = body_json((server ? server : server_.get())->get("/auth/jwks"));
    const json::Value* keys = v.find("keys");
    if (keys == nullptr) return out;
    for (const json::Value& k : keys->items()) out.emplace_back(k.get_string("kid"));
    return out;
  }

  // Signs in on the management page as `username` (password ipa-demo); returns the session
  // cookie's value.
  std::string manage_sign_in(const std::string& username) {
    std::string cookie;
    auto keep = [&](const http::ClientResponse& r) {
      for (const auto& h : r.headers) {
        if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 &&
            h.value.rfind("ipa_session=", 0) == 0) {
          cookie = h.value.substr(12, h.value.find(';') - 12);
        }
      }
    };
    auto page = server_->get("/auth/manage");
    keep(page);
    auto r = post_form(*server_, "/auth/manage",
                       form({{"csrf_token", launch::hidden_value(page.body, "csrf_token")},
                             {"username", username},
                             {"password", "ipa-demo"}}),
                       {{"Cookie", "ipa_session=" + cookie}});
    EXPECT_EQ(r.status, 303) << r.body;
    keep(r);
    return cookie;
  }
  // Whether the management page shows the session `cookie` as signed in (no password form).
  bool manage_signed_in(const std::string& cookie) {
    auto page = server_->get("/auth/manage", {{"Cookie", "ipa_session=" + cookie}});
    EXPECT_EQ(page.status, 200);
    return page.body.find("name=\"password\"") == std::string::npos;
  }
  // The stored form of a session id or refresh token (auth::secret_hash).
  static std::string hashed(const std::string& secret) {
    return jose::base64url_encode(jose::sha256(secret));
  }
  // Polls `done` (every 50 ms, real time) until it holds or `limit` passes; returns it.
  template <typename F>
  static bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }
  // A second node on the same store and test clock that purges expired auth state every 100 ms.
  void start_purging_node() {
    std::vector<std::string> e = env();
    e.push_back("IPA_TEST_PURGE_INTERVAL_MS=100");
    second_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{}, e, "serve",
                                              /*with_auth=*/true, dir_.file("srv2"));
    ASSERT_GT(second_->port(), 0);
  }

  std::string clock_file_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ServerProcess> second_;  // another node on the same store, when started
};

TEST_P(AdminTest, RevokingAPatientEndsThatPatientsGrantsOnly) {
  auto mine = launch::standalone(*server_, "caregiver", "pat-0001");
  auto child = launch::standalone(*server_, "caregiver", "pat-0002");
  ASSERT_EQ(read_status(child.access_token, "/fhir/Patient/pat-0002"), 200);
  auto r = admin({"user", "revoke", "--username", "caregiver", "--patient", "pat-0002"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 app grants ended"), std::string::npos) << r.out;
  launch::set_clock(clock_file_, 2);  // past the grant-status cache
  EXPECT_EQ(read_status(child.access_token, "/fhir/Patient/pat-0002"), 401);
  EXPECT_EQ(body_json(launch::refresh(*server_, child.refresh_token)).get_string("error"),
            "invalid_grant");
  EXPECT_EQ(read_status(mine.access_token, "/fhir/Patient/pat-0001"), 200);
  // The patient is gone from the picker's list: a second revoke finds nothing.
  r = admin({"user", "revoke", "--username", "caregiver", "--patient", "pat-0002"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("no access"), std::string::npos) << r.err;
  EXPECT_EQ(admin({"user", "revoke", "--username", "nobody", "--patient", "pat-0002"}).exit_code,
            3);
}

TEST_P(AdminTest, PasswordChangeEndsGrantsAndSessions) {
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0006"), 200);
  std::ofstream(dir_.file("pw")) << "a new password 123\n";
  std::ofstream(dir_.file("short")) << "short\n";
  EXPECT_EQ(
      admin({"user", "passwd", "--username", "patient", "--password-file", dir_.file("short")})
          .exit_code,
      2);
  EXPECT_EQ(admin({"user", "passwd", "--username", "nobody", "--password-file", dir_.file("pw")})
                .exit_code,
            3);
  auto r = admin({"user", "passwd", "--username", "patient", "--password-file", dir_.file("pw")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  launch::set_clock(clock_file_, 2);
  EXPECT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0006"), 401);
  EXPECT_EQ(body_json(launch::refresh(*server_, t.refresh_token)).get_string("error"),
            "invalid_grant");
}

TEST_P(AdminTest, ClientListAndRemove) {
  auto r = admin({"client", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("demo-symmetric"), std::string::npos);
  EXPECT_NE(r.out.find("confidential-symmetric"), std::string::npos);
  EXPECT_NE(r.out.find("http://127.0.0.1:8000/callback"), std::string::npos);
  std::string secret;
  std::ifstream(dir_.path() + "/demo-symmetric.secret") >> secret;
  if (!secret.empty()) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "client list must never show a secret";
  }
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0006"), 200);
  EXPECT_EQ(admin({"client", "remove", "--client-id", "no-such-app"}).exit_code, 3);
  r = admin({"client", "remove", "--client-id", "ipa-demo-app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  launch::set_clock(clock_file_, 2);
  EXPECT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0006"), 401);
  EXPECT_EQ(admin({"client", "list"}).out.find("ipa-demo-app"), std::string::npos);
}

TEST_P(AdminTest, GrantWritesTheRelatedPersonThatFhirUserNames) {
  EXPECT_EQ(admin({"user", "grant", "--username", "patient", "--patient", "pat-9999",
                   "--relationship", "FRND"})
                .exit_code,
            3);
  EXPECT_EQ(admin({"user", "grant", "--username", "patient", "--patient", "pat-0001",
                   "--relationship", "not a code"})
                .exit_code,
            2);
  auto r = admin({"user", "grant", "--username", "patient", "--patient", "pat-0001",
                  "--relationship", "FRND"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(created)"), std::string::npos) << r.out;
  r = admin({"user", "grant", "--username", "patient", "--patient", "pat-0001", "--relationship",
             "FRND"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(existing)"), std::string::npos) << r.out;
  std::string rp = r.out.substr(r.out.find("RelatedPerson/"));
  rp = rp.substr(0, rp.find(' '));
  auto t = launch::standalone(*server_, "patient", "pat-0001");
  ASSERT_FALSE(t.id_token.empty());
  auto payload = jose::base64url_decode(t.id_token.substr(
      t.id_token.find('.') + 1, t.id_token.rfind('.') - t.id_token.find('.') - 1));
  ASSERT_TRUE(payload.ok());
  auto claims = json::parse(*payload);
  ASSERT_TRUE(claims.ok());
  EXPECT_NE(std::string(claims->get_string("fhirUser")).find(rp), std::string::npos)
      << claims->get_string("fhirUser") << " vs " << rp;
  EXPECT_EQ(read_status(t.access_token, "/fhir/" + rp), 200);
}

TEST_P(AdminTest, KeyRotationKeepsOldTokensUntilTheyExpire) {
  auto before = launch::standalone(*server_, "patient", "pat-0006");
  std::string old_kid = kid_of(before.access_token);
  ASSERT_FALSE(old_kid.empty());
  EXPECT_EQ(admin({"keys", "rotate", "--alg", "HS256"}).exit_code, 2);
  auto r = admin({"keys", "rotate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  launch::set_clock(clock_file_, 10);  // past the key refresh period (5 s)
  auto after = launch::standalone(*server_, "patient", "pat-0006");
  std::string new_kid = kid_of(after.access_token);
  EXPECT_NE(new_kid, old_kid);
  EXPECT_NE(r.out.find(new_kid), std::string::npos) << r.out;
  EXPECT_EQ(read_status(before.access_token, "/fhir/Patient/pat-0006"), 200);
  EXPECT_EQ(read_status(after.access_token, "/fhir/Patient/pat-0006"), 200);
  auto kids = jwks_kids();
  EXPECT_NE(std::find(kids.begin(), kids.end(), old_kid), kids.end());
  EXPECT_NE(std::find(kids.begin(), kids.end(), new_kid), kids.end());
  // Every token the old key signed has expired (1 h + refresh + leeway): it leaves the JWKS.
  launch::set_clock(clock_file_, 2 * 3600);
  kids = jwks_kids();
  EXPECT_EQ(std::find(kids.begin(), kids.end(), old_kid), kids.end());
  EXPECT_NE(std::find(kids.begin(), kids.end(), new_kid), kids.end());
}

TEST_P(AdminTest, CorsForRegisteredAndConfiguredOriginsOnly) {
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  auto preflight = [&](const std::string& path, const std::string& origin) {
    return server_->send("OPTIONS", path, "",
                         {{"Origin", origin},
                          {"Access-Control-Request-Method", "GET"},
                          {"Access-Control-Request-Headers", "authorization, if-match"}});
  };
  for (const std::string origin : {"https://app.example.org", "http://127.0.0.1:8000"}) {
    SCOPED_TRACE(origin);
    auto p = preflight("/fhir/Patient/pat-0006", origin);
    EXPECT_EQ(p.header("Access-Control-Allow-Origin"), origin);
    EXPECT_NE(p.header("Access-Control-Allow-Headers").find("If-Match"), std::string::npos);
    EXPECT_NE(p.header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
    EXPECT_NE(p.header("Access-Control-Allow-Methods").find("GET"), std::string::npos);
    EXPECT_EQ(p.header("Vary"), "Origin");
    EXPECT_EQ(p.header("Access-Control-Allow-Credentials"), "");
    auto g = server_->get("/fhir/Patient/pat-0006",
                          {{"Authorization", "Bearer " + t.access_token}, {"Origin", origin}});
    EXPECT_EQ(g.status, 200);
    EXPECT_EQ(g.header("Access-Control-Allow-Origin"), origin);
    auto tok = post_form(*server_, "/auth/token", form({{"grant_type", "refresh_token"}}),
                         {{"Origin", origin}});
    EXPECT_EQ(tok.header("Access-Control-Allow-Origin"), origin);
  }
  // An unknown origin gets no CORS headers at all, on the API and the token endpoint.
  auto p = preflight("/fhir/Patient/pat-0006", "https://evil.example");
  EXPECT_EQ(p.header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(p.header("Access-Control-Allow-Methods"), "");
  auto g = server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + t.access_token},
                                                   {"Origin", "https://evil.example"}});
  EXPECT_EQ(g.header("Access-Control-Allow-Origin"), "");
  auto tok = post_form(*server_, "/auth/token", form({{"grant_type", "refresh_token"}}),
                       {{"Origin", "https://evil.example"}});
  EXPECT_EQ(tok.header("Access-Control-Allow-Origin"), "");
  // Discovery, the JWKS and metadata stay open to any origin.
  for (const char* path :
       {"/fhir/.well-known/smart-configuration", "/fhir/metadata", "/auth/jwks"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(server_->get(path, {{"Origin", "https://evil.example"}})
                  .header("Access-Control-Allow-Origin"),
              "*");
  }
  // A newly registered app's origin may call the API at once.
  auto reg = server_->send("POST", "/auth/register",
                           R"({"redirect_uris":["https://new-app.example:8443/cb"]})",
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(reg.status, 201) << reg.body;
  EXPECT_EQ(preflight("/fhir/Patient", "https://new-app.example:8443")
                .header("Access-Control-Allow-Origin"),
            "https://new-app.example:8443");
}

TEST_P(AdminTest, JwksUriOnAnInternalAddressIsRefused) {
  struct Case {
    const char* uri;
    const char* kind;
  };
  for (const Case& c :
       {Case{"https://10.0.0.1/jwks", "private"},
        Case{"https://169.254.169.254/latest/jwks", "link-local"},
        Case{"https://[::1]/jwks", "loopback"}, Case{"https://[fd00::5]/jwks", "unique local"},
        Case{"http://127.0.0.1:9/jwks", "https"}}) {
    SCOPED_TRACE(c.uri);
    auto r = server_->send("POST", "/auth/register",
                           std::string(R"({"redirect_uris":["https://a.example/cb"],)") +
                               R"("token_endpoint_auth_method":"private_key_jwt","jwks_uri":")" +
                               c.uri + "\"}",
                           {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << r.body;
    json::Value v = body_json(r);
    EXPECT_EQ(v.get_string("error"), "invalid_client_metadata");
    EXPECT_NE(std::string(v.get_string("error_description")).find(c.kind), std::string::npos)
        << v.get_string("error_description");
  }
}

// A second server process on the same store (another node) publishes a key rotated by the admin
// command within its key refresh period (5 s) and signs with it: polled against the real time,
// the test clock stands still.
TEST_P(AdminTest, RotatedKeyReachesAnotherNodeWithinTheReloadInterval) {
  second_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{}, env(), "serve",
                                            /*with_auth=*/true, dir_.file("srv2"));
  auto before = launch::standalone(*second_, "patient", "pat-0006");
  std::string old_kid = kid_of(before.access_token);
  ASSERT_FALSE(old_kid.empty());
  auto kids = jwks_kids(second_.get());
  ASSERT_NE(std::find(kids.begin(), kids.end(), old_kid), kids.end());
  auto r = admin({"keys", "rotate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  std::string out = r.out;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("signing key (\\S+);"))) << r.out;
  std::string new_kid = m[1].str();
  auto rotated = std::chrono::steady_clock::now();
  auto deadline = rotated + std::chrono::seconds(5) + std::chrono::seconds(3);  // + slack
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    kids = jwks_kids(second_.get());
    seen = std::find(kids.begin(), kids.end(), new_kid) != kids.end();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen) << "the other node did not publish " << new_kid << " within 8 s";
  // Until every node has reloaded, tokens may still carry the old kid: poll signing too.
  std::string signed_with;
  while (signed_with != new_kid && std::chrono::steady_clock::now() < deadline) {
    signed_with = kid_of(launch::standalone(*second_, "patient", "pat-0006").access_token);
  }
  EXPECT_EQ(signed_with, new_kid);
  // The retired key keeps verifying (the token's aud is this node's base URL), and stays in the
  // JWKS.
  EXPECT_EQ(
      second_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + before.access_token}})
          .status,
      200);
  kids = jwks_kids(second_.get());
  EXPECT_NE(std::find(kids.begin(), kids.end(), old_kid), kids.end());
}

// system/ scopes are for backend clients, and backend clients take nothing else; `client list`
// says what an empty scope list means for each kind.
TEST_P(AdminTest, ClientScopesFollowTheClientType) {
  auto key = jose::Key::generate(jose::Alg::kES384);
  ASSERT_TRUE(key.ok());
  json::Value set = json::Value::object();
  set.set("keys", json::Value::array({key->public_jwk()}));
  std::ofstream(dir_.file("loader.jwks.json")) << json::write(set);
  std::ofstream(dir_.file("secret")) << "a-secret-of-enough-length-42\n";
  auto backend = [&](const std::string& id, std::vector<std::string> scope) {
    std::vector<std::string> args = {
        "client", "add",     "--client-id", id,
        "--type", "backend", "--jwks-file", dir_.file("loader.jwks.json")};
    args.insert(args.end(), scope.begin(), scope.end());
    return admin(args);
  };
  for (const std::string scope :
       {"patient/*.rs", "system/*.rs launch/patient", "openid", "user/Observation.rs"}) {
    SCOPED_TRACE(scope);
    auto r = backend("bad-backend", {"--scope", scope});
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("system/ scopes only"), std::string::npos) << r.err;
  }
  auto r = backend("bad-backend", {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("needs --scope"), std::string::npos) << r.err;
  EXPECT_EQ(backend("bad-backend", {"--scope", "system/Observation.rs?code=not a scope"}).exit_code,
            2);
  for (const std::string type : {"public", "asymmetric", "symmetric"}) {
    SCOPED_TRACE(type);
    std::vector<std::string> args = {
        "client",         "add",
        "--client-id",    "app-" + type,
        "--type",         type,
        "--redirect-uri", "http://127.0.0.1:7/cb",
        "--scope",        "launch/patient patient/*.rs system/Observation.rs"};
    if (type == "asymmetric")
      args.insert(args.end(), {"--jwks-file", dir_.file("loader.jwks.json")});
    if (type == "symmetric") args.insert(args.end(), {"--secret-file", dir_.file("secret")});
    r = admin(args);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("backend services only"), std::string::npos) << r.err;
  }
  r = backend("loader", {"--scope", "system/*.rs system/Observation.cruds"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = admin(
      {"client", "add", "--client-id", "reader-app", "--redirect-uri", "http://127.0.0.1:7/cb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = admin({"client", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto line_of = [&](const std::string& id) {
    size_t at = r.out.find("\n" + id + " ");
    if (at == std::string::npos) return std::string();
    return r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(line_of("loader").find("system/*.rs system/Observation.cruds"), std::string::npos)
      << r.out;
  EXPECT_NE(line_of("reader-app").find("(none listed: read/search scopes only, no writes)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("(any)"), std::string::npos) << r.out;
  EXPECT_EQ(line_of("bad-backend"), "");
  EXPECT_EQ(line_of("app-public"), "");
}

// Taking away a user's last record also ends their browser sessions; while a record is left,
// the sessions stay.
TEST_P(AdminTest, RevokingTheLastRecordEndsTheUsersSessions) {
  // The caregiver keeps two records after losing one: still signed in.
  std::string cookie = manage_sign_in("caregiver");
  ASSERT_TRUE(manage_signed_in(cookie));
  auto r = admin({"user", "revoke", "--username", "caregiver", "--patient", "pat-0002"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("sessions ended"), std::string::npos) << r.out;
  EXPECT_TRUE(manage_signed_in(cookie));
  // The patient user has one record: revoking it ends the session.
  cookie = manage_sign_in("patient");
  ASSERT_TRUE(manage_signed_in(cookie));
  r = admin({"user", "revoke", "--username", "patient", "--patient", "pat-0006"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no record left, 1 sign-in sessions ended"), std::string::npos) << r.out;
  EXPECT_FALSE(manage_signed_in(cookie));
}

// Every client_credentials request stores a grant; once its tokens have expired (1 h + leeway),
// the next token request deletes it. App grants (with a user) stay.
TEST_P(AdminTest, ClientCredentialsGrantsArePurgedOnceExpired) {
  auto key = add_backend_client(store_, "loader", "system/*.rs", dir_.file("loader.jwks.json"));
  ASSERT_NE(key, nullptr);
  auto app = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_FALSE(app.access_token.empty());
  long offset = 0;
  auto token = [&]() {
    auto r = client_credentials_token(*server_, *key, "loader", "system/Patient.rs", offset);
    EXPECT_EQ(r.status, 200) << r.body;
    std::string at(body_json(r).get_string("access_token"));
    size_t dot = at.find('.');
    auto payload = jose::base64url_decode(at.substr(dot + 1, at.rfind('.') - dot - 1));
    if (!payload.ok()) return std::string();
    auto v = json::parse(*payload);
    return v.ok() ? std::string(v->get_string("grant")) : std::string();
  };
  std::string first = token();
  std::string second = token();
  ASSERT_FALSE(first.empty());
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->get_grant(first).ok());  // its token is still valid
  // 30 minutes on: nothing has expired, nothing is purged.
  offset = 1800;
  launch::set_clock(clock_file_, offset);
  std::string third = token();
  EXPECT_TRUE(store->get_grant(first).ok());
  EXPECT_TRUE(store->get_grant(second).ok());
  // Past 1 h + 2 min after the first two: they go, the third (30 min old) stays.
  offset = 3600 + 130;
  launch::set_clock(clock_file_, offset);
  std::string fourth = token();
  for (const std::string& gone : {first, second}) {
    auto g = store->get_grant(gone);
    EXPECT_FALSE(g.ok()) << "grant " << gone << " was not purged";
    if (!g.ok()) {
      EXPECT_EQ(g.error().http_status, 404);
    }
  }
  EXPECT_TRUE(store->get_grant(third).ok());
  EXPECT_TRUE(store->get_grant(fourth).ok());
  auto grants = store->list_grants("patient");
  ASSERT_TRUE(grants.ok());
  EXPECT_FALSE(grants->empty()) << "an app grant must not be purged";
}

// The AuthStore judges expiry by the server's clock, the test clock included: a browser session
// past its 8 hours is refused and purged, a refresh token past its 90 days is refused and purged.
TEST_P(AdminTest, AuthStoreExpiryFollowsTheTestClock) {
  std::string cookie = manage_sign_in("patient");
  ASSERT_TRUE(manage_signed_in(cookie));
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_FALSE(t.refresh_token.empty());
  // The store opened here runs on the real clock: by it, both are still valid, so it finds them
  // until a node deletes the rows.
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->get_session(hashed(cookie)).ok());
  ASSERT_TRUE(store->get_refresh_token(hashed(t.refresh_token)).ok());
  // One hour on: the session is still good.
  launch::set_clock(clock_file_, 3600);
  EXPECT_TRUE(manage_signed_in(cookie));
  // Nine hours on: past the session's 8 hours.
  launch::set_clock(clock_file_, 9 * 3600);
  EXPECT_FALSE(manage_signed_in(cookie)) << "the session outlived its expiry on the test clock";
  // 91 days on: past the refresh token's 90 days; a node's purge deletes both rows.
  launch::set_clock(clock_file_, 91L * 24 * 3600);
  EXPECT_EQ(body_json(launch::refresh(*server_, t.refresh_token)).get_string("error"),
            "invalid_grant");
  start_purging_node();
  EXPECT_TRUE(eventually([&] {
    auto rt = store->get_refresh_token(hashed(t.refresh_token));
    return !rt.ok() && rt.error().http_status == 404;
  })) << "the refresh token was not purged";
  auto session = store->get_session(hashed(cookie));
  ASSERT_FALSE(session.ok()) << "the session was not purged";
  EXPECT_EQ(session.error().http_status, 404);
}

// A rotated-out key stays in the JWKS (and the store) until every token it signed has expired
// (1 h + the 5 s key refresh + 60 s leeway); then the periodic purge deletes it.
TEST_P(AdminTest, RetiredKeysAreDeletedOnceTheirTokensHaveExpired) {
  auto before = launch::standalone(*server_, "patient", "pat-0006");
  std::string old_kid = kid_of(before.access_token);
  ASSERT_FALSE(old_kid.empty());
  auto r = admin({"keys", "rotate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto store = open_auth_store(store_);
  ASSERT_NE(store, nullptr);
  auto stored_kids = [&] {
    std::vector<std::string> out;
    auto keys = store->list_signing_keys();
    EXPECT_TRUE(keys.ok());
    if (keys.ok()) {
      for (const auto& k : *keys) out.push_back(k.kid);
    }
    return out;
  };
  auto has = [](const std::vector<std::string>& v, const std::string& kid) {
    return std::find(v.begin(), v.end(), kid) != v.end();
  };
  auto keys = store->list_signing_keys();
  ASSERT_TRUE(keys.ok());
  for (const auto& k : *keys) {
    if (k.kid != old_kid) continue;
    ASSERT_TRUE(k.retired.has_value());
    ASSERT_TRUE(k.expires.has_value());
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*k.expires - *k.retired).count(),
              3600 + 5 + 60);
  }
  start_purging_node();
  // 50 minutes on: the old token is still valid, so its key stays published and stored, however
  // many purges run (20 at 100 ms).
  launch::set_clock(clock_file_, 3000);
  EXPECT_FALSE(
      eventually([&] { return !has(stored_kids(), old_kid); }, std::chrono::milliseconds(2000)))
      << "the retired key was deleted while its tokens were valid";
  EXPECT_TRUE(has(jwks_kids(), old_kid));
  EXPECT_EQ(read_status(before.access_token, "/fhir/Patient/pat-0006"), 200);
  // Past 1 h 1 min 5 s: the purge deletes it; it leaves the JWKS; the new key goes on signing.
  launch::set_clock(clock_file_, 3600 + 5 + 60 + 10);
  EXPECT_TRUE(eventually([&] { return !has(stored_kids(), old_kid); }))
      << "the retired key was never deleted";
  EXPECT_FALSE(has(jwks_kids(), old_kid));
  auto after = launch::standalone(*server_, "patient", "pat-0006");
  std::string new_kid = kid_of(after.access_token);
  EXPECT_NE(new_kid, old_kid);
  EXPECT_TRUE(has(stored_kids(), new_kid));
  EXPECT_TRUE(has(jwks_kids(), new_kid));
  EXPECT_EQ(read_status(after.access_token, "/fhir/Patient/pat-0006"), 200);
}

// `user revoke` ends the RelatedPerson `user grant` made (active false, period.end), so the
// relationship that fhirUser named no longer reads as current; a later grant makes the same
// resource active again and fhirUser names it again.
TEST_P(AdminTest, RevokeEndsTheRelatedPersonThatGrantMade) {
  auto r = admin({"user", "grant", "--username", "patient", "--patient", "pat-0001",
                  "--relationship", "FRND"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(r.out.find("RelatedPerson/"), std::string::npos) << r.out;
  std::string rp = r.out.substr(r.out.find("RelatedPerson/"));
  rp = rp.substr(0, rp.find(' '));
  auto fhir_user_of = [](const std::string& id_token) {
    size_t dot = id_token.find('.');
    auto payload = jose::base64url_decode(id_token.substr(dot + 1, id_token.rfind('.') - dot - 1));
    if (!payload.ok()) return std::string();
    auto claims = json::parse(*payload);
    return claims.ok() ? std::string(claims->get_string("fhirUser")) : std::string();
  };
  auto t = launch::standalone(*server_, "patient", "pat-0001");
  EXPECT_NE(fhir_user_of(t.id_token).find(rp), std::string::npos) << fhir_user_of(t.id_token);
  // The caregiver, who may see pat-0001, reads the RelatedPerson in that record.
  auto reader = launch::standalone(*server_, "caregiver", "pat-0001");
  auto read_rp = [&]() {
    auto g = server_->get("/fhir/" + rp, {{"Authorization", "Bearer " + reader.access_token}});
    EXPECT_EQ(g.status, 200) << g.body;
    return body_json(g);
  };
  json::Value before = read_rp();
  ASSERT_NE(before.find("active"), nullptr);
  EXPECT_TRUE(before.find("active")->as_bool());

  r = admin({"user", "revoke", "--username", "patient", "--patient", "pat-0001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(rp + " ended"), std::string::npos) << r.out;
  json::Value ended = read_rp();
  ASSERT_NE(ended.find("active"), nullptr) << json::write(ended);
  EXPECT_FALSE(ended.find("active")->as_bool());
  ASSERT_NE(ended.find("period"), nullptr) << json::write(ended);
  EXPECT_FALSE(ended.find("period")->get_string("end").empty());
  // Identifiers, relationship and patient are kept: the record still says who it was.
  EXPECT_EQ(json::write(*ended.find("identifier")), json::write(*before.find("identifier")));
  EXPECT_EQ(ended.find("patient")->get_string("reference"), "Patient/pat-0001");
  launch::set_clock(clock_file_, 2);  // past the grant-status cache
  EXPECT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0001"), 401);
  // The user's own record is untouched, and so is their own fhirUser.
  auto own = launch::standalone(*server_, "patient", "pat-0006");
  EXPECT_NE(fhir_user_of(own.id_token).find("Patient/pat-0006"), std::string::npos)
      << fhir_user_of(own.id_token);

  // Granted again: the same RelatedPerson is active again, without the end of its period.
  r = admin({"user", "grant", "--username", "patient", "--patient", "pat-0001", "--relationship",
             "FRND"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(rp + " (active again)"), std::string::npos) << r.out;
  json::Value again = read_rp();
  ASSERT_NE(again.find("active"), nullptr);
  EXPECT_TRUE(again.find("active")->as_bool());
  EXPECT_TRUE(again.find("period") == nullptr || again.find("period")->get_string("end").empty())
      << json::write(again);
  auto t2 = launch::standalone(*server_, "patient", "pat-0001");
  EXPECT_NE(fhir_user_of(t2.id_token).find(rp), std::string::npos) << fhir_user_of(t2.id_token);
}

INSTANTIATE_TEST_SUITE_P(Backends, AdminTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipa::testing
