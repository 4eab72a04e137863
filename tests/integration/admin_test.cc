// `ipa-server admin` against a running server sharing its store: revoking a user's access,
// changing a password and removing a client end the tokens at once (grant-status cache, 1 s on
// the test clock); `user grant` writes the RelatedPerson that fhirUser names; key rotation keeps
// old tokens verifying until they expire; CORS follows registered and configured origins; a
// jwks_uri on an internal address is refused at registration.
#include <gtest/gtest.h>

#include "harness.h"
#include "jose/jws.h"
#include "launch_helpers.h"

namespace ipa::testing {
namespace {

using launch::form;
using launch::post_form;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_file_ = dir_.file("clock");
    launch::set_clock(clock_file_, 0);
    server_ = std::make_unique<ServerProcess>(
        dir_.file("ipa.db"), std::vector<std::string>{"--patients", "6", "--cors-origin",
                                                      "https://app.example.org"},
        env(), "demo", /*with_auth=*/true);
  }
  std::vector<std::string> env() const {
    return {"IPA_TEST_FAST_HASH=1", "IPA_TEST_CLOCK_FILE=" + clock_file_};
  }
  RunResult admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--store", dir_.file("ipa.db")});
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
  std::vector<std::string> jwks_kids() {
    std::vector<std::string> out;
    json::Value v = body_json(server_->get("/auth/jwks"));
    const json::Value* keys = v.find("keys");
    if (keys == nullptr) return out;
    for (const json::Value& k : keys->items()) out.emplace_back(k.get_string("kid"));
    return out;
  }

  TempDir dir_;
  std::string clock_file_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(AdminTest, RevokingAPatientEndsThatPatientsGrantsOnly) {
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

TEST_F(AdminTest, PasswordChangeEndsGrantsAndSessions) {
  auto t = launch::standalone(*server_, "patient", "pat-0006");
  ASSERT_EQ(read_status(t.access_token, "/fhir/Patient/pat-0006"), 200);
  std::ofstream(dir_.file("pw")) << "a new password 123\n";
  std::ofstream(dir_.file("short")) << "short\n";
  EXPECT_EQ(admin({"user", "passwd", "--username", "patient", "--password-file", dir_.file("short")})
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

TEST_F(AdminTest, ClientListAndRemove) {
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

TEST_F(AdminTest, GrantWritesTheRelatedPersonThatFhirUserNames) {
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
  r = admin({"user", "grant", "--username", "patient", "--patient", "pat-0001",
             "--relationship", "FRND"});
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

TEST_F(AdminTest, KeyRotationKeepsOldTokensUntilTheyExpire) {
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

TEST_F(AdminTest, CorsForRegisteredAndConfiguredOriginsOnly) {
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
  for (const char* path : {"/fhir/.well-known/smart-configuration", "/fhir/metadata",
                           "/auth/jwks"}) {
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

TEST_F(AdminTest, JwksUriOnAnInternalAddressIsRefused) {
  struct Case {
    const char* uri;
    const char* kind;
  };
  for (const Case& c : {Case{"https://10.0.0.1/jwks", "private"},
                        Case{"https://169.254.169.254/latest/jwks", "link-local"},
                        Case{"https://[::1]/jwks", "loopback"},
                        Case{"https://[fd00::5]/jwks", "unique local"},
                        Case{"http://127.0.0.1:9/jwks", "https"}}) {
    SCOPED_TRACE(c.uri);
    auto r = server_->send(
        "POST", "/auth/register",
        std::string(R"({"redirect_uris":["https://a.example/cb"],)") +
            R"("token_endpoint_auth_method":"private_key_jwt","jwks_uri":")" + c.uri + "\"}",
        {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << r.body;
    json::Value v = body_json(r);
    EXPECT_EQ(v.get_string("error"), "invalid_client_metadata");
    EXPECT_NE(std::string(v.get_string("error_description")).find(c.kind), std::string::npos)
        << v.get_string("error_description");
  }
}

}  // namespace
}  // namespace ipa::testing
