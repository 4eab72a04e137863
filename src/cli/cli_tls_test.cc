// ipa-client against the demo server over TLS with a private CA (the test's self-signed
// certificate): discover trusts it through --ca-file or SSL_CERT_FILE and refuses it
// otherwise; register remembers --ca-file in the profile, and login (id_token keys fetched
// over https), fetch, sync and logout then use it without the flag.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>

#include "cli_testing.h"
#include "harness.h"
#include "http/testing/tls_cert.h"
#include "json/json.h"

namespace ipa::testing {
namespace {

// Sets an environment variable for the scope (the client runs as a child and inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class CliTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_ = http::testing::make_self_signed(dir_.file("tls"));
    ASSERT_FALSE(tls_.certificate.empty());
    server_ = std::make_unique<ServerProcess>(
        dir_.file("ipa.db"),
        std::vector<std::string>{"--patients", "6", "--tls-cert", tls_.certificate, "--tls-key",
                                 tls_.private_key},
        std::vector<std::string>{"IPA_TEST_FAST_HASH=1"}, "demo", /*with_auth=*/true);
    base_ = "https://127.0.0.1:" + std::to_string(server_->port()) + "/fhir";
  }
  RunResult client(const std::vector<std::string>& args) {
    return run_ipa_client_in(profiles_.path(), args);
  }

  TempDir dir_;
  TempDir profiles_;
  TempDir out_;
  http::testing::TlsFiles tls_;
  std::unique_ptr<ServerProcess> server_;
  std::string base_;
};

TEST_F(CliTlsTest, DiscoverTrustsThePrivateCaOnlyWhenTold) {
  // Trusting another CA (through the environment, as curl does): refused, with the fix named.
  auto other = http::testing::make_self_signed(dir_.file("other"));
  {
    ScopedEnv env("SSL_CERT_FILE", other.certificate);
    RunResult refused = client({"discover", base_});
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_NE(refused.out.find("SSL certificate problem"), std::string::npos) << refused.out;
    EXPECT_NE(refused.out.find("--ca-file"), std::string::npos) << refused.out;
    // --ca-file wins over the environment.
    RunResult flagged = client({"discover", base_, "--ca-file", tls_.certificate});
    EXPECT_EQ(flagged.exit_code, 0) << flagged.out << flagged.err;
  }
  {
    ScopedEnv env("SSL_CERT_FILE", tls_.certificate);
    RunResult trusted = client({"discover", base_});
    EXPECT_EQ(trusted.exit_code, 0) << trusted.out << trusted.err;
    EXPECT_NE(trusted.out.find("Usable"), std::string::npos) << trusted.out;
  }
  {
    // CURL_CA_BUNDLE when SSL_CERT_FILE is not set.
    ScopedEnv unset_first("SSL_CERT_FILE", "");
    ScopedEnv env("CURL_CA_BUNDLE", tls_.certificate);
    RunResult trusted = client({"discover", base_});
    EXPECT_EQ(trusted.exit_code, 0) << trusted.out << trusted.err;
  }
}

TEST_F(CliTlsTest, RegisterRemembersTheCaFileForLoginFetchSyncAndLogout) {
  // The system's store alone does not know the test's CA.
  ScopedEnv env("SSL_CERT_FILE", dir_.file("tls/none.pem"));
  RunResult reg =
      client({"register", base_, "--client-id", "ipa-demo-app", "--ca-file", tls_.certificate});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  std::string profile =
      slurp_file(profiles_.file("127.0.0.1_" + std::to_string(server_->port()) + ".json"));
  auto p = json::parse(profile);
  ASSERT_TRUE(p.ok()) << profile;
  EXPECT_EQ(p->get_string("ca_file"), std::filesystem::canonical(tls_.certificate).string());
  // login verifies the id_token with keys fetched over https from the same server.
  RunResult login =
      client({"login", "--username", "pat-0006", "--password", "ipa-demo", "--timeout", "20"});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_NE(login.out.find("Signed-in user: " + base_ + "/Patient/pat-0006"), std::string::npos)
      << login.out;
  RunResult fetch = client({"fetch", "--out", out_.path()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out << fetch.err;
  EXPECT_FALSE(slurp_file(out_.file("Patient.ndjson")).empty());
  auto bundle = json::parse(slurp_file(out_.file("bundle.json")));
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(bundle->find("entry")->items().front().get_string("fullUrl").rfind(base_, 0), 0u);
  RunResult sync = client({"sync", "--out", out_.path()});
  EXPECT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  RunResult logout = client({"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.out << logout.err;
  EXPECT_NE(logout.out.find("Revoked the refresh_token"), std::string::npos) << logout.out;
  // A remembered CA file that is gone is named, not ignored.
  std::filesystem::remove(tls_.certificate);
  RunResult gone = client({"login", "--username", "pat-0006", "--password", "ipa-demo"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("Cannot read the CA file"), std::string::npos) << gone.err;
  EXPECT_NE(gone.err.find("(from the profile)"), std::string::npos) << gone.err;
}

}  // namespace
}  // namespace ipa::testing
