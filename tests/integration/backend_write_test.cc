// SMART Backend Services (client_credentials with a private_key_jwt assertion, system/ scopes)
// and app writes with write scopes, through the real demo server over HTTP: a backend loads and
// reads data; the refusals of the token endpoint; patient-context writes inside the record
// succeed and every way out of the record is refused (create, update, delete, transaction).
#include <gtest/gtest.h>
#include <strings.h>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "backend_helpers.h"
#include "harness.h"
#include "jose/bytes.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "launch_helpers.h"

namespace ipa::testing {
namespace {

using launch::form;
using launch::hidden_value;
using launch::input_values;
using launch::path_of;
using launch::url_param;

const char* kRedirect = "http://127.0.0.1:9999/callback";
const char* kVitalSigns = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs";

std::string unescape_html(std::string s) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}}) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string observation(const std::string& patient, const std::string& category_code = "",
                        const std::string& id = "") {
  std::string out = R"({"resourceType":"Observation",)";
  if (!id.empty()) out += R"("id":")" + id + R"(",)";
  out += R"("status":"final",)";
  if (!category_code.empty()) {
    out += R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/)"
           R"(observation-category","code":")" +
           category_code + R"("}]}],)";
  }
  out += R"("code":{"text":"backend write test"},"subject":{"reference":"Patient/)" + patient +
         R"("}})";
  return out;
}

class BackendWriteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"},
                                "demo", /*with_auth=*/true);
    // Apps an administrator registered: one allowed write scopes, one with a granular write
    // scope; a backend service limited to reading Observations.
    admin({"client", "add", "--client-id", "writer-app", "--type", "public", "--redirect-uri",
           kRedirect, "--scope", "launch/patient openid fhirUser patient/*.cruds"});
    admin({"client", "add", "--client-id", "granular-app", "--type", "public", "--redirect-uri",
           kRedirect, "--scope",
           std::string("launch/patient patient/Observation.rs patient/Observation.c?category=") +
               kVitalSigns});
    auto generated = jose::Key::generate(jose::Alg::kES384);
    ASSERT_TRUE(generated.ok());
    limited_key_ = new jose::Key(std::move(*generated));
    json::Value set = json::Value::object();
    set.set("keys", json::Value::array({limited_key_->public_jwk()}));
    std::ofstream(dir_->file("limited.jwks.json")) << json::write(set);
    admin({"client", "add", "--client-id", "limited-backend", "--type", "backend", "--jwks-file",
           dir_->file("limited.jwks.json"), "--scope", "system/Observation.rs"});
  }
  static void TearDownTestSuite() {
    delete limited_key_;
    delete server_;
    delete dir_;
  }

  static void admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--store", dir_->file("ipa.db")});
    RunResult r = run_server_command(args, {"IPA_TEST_FAST_HASH=1"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // A client assertion by `client_id` signed by `key`, expiring in `exp_in` s, with aud the token
  // endpoint unless `aud` names another.
  static std::string assertion(const jose::Key& key, const std::string& client_id,
                               int64_t exp_in = 240, const std::string& aud = "") {
    return sign_assertion(
        key, assertion_claims(client_id, aud.empty() ? token_endpoint(*server_) : aud, exp_in));
  }

  static http::ClientResponse token(const std::vector<std::pair<std::string, std::string>>& f) {
    return server_->send("POST", "/auth/token", form(f),
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  }

  static http::ClientResponse client_credentials(const std::string& jwt, const std::string& scope) {
    return token({{"grant_type", "client_credentials"},
                  {"scope", scope},
                  {"client_assertion_type", kClientAssertionType},
                  {"client_assertion", jwt}});
  }

  // The demo's key file for `client_id`, from demo.json.
  static jose::Key demo_key(const std::string& client_id) {
    json::Value doc = *json::parse(read_text(dir_->file("demo.json")));
    json::Value clients = *doc.find("clients");
    for (const json::Value& c : clients.items()) {
      if (c.get_string("client_id") != client_id) continue;
      std::string file(c.get_string("private_jwk_file"));
      auto key = jose::Key::from_jwk(*json::parse(read_text(file)));
      EXPECT_TRUE(key.ok()) << file;
      return std::move(*key);
    }
    ADD_FAILURE() << client_id << " is not in demo.json";
    auto fallback = jose::Key::generate(jose::Alg::kES384);
    return std::move(*fallback);
  }

  static std::string backend_token(const std::string& scope = "system/*.cruds") {
    auto r = client_credentials(assertion(demo_key("demo-backend"), "demo-backend"), scope);
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(body_json(r).get_string("access_token"));
  }

  // A standalone launch as `username` (one record: no picker) approving every offered scope;
  // returns the token response. `consent_html` receives the consent page.
  static json::Value launch(const std::string& client_id, const std::string& scope,
                            const std::string& username = "patient",
                            std::string* consent_html = nullptr) {
    std::string verifier = "v" + jose::random_token(40);
    std::string challenge = jose::base64url_encode(jose::sha256(verifier));
    std::string cookie;
    auto remember = [&](http::ClientResponse r) {
      for (const auto& h : r.headers) {
        if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 &&
            h.value.rfind("ipa_session=", 0) == 0) {
          cookie = h.value.substr(12, h.value.find(';') - 12);
        }
      }
      return r;
    };
    auto headers = [&](bool post) {
      std::vector<http::Header> h;
      if (!cookie.empty()) h.push_back({"Cookie", "ipa_session=" + cookie});
      if (post) h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
      return h;
    };
    auto r = remember(server_->get("/auth/authorize?" + form({{"response_type", "code"},
                                                              {"client_id", client_id},
                                                              {"redirect_uri", kRedirect},
                                                              {"scope", scope},
                                                              {"state", "s-1"},
                                                              {"aud", server_->base()},
                                                              {"code_challenge", challenge},
                                                              {"code_challenge_method", "S256"}}),
                                   headers(false)));
    EXPECT_EQ(r.status, 303) << r.body;
    auto page = remember(server_->get(path_of(r.header("Location")), headers(false)));
    std::string request = hidden_value(page.body, "request");
    r = remember(server_->send("POST", "/auth/login",
                               form({{"request", request},
                                     {"csrf_token", hidden_value(page.body, "csrf_token")},
                                     {"username", username},
                                     {"password", "ipa-demo"}}),
                               headers(true)));
    EXPECT_EQ(r.status, 303) << r.body;
    page = remember(server_->get(path_of(r.header("Location")), headers(false)));
    EXPECT_EQ(page.status, 200);
    if (consent_html != nullptr) *consent_html = page.body;
    std::vector<std::pair<std::string, std::string>> fields = {
        {"request", request}, {"csrf_token", hidden_value(page.body, "csrf_token")}};
    for (const std::string& sc : input_values(page.body, "scope")) {
      fields.emplace_back("scope", unescape_html(sc));
    }
    fields.emplace_back("decision", "approve");
    r = remember(server_->send("POST", "/auth/consent", form(fields), headers(true)));
    EXPECT_EQ(r.status, 303) << r.body;
    std::string code = url_param(r.header("Location"), "code");
    EXPECT_FALSE(code.empty()) << r.header("Location");
    auto t = token({{"grant_type", "authorization_code"},
                    {"code", code},
                    {"redirect_uri", kRedirect},
                    {"client_id", client_id},
                    {"code_verifier", verifier}});
    EXPECT_EQ(t.status, 200) << t.body;
    return body_json(t);
  }

  static http::ClientResponse api(const std::string& bearer, const std::string& method,
                                  const std::string& path, const std::string& body = "") {
    std::vector<http::Header> h = {{"Authorization", "Bearer " + bearer}};
    if (!body.empty()) h.push_back({"Content-Type", "application/fhir+json"});
    return server_->send(method, path, body, h);
  }

  // The id of one Observation of `patient`, found with a backend token.
  static std::string observation_of(const std::string& patient) {
    auto r =
        api(backend_token(), "GET", "/fhir/Observation?subject=Patient/" + patient + "&_count=1");
    EXPECT_EQ(r.status, 200) << r.body;
    json::Value b = body_json(r);
    const json::Value* entry = b.find("entry");
    if (entry == nullptr || entry->items().empty()) {
      ADD_FAILURE() << "no Observation for " << patient;
      return "";
    }
    return std::string(entry->items()[0].find("resource")->get_string("id"));
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static jose::Key* limited_key_;
};

TempDir* BackendWriteTest::dir_ = nullptr;
ServerProcess* BackendWriteTest::server_ = nullptr;
jose::Key* BackendWriteTest::limited_key_ = nullptr;

TEST_F(BackendWriteTest, DiscoveryOffersClientCredentialsAndSystemScopes) {
  json::Value doc = body_json(server_->get("/fhir/.well-known/smart-configuration"));
  std::string grants = json::write(*doc.find("grant_types_supported"));
  EXPECT_NE(grants.find("\"client_credentials\""), std::string::npos) << grants;
  std::string scopes = json::write(*doc.find("scopes_supported"));
  EXPECT_NE(scopes.find("\"system/*.cruds\""), std::string::npos) << scopes;
}

TEST_F(BackendWriteTest, DemoJsonListsTheBackendWithAPrivateKeyFile) {
  json::Value doc = *json::parse(read_text(dir_->file("demo.json")));
  bool found = false;
  for (const json::Value& c : doc.find("clients")->items()) {
    if (c.get_string("client_id") != "demo-backend") continue;
    found = true;
    EXPECT_EQ(c.get_string("type"), "backend");
    EXPECT_EQ(c.get_string("scopes"), "system/*.cruds");
    struct stat st {};
    ASSERT_EQ(::stat(std::string(c.get_string("private_jwk_file")).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_TRUE(found);
}

TEST_F(BackendWriteTest, ClientCredentialsFlowLoadsAndReadsData) {
  auto r =
      client_credentials(assertion(demo_key("demo-backend"), "demo-backend"), "system/*.cruds");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  json::Value t = body_json(r);
  EXPECT_EQ(t.get_string("token_type"), "Bearer");
  EXPECT_EQ(t.get_string("scope"), "system/*.cruds");
  EXPECT_TRUE(t.find("expires_in") != nullptr && t.find("expires_in")->is_number());
  EXPECT_EQ(t.find("refresh_token"), nullptr);
  EXPECT_EQ(t.find("id_token"), nullptr);
  EXPECT_EQ(t.find("patient"), nullptr);
  std::string at(t.get_string("access_token"));

  // Load: a transaction creating a Patient and an Observation that references it.
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111",
     "resource":{"resourceType":"Patient","name":[{"family":"Loaded"}],"gender":"female"},
     "request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"loaded"},
     "subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}},
     "request":{"method":"POST","url":"Observation"}}]})";
  auto loaded = api(at, "POST", "/fhir", bundle);
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  json::Value lb = body_json(loaded);
  json::Value entries = *lb.find("entry");
  ASSERT_EQ(entries.items().size(), 2u);
  std::string pid(entries.items()[0].find("resource")->get_string("id"));
  std::string oid(entries.items()[1].find("resource")->get_string("id"));

  // Read: any patient's data, search without a compartment, $everything, history.
  EXPECT_EQ(api(at, "GET", "/fhir/Patient/" + pid).status, 200);
  EXPECT_EQ(api(at, "GET", "/fhir/Patient/pat-0001").status, 200);
  auto search = api(at, "GET", "/fhir/Observation?subject=Patient/" + pid);
  ASSERT_EQ(search.status, 200) << search.body;
  EXPECT_NE(search.body.find(oid), std::string::npos);
  auto everything = api(at, "GET", "/fhir/Patient/" + pid + "/$everything");
  EXPECT_EQ(everything.status, 200) << everything.body;
  EXPECT_NE(everything.body.find(oid), std::string::npos);
  EXPECT_EQ(api(at, "GET", "/fhir/Observation/" + oid + "/_history").status, 200);
  EXPECT_EQ(api(at, "GET", "/fhir/Observation/_history?_count=1").status, 200);

  // Update and delete.
  std::string changed = observation(pid, "", oid);
  EXPECT_EQ(api(at, "PUT", "/fhir/Observation/" + oid, changed).status, 200);
  auto del = api(at, "DELETE", "/fhir/Observation/" + oid);
  EXPECT_TRUE(del.status == 200 || del.status == 204) << del.status << del.body;
  EXPECT_EQ(api(at, "GET", "/fhir/Observation/" + oid).status, 410);

  // Introspection and revocation work for these tokens.
  auto intro = server_->send("POST", "/auth/introspect", form({{"token", at}}),
                             {{"Content-Type", "application/x-www-form-urlencoded"}});
  json::Value iv = body_json(intro);
  EXPECT_EQ(iv.find("active")->as_bool(), true) << intro.body;
  EXPECT_EQ(iv.get_string("client_id"), "demo-backend");
  EXPECT_EQ(iv.find("patient"), nullptr);
  auto rv = server_->send(
      "POST", "/auth/revoke",
      form({{"token", at},
            {"client_assertion_type", kClientAssertionType},
            {"client_assertion", assertion(demo_key("demo-backend"), "demo-backend")}}),
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(rv.status, 200) << rv.body;
  EXPECT_EQ(api(at, "GET", "/fhir/Patient/" + pid).status, 401);
}

TEST_F(BackendWriteTest, ClientCredentialsRefusals) {
  jose::Key backend = demo_key("demo-backend");
  // A public client cannot use client_credentials.
  auto pub = token({{"grant_type", "client_credentials"},
                    {"client_id", "ipa-demo-app"},
                    {"scope", "system/*.rs"}});
  EXPECT_EQ(pub.status, 400);
  EXPECT_EQ(body_json(pub).get_string("error"), "unauthorized_client");
  // Nor an asymmetric app client, though its assertion is good.
  auto asym =
      client_credentials(assertion(demo_key("demo-asymmetric"), "demo-asymmetric"), "system/*.rs");
  EXPECT_EQ(body_json(asym).get_string("error"), "unauthorized_client") << asym.body;

  // Dynamic registration refuses client_credentials and system/ scopes; a registered client
  // cannot use the grant either.
  auto reg = [&](const std::string& body) {
    return server_->send("POST", "/auth/register", body, {{"Content-Type", "application/json"}});
  };
  EXPECT_EQ(body_json(reg(R"({"redirect_uris":["http://127.0.0.1/cb"],)"
                          R"("grant_types":["client_credentials"]})"))
                .get_string("error"),
            "invalid_client_metadata");
  EXPECT_EQ(body_json(reg(R"({"redirect_uris":["http://127.0.0.1/cb"],"scope":"system/*.rs"})"))
                .get_string("error"),
            "invalid_client_metadata");
  EXPECT_EQ(body_json(reg(R"({"redirect_uris":["http://127.0.0.1/cb"],"scope":"patient/*.cruds"})"))
                .get_string("error"),
            "invalid_client_metadata");
  auto key = jose::Key::generate(jose::Alg::kES384);
  json::Value set = json::Value::object();
  set.set("keys", json::Value::array({key->public_jwk()}));
  auto dyn = reg(R"({"redirect_uris":["http://127.0.0.1/cb"],)"
                 R"("token_endpoint_auth_method":"private_key_jwt","jwks":)" +
                 json::write(set) + "}");
  ASSERT_EQ(dyn.status, 201) << dyn.body;
  std::string dyn_id(body_json(dyn).get_string("client_id"));
  auto dyn_cc = client_credentials(assertion(*key, dyn_id), "system/*.rs");
  EXPECT_EQ(body_json(dyn_cc).get_string("error"), "unauthorized_client") << dyn_cc.body;

  // Scopes: unknown or non-system scopes grant nothing; a system scope the client is not
  // allowed is dropped, and nothing left is invalid_scope.
  EXPECT_EQ(body_json(client_credentials(assertion(backend, "demo-backend"), "something-else"))
                .get_string("error"),
            "invalid_scope");
  EXPECT_EQ(body_json(client_credentials(assertion(backend, "demo-backend"), "patient/*.rs"))
                .get_string("error"),
            "invalid_scope");
  EXPECT_EQ(body_json(client_credentials(assertion(*limited_key_, "limited-backend"),
                                         "system/Patient.rs"))
                .get_string("error"),
            "invalid_scope");
  EXPECT_EQ(body_json(client_credentials(assertion(*limited_key_, "limited-backend"),
                                         "system/Observation.cruds"))
                .get_string("error"),
            "invalid_scope");
  auto narrowed = client_credentials(assertion(*limited_key_, "limited-backend"),
                                     "system/Observation.rs system/Patient.rs");
  ASSERT_EQ(narrowed.status, 200) << narrowed.body;
  json::Value nt = body_json(narrowed);
  EXPECT_EQ(nt.get_string("scope"), "system/Observation.rs");
  std::string limited(nt.get_string("access_token"));
  EXPECT_EQ(api(limited, "GET", "/fhir/Observation?_count=1").status, 200);
  EXPECT_EQ(api(limited, "GET", "/fhir/Patient/pat-0001").status, 403);
  EXPECT_EQ(api(limited, "POST", "/fhir/Observation", observation("pat-0001")).status, 403);

  // Bad assertions: another key, expired, replayed, wrong audience.
  auto stranger = jose::Key::generate(jose::Alg::kES384);
  stranger->set_kid(backend.kid());
  EXPECT_EQ(body_json(client_credentials(assertion(*stranger, "demo-backend"), "system/*.rs"))
                .get_string("error"),
            "invalid_client");
  EXPECT_EQ(body_json(client_credentials(assertion(backend, "demo-backend", -120), "system/*.rs"))
                .get_string("error"),
            "invalid_client");
  EXPECT_EQ(body_json(client_credentials(assertion(backend, "demo-backend", 3600), "system/*.rs"))
                .get_string("error"),
            "invalid_client");
  EXPECT_EQ(body_json(client_credentials(
                          assertion(backend, "demo-backend", 240, "https://other.example/token"),
                          "system/*.rs"))
                .get_string("error"),
            "invalid_client");
  std::string once = assertion(backend, "demo-backend");
  EXPECT_EQ(client_credentials(once, "system/*.rs").status, 200);
  EXPECT_EQ(body_json(client_credentials(once, "system/*.rs")).get_string("error"),
            "invalid_client");
}

TEST_F(BackendWriteTest, PatientWritesStayInsideTheRecord) {
  std::string consent;
  json::Value t = launch("writer-app", "launch/patient patient/*.cruds", "patient", &consent);
  EXPECT_NE(consent.find("The app can change this record"), std::string::npos);
  EXPECT_EQ(t.get_string("patient"), "pat-0006");
  EXPECT_EQ(t.get_string("scope"), "launch/patient patient/*.cruds");
  std::string at(t.get_string("access_token"));

  // Create inside the record.
  auto created = api(at, "POST", "/fhir/Observation", observation("pat-0006"));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string own(body_json(created).get_string("id"));
  EXPECT_EQ(api(at, "GET", "/fhir/Observation/" + own).status, 200);
  // Update inside the record.
  auto updated = api(at, "PUT", "/fhir/Observation/" + own, observation("pat-0006", "", own));
  EXPECT_EQ(updated.status, 200) << updated.body;

  // A create for another patient is refused.
  auto foreign = api(at, "POST", "/fhir/Observation", observation("pat-0001"));
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_EQ(body_json(foreign).get_string("resourceType"), "OperationOutcome");
  // An update may not move a resource out of the record; the stored version is unchanged.
  auto moved = api(at, "PUT", "/fhir/Observation/" + own, observation("pat-0001", "", own));
  EXPECT_EQ(moved.status, 403) << moved.body;
  auto still = api(at, "GET", "/fhir/Observation/" + own);
  EXPECT_NE(still.body.find("Patient/pat-0006"), std::string::npos);
  // Another patient's resource: update and delete are 404 and change nothing.
  std::string theirs = observation_of("pat-0001");
  ASSERT_FALSE(theirs.empty());
  auto into = api(at, "PUT", "/fhir/Observation/" + theirs, observation("pat-0006", "", theirs));
  EXPECT_EQ(into.status, 404) << into.body;
  EXPECT_EQ(api(at, "DELETE", "/fhir/Observation/" + theirs).status, 404);
  auto kept = api(backend_token(), "GET", "/fhir/Observation/" + theirs);
  EXPECT_EQ(kept.status, 200);
  EXPECT_NE(kept.body.find("Patient/pat-0001"), std::string::npos);
  // A Patient updates only itself; supporting resources are not writable.
  std::string me = api(at, "GET", "/fhir/Patient/pat-0006").body;
  EXPECT_EQ(api(at, "PUT", "/fhir/Patient/pat-0006", me).status, 200);
  std::string other = api(backend_token(), "GET", "/fhir/Patient/pat-0001").body;
  EXPECT_EQ(api(at, "PUT", "/fhir/Patient/pat-0001", other).status, 404);
  EXPECT_EQ(api(at, "POST", "/fhir/Practitioner",
                R"({"resourceType":"Practitioner","name":[{"family":"Self-made"}]})")
                .status,
            403);

  // A transaction with one foreign entry stores nothing.
  std::string tx = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" +
                   observation("pat-0006", "", "tx-own-1") +
                   R"(,"request":{"method":"PUT","url":"Observation/tx-own-1"}},
    {"resource":)" +
                   observation("pat-0001") +
                   R"(,"request":{"method":"POST","url":"Observation"}}]})";
  auto refused = api(at, "POST", "/fhir", tx);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(api(backend_token(), "GET", "/fhir/Observation/tx-own-1").status, 404);
  // A batch answers per entry: the own entry lands, the foreign one is refused.
  std::string batch = tx;
  batch.replace(batch.find("\"transaction\""), 13, "\"batch\"");
  auto mixed = api(at, "POST", "/fhir", batch);
  ASSERT_EQ(mixed.status, 200) << mixed.body;
  EXPECT_NE(mixed.body.find("403"), std::string::npos) << mixed.body;
  EXPECT_EQ(api(at, "GET", "/fhir/Observation/tx-own-1").status, 200);

  // Delete inside the record.
  auto gone = api(at, "DELETE", "/fhir/Observation/" + own);
  EXPECT_TRUE(gone.status == 200 || gone.status == 204) << gone.status << gone.body;
}

TEST_F(BackendWriteTest, WritesNeedWriteScopes) {
  // ipa-demo-app was registered without explicit scopes: read-only, whatever it asks for.
  json::Value t = launch("ipa-demo-app", "launch/patient patient/*.rs patient/*.cruds");
  EXPECT_EQ(t.get_string("scope"), "launch/patient patient/*.rs");
  std::string at(t.get_string("access_token"));
  auto r = api(at, "POST", "/fhir/Observation", observation("pat-0006"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(body_json(r).get_string("resourceType"), "OperationOutcome");
  EXPECT_NE(r.header("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  EXPECT_EQ(api(at, "DELETE", "/fhir/Observation/whatever").status, 403);
}

TEST_F(BackendWriteTest, GranularWriteScopesFilterTheWrittenResource) {
  json::Value t = launch("granular-app", std::string("launch/patient patient/Observation.rs "
                                                     "patient/Observation.c?category=") +
                                             kVitalSigns);
  std::string at(t.get_string("access_token"));
  ASSERT_FALSE(at.empty());
  auto vital = api(at, "POST", "/fhir/Observation", observation("pat-0006", "vital-signs"));
  EXPECT_EQ(vital.status, 201) << vital.body;
  auto lab = api(at, "POST", "/fhir/Observation", observation("pat-0006", "laboratory"));
  EXPECT_EQ(lab.status, 403) << lab.body;
  // No update permission at all.
  std::string id(body_json(vital).get_string("id"));
  EXPECT_EQ(
      api(at, "PUT", "/fhir/Observation/" + id, observation("pat-0006", "vital-signs", id)).status,
      403);
}

}  // namespace
}  // namespace ipa::testing
