// `ipa-client sync` and `logout` against the real ipa-server: after a fetch, a resource changed
// and one deleted on the server; sync picks up the change with `_lastUpdated` and reports the
// deleted one without removing it from the copy (it moves to gone/). Logout revokes the
// tokens at the revocation endpoint and deletes them from the profile.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_testing.h"
#include "harness.h"
#include "json/json.h"

namespace ipa::testing {
namespace {

namespace fs = std::filesystem;

json::Value first_line(const std::string& path) {
  std::string s = slurp_file(path);
  auto v = json::parse(s.substr(0, s.find('\n')));
  if (!v.ok()) {
    ADD_FAILURE() << "no resource in " << path;
    return json::Value();
  }
  return std::move(v).value();
}

json::Value profile_in(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") return json::parse(slurp_file(e.path().string())).value();
  }
  ADD_FAILURE() << "no profile in " << dir;
  return json::Value();
}

class CliSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        dir_.file("ipa.db"), std::vector<std::string>{"--patients", "6"},
        std::vector<std::string>{"IPA_TEST_FAST_HASH=1"}, "demo", /*with_auth=*/true);
    RunResult login = client({"login", server_->base(), "--client-id", "ipa-demo-app", "--username",
                              "pat-0006", "--password", "ipa-demo", "--timeout", "20"});
    ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  }
  RunResult client(const std::vector<std::string>& args) {
    return run_ipa_client_in(profiles_.path(), args);
  }

  TempDir dir_;
  TempDir profiles_;
  TempDir out_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliSyncTest, PicksUpChangesAndKeepsWhatDisappeared) {
  RunResult fetch = client({"fetch", "--out", out_.path()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out << fetch.err;
  auto before = json::parse(slurp_file(out_.file("summary.json")));
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->get_string("server_time").empty());
  json::Value condition = first_line(out_.file("Condition.ndjson"));
  json::Value observation = first_line(out_.file("Observation.ndjson"));
  std::string cid(condition.get_string("id"));
  std::string oid(observation.get_string("id"));
  ASSERT_FALSE(cid.empty());
  ASSERT_FALSE(oid.empty());
  int observations_before = *before->find("counts")->find("Observation")->as_int();

  // Another writer on the same store (access control off, loopback only) changes the record.
  {
    ServerProcess writer(dir_.file("ipa.db"), {}, {}, "serve", /*with_auth=*/false,
                         dir_.file("writer"));
    json::Value note = json::Value::object();
    note.set("text", json::Value::string("changed for the sync test"));
    json::Value notes = json::Value::array();
    notes.push_back(std::move(note));
    condition.set("note", std::move(notes));
    condition.erase("meta");
    auto put = writer.send("PUT", "/fhir/Condition/" + cid, json::write(condition),
                           {{"Content-Type", "application/fhir+json"}});
    ASSERT_EQ(put.status, 200) << put.body;
    auto del = writer.send("DELETE", "/fhir/Observation/" + oid, "");
    ASSERT_TRUE(del.status == 200 || del.status == 204) << del.status << del.body;
  }

  RunResult sync = client({"sync", "--out", out_.path()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  EXPECT_NE(sync.out.find("Observation/" + oid), std::string::npos) << sync.out;
  auto after = json::parse(slurp_file(out_.file("summary.json")));
  ASSERT_TRUE(after.ok());
  const json::Value* s = after->find("sync");
  ASSERT_NE(s, nullptr) << json::write(*after);
  EXPECT_GE(*s->find("updated")->as_int(), 1);
  EXPECT_EQ(*s->find("gone")->as_int(), 1);
  // The update is in the copy; the deleted Observation moved to gone/ and is listed.
  EXPECT_NE(slurp_file(out_.file("Condition.ndjson")).find("changed for the sync test"),
            std::string::npos);
  EXPECT_EQ(slurp_file(out_.file("Observation.ndjson")).find("\"id\":\"" + oid + "\""),
            std::string::npos);
  EXPECT_NE(slurp_file(out_.file("gone/Observation.ndjson")).find("\"id\":\"" + oid + "\""),
            std::string::npos);
  EXPECT_EQ(*after->find("counts")->find("Observation")->as_int(), observations_before - 1);
  std::string gone = json::write(*after->find("gone"));
  EXPECT_NE(gone.find("Observation/" + oid), std::string::npos) << gone;
  EXPECT_NE(slurp_file(out_.file("bundle.json")).find("changed for the sync test"),
            std::string::npos);
  // The search asked only for what changed since the server's time of the fetch.
  EXPECT_NE(sync.out.find("Changes since"), std::string::npos) << sync.out;

  // A second sync keeps reporting it, and nothing is lost.
  RunResult again = client({"sync", "--out", out_.path()});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto third = json::parse(slurp_file(out_.file("summary.json")));
  EXPECT_NE(json::write(*third->find("gone")).find("Observation/" + oid), std::string::npos);
  EXPECT_EQ(*third->find("sync")->find("gone")->as_int(), 0);
  EXPECT_TRUE(fs::exists(out_.file("gone/Observation.ndjson")));
}

TEST_F(CliSyncTest, SyncNeedsAnEarlierFetch) {
  RunResult sync = client({"sync", "--out", out_.path()});
  EXPECT_EQ(sync.exit_code, 1);
  EXPECT_NE(sync.err.find("run ipa-client fetch first"), std::string::npos) << sync.err;
}

TEST_F(CliSyncTest, LogoutRevokesTheTokensAtTheServer) {
  json::Value p = profile_in(profiles_.path());
  std::string access(p.get_string("access_token"));
  std::string refresh(p.get_string("refresh_token"));
  ASSERT_FALSE(access.empty());
  ASSERT_FALSE(refresh.empty());
  auto works = server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + access}});
  ASSERT_EQ(works.status, 200);
  RunResult out = client({"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("Revoked the refresh_token"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("Deleted the stored tokens"), std::string::npos) << out.out;
  EXPECT_EQ(out.out.find(access), std::string::npos);
  EXPECT_EQ(out.out.find(refresh), std::string::npos);
  // The server no longer accepts either token.
  auto refused = server_->get("/fhir/Patient/pat-0006", {{"Authorization", "Bearer " + access}});
  EXPECT_EQ(refused.status, 401);
  json::Value after = profile_in(profiles_.path());
  EXPECT_TRUE(after.get_string("access_token").empty());
  EXPECT_TRUE(after.get_string("refresh_token").empty());
  EXPECT_EQ(after.get_string("client_id"), "ipa-demo-app");
  RunResult fetch = client({"fetch", "--out", out_.path()});
  EXPECT_NE(fetch.exit_code, 0);
  EXPECT_NE(fetch.err.find("ipa-client login"), std::string::npos) << fetch.err;
}

}  // namespace
}  // namespace ipa::testing
