// ipa-client against the real ipa-server: discover, register, the SMART standalone launch
// driven through the server's form contract (public and confidential asymmetric clients), and
// fetch, with the output, the profile's mode and the secrecy of the tokens checked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_testing.h"
#include "harness.h"
#include "json/json.h"

namespace ipa::testing {
namespace {

namespace fs = std::filesystem;

int count_lines(const std::string& path) {
  std::string s = slurp_file(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

json::Value profile_of(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") return json::parse(slurp_file(e.path().string())).value();
  }
  ADD_FAILURE() << "no profile in " << dir;
  return json::Value();
}

void expect_private(const std::string& path) {
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"},
                                "demo", /*with_auth=*/true);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  RunResult client(std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile-dir", profiles_.path()});
    RunResult r = run_ipa_client(args);
    transcript_ += r.out + r.err;
    return r;
  }
  // No token of the profile ever appears in what the client printed.
  void expect_no_token_printed() {
    json::Value p = profile_of(profiles_.path());
    for (const char* k : {"access_token", "refresh_token"}) {
      std::string token(p.get_string(k));
      if (token.empty()) continue;
      EXPECT_EQ(transcript_.find(token), std::string::npos) << k << " was printed";
    }
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  TempDir profiles_;
  TempDir out_;
  std::string transcript_;
};

TempDir* CliTest::dir_ = nullptr;
ServerProcess* CliTest::server_ = nullptr;

TEST_F(CliTest, DiscoverRegisterLoginFetch) {
  const std::string base = server_->base();
  RunResult d = client({"discover", base});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("Usable"), std::string::npos) << d.out;

  RunResult reg = client({"register", base, "--client-id", "ipa-demo-app"});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;

  RunResult login = client({"login", "--username", "pat-0001", "--password", "ipa-demo",
                            "--patient", "pat-0002", "--no-browser", "--timeout", "20"});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_NE(login.out.find("Patient in context: pat-0002"), std::string::npos) << login.out;
  EXPECT_EQ(login.out.find("Not granted"), std::string::npos) << login.out;
  json::Value profile = profile_of(profiles_.path());
  EXPECT_EQ(profile.get_string("patient"), "pat-0002");
  EXPECT_FALSE(profile.get_string("refresh_token").empty());
  for (const auto& e : fs::directory_iterator(profiles_.path())) expect_private(e.path().string());

  RunResult fetch = client({"fetch", "--out", out_.path()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out << fetch.err;
  EXPECT_NE(fetch.out.find("Patient pat-0002"), std::string::npos) << fetch.out;

  auto summary = json::parse(slurp_file(out_.file("summary.json")));
  ASSERT_TRUE(summary.ok());
  const json::Value* counts = summary->find("counts");
  ASSERT_NE(counts, nullptr);
  int total = 0;
  for (const auto& [type, n] : counts->members()) {
    EXPECT_EQ(count_lines(out_.file(type + ".ndjson")), *n.as_int()) << type;
    total += static_cast<int>(*n.as_int());
  }
  for (const char* type : {"Patient", "Observation", "Condition", "AllergyIntolerance",
                           "MedicationRequest", "Immunization", "DocumentReference"}) {
    EXPECT_TRUE(fs::exists(out_.file(std::string(type) + ".ndjson"))) << type;
  }
  EXPECT_GT(*counts->find("Observation")->as_int(), 0);
  EXPECT_EQ(summary->find("errors")->items().size(), 0u) << json::write(*summary);
  std::istringstream obs(slurp_file(out_.file("Observation.ndjson")));
  for (std::string line; std::getline(obs, line);) {
    auto o = json::parse(line);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->find("subject")->get_string("reference"), "Patient/pat-0002") << line;
  }
  auto bundle = json::parse(slurp_file(out_.file("bundle.json")));
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(bundle->get_string("type"), "collection");
  EXPECT_EQ(static_cast<int>(bundle->find("entry")->items().size()), total);
  const json::Value* atts = summary->find("attachments");
  ASSERT_FALSE(atts->items().empty());
  for (const json::Value& a : atts->items()) {
    EXPECT_EQ(*a.find("status")->as_int(), 200) << json::write(a);
    EXPECT_TRUE(fs::exists(out_.file(std::string(a.get_string("file")))));
  }
  expect_no_token_printed();

  // An access token the server no longer accepts: one refresh, the refresh token rotates.
  std::string path;
  for (const auto& e : fs::directory_iterator(profiles_.path())) path = e.path().string();
  json::Value broken = profile_of(profiles_.path());
  std::string old_refresh(broken.get_string("refresh_token"));
  broken.set("access_token", json::Value::string("expired-or-forged"));
  { std::ofstream(path) << json::write(broken); }
  TempDir again;
  RunResult refetch = client({"fetch", "--out", again.path()});
  ASSERT_EQ(refetch.exit_code, 0) << refetch.out << refetch.err;
  auto s2 = json::parse(slurp_file(again.file("summary.json")));
  EXPECT_EQ(*s2->find("token_refreshes")->as_int(), 1);
  json::Value rotated = profile_of(profiles_.path());
  EXPECT_NE(rotated.get_string("refresh_token"), old_refresh);
  EXPECT_NE(rotated.get_string("access_token"), "expired-or-forged");
  expect_private(path);
  expect_no_token_printed();
}

TEST_F(CliTest, ReportsWhatTheUserDidNotGrant) {
  const std::string base = server_->base();
  RunResult login = client({"login", base, "--client-id", "ipa-demo-app", "--username", "pat-0006",
                            "--password", "ipa-demo", "--scope",
                            "launch/patient openid fhirUser offline_access "
                            "patient/Patient.rs patient/Observation.rs patient/Condition.rs",
                            "--deny-scope", "patient/Condition.rs", "--deny-scope",
                            "offline_access", "--timeout", "20"});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_NE(login.out.find("Patient in context: pat-0006"), std::string::npos) << login.out;
  EXPECT_NE(login.out.find("Not granted: offline_access patient/Condition.rs"), std::string::npos)
      << login.out;
  EXPECT_NE(login.out.find("No refresh token"), std::string::npos) << login.out;
  RunResult fetch = client({"fetch", base, "--out", out_.path()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out << fetch.err;
  auto summary = json::parse(slurp_file(out_.file("summary.json")));
  std::string not_granted = json::write(*summary->find("not_granted"));
  EXPECT_NE(not_granted.find("Condition"), std::string::npos);
  EXPECT_NE(not_granted.find("MedicationRequest"), std::string::npos);
  EXPECT_FALSE(fs::exists(out_.file("Condition.ndjson")));
  EXPECT_TRUE(fs::exists(out_.file("Observation.ndjson")));
  expect_no_token_printed();
}

TEST_F(CliTest, RefusesWhatCannotWork) {
  const std::string base = server_->base();
  // Several records and no --patient: the choices are listed.
  RunResult pick = client({"login", base, "--client-id", "ipa-demo-app", "--username", "pat-0001",
                           "--password", "ipa-demo", "--timeout", "5"});
  EXPECT_NE(pick.exit_code, 0);
  EXPECT_NE(pick.err.find("pat-0003"), std::string::npos) << pick.err;
  RunResult wrong = client({"login", base, "--client-id", "ipa-demo-app", "--username", "pat-0001",
                            "--password", "wrong", "--timeout", "5"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("Sign-in refused"), std::string::npos) << wrong.err;
  RunResult unknown = client({"login", base, "--client-id", "no-such-app", "--username", "pat-0006",
                              "--password", "ipa-demo", "--timeout", "5"});
  EXPECT_NE(unknown.exit_code, 0);
  // Not an IPA server at all.
  RunResult nothing = client({"discover", "http://127.0.0.1:1/fhir"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.out.find("Not usable"), std::string::npos) << nothing.out;
}

TEST_F(CliTest, DynamicRegistrationWhenOffered) {
  const std::string base = server_->base();
  for (bool confidential : {false, true}) {
    SCOPED_TRACE(confidential ? "confidential asymmetric" : "public");
    TempDir profiles;
    std::vector<std::string> reg = {"--profile-dir", profiles.path(), "register", base};
    if (confidential) reg.push_back("--confidential");
    RunResult r = run_ipa_client(reg);
    if (r.exit_code == 2) {
      // The server offers no registration_endpoint: the client explains manual registration.
      EXPECT_NE(r.out.find("--client-id"), std::string::npos) << r.out;
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Registered as"), std::string::npos) << r.out;
    if (confidential) {
      bool key_found = false;
      for (const auto& e : fs::directory_iterator(profiles.path())) {
        if (e.path().string().ends_with(".key.pem")) {
          key_found = true;
          expect_private(e.path().string());
        }
      }
      EXPECT_TRUE(key_found);
    }
    RunResult login = run_ipa_client({"--profile-dir", profiles.path(), "login", "--username",
                                      "pat-0006", "--password", "ipa-demo", "--timeout", "20"});
    EXPECT_EQ(login.exit_code, 0) << login.out << login.err;
    EXPECT_NE(login.out.find("Patient in context: pat-0006"), std::string::npos) << login.out;
  }
}

TEST(CliConfidential, KeygenRegisterByHandAndLoginWithPrivateKeyJwt) {
  TempDir dir;
  TempDir profiles;
  TempDir out;
  std::string key = dir.file("c2.pem");
  RunResult kg = run_ipa_client({"keygen", "--out", key});
  ASSERT_EQ(kg.exit_code, 0) << kg.err;
  expect_private(key);
  EXPECT_EQ(kg.out.find("PRIVATE"), std::string::npos);
  auto jwks = json::parse(kg.out);
  ASSERT_TRUE(jwks.ok()) << kg.out;
  EXPECT_EQ(jwks->find("keys")->items()[0].find("d"), nullptr);
  { std::ofstream(dir.file("jwks.json")) << kg.out; }

  RunResult add =
      run_server_command({"admin", "--store", dir.file("ipa.db"), "client", "add", "--client-id",
                          "c2", "--redirect-uri", "http://127.0.0.1:1/callback", "--type",
                          "asymmetric", "--jwks-file", dir.file("jwks.json")},
                         {"IPA_TEST_FAST_HASH=1"});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  ServerProcess server(dir.file("ipa.db"), {"--patients", "6"}, {"IPA_TEST_FAST_HASH=1"}, "demo",
                       /*with_auth=*/true);
  std::string base = server.base();
  std::string pd = profiles.path();
  RunResult login = run_ipa_client({"--profile-dir", pd, "login", base, "--client-id", "c2",
                                    "--private-key", key, "--username", "pat-0006", "--password",
                                    "ipa-demo", "--no-browser", "--timeout", "20"});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_NE(login.out.find("Patient in context: pat-0006"), std::string::npos) << login.out;
  RunResult fetch = run_ipa_client({"--profile-dir", pd, "fetch", base, "--out", out.path()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out << fetch.err;
  EXPECT_EQ(count_lines(out.file("Patient.ndjson")), 1);
  json::Value p = profile_of(pd);
  EXPECT_EQ(p.get_string("client_id"), "c2");
  std::string printed = kg.out + kg.err + login.out + login.err + fetch.out + fetch.err;
  EXPECT_EQ(printed.find(std::string(p.get_string("access_token"))), std::string::npos);
  EXPECT_EQ(printed.find(std::string(p.get_string("refresh_token"))), std::string::npos);
}

}  // namespace
}  // namespace ipa::testing
