// The SQLite read cache (README "The read cache") through the real server: a resource the server
// has read, then updated or deleted by another process (`ipa-server import` on the same file),
// is answered in its new state; the server's own writes are read back at once; and the option
// is validated.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "harness.h"

namespace ipa::testing {
namespace {

std::string patient(const std::string& family) {
  return R"({"resourceType":"Patient","id":"rc1","name":[{"family":")" + family + R"("}]})";
}

// Polls `path` until its family name is `family` (at most two seconds; the cache promises 1 ms).
bool reads_family(const ServerProcess& s, const std::string& family) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = s.get("/fhir/Patient/rc1");
    if (r.status == 200 && r.body.find("\"" + family + "\"") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(ReadCache, WritesOfAnotherProcessAreSeen) {
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  auto put = server.send("PUT", "/fhir/Patient/rc1", patient("First"),
                         {{"Content-Type", "application/fhir+json"}});
  ASSERT_EQ(put.status, 201) << put.body;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(server.get("/fhir/Patient/rc1").status, 200);  // cached

  std::string file = dir.file("update.ndjson");
  std::ofstream(file) << patient("Second") << "\n";
  auto imported =
      run_server_command({"import", "--store", dir.file("ipa.db"), "--sync-full", "false", file});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_TRUE(reads_family(server, "Second")) << server.get("/fhir/Patient/rc1").body;
  auto r = server.get("/fhir/Patient/rc1");
  EXPECT_EQ(r.header("ETag"), "W/\"2\"");

  // The server's own update is read back at once, no waiting.
  put = server.send("PUT", "/fhir/Patient/rc1", patient("Third"),
                    {{"Content-Type", "application/fhir+json"}});
  ASSERT_EQ(put.status, 200) << put.body;
  r = server.get("/fhir/Patient/rc1");
  EXPECT_NE(r.body.find("\"Third\""), std::string::npos) << r.body;
  EXPECT_EQ(r.header("ETag"), "W/\"3\"");
  ASSERT_EQ(server.send("DELETE", "/fhir/Patient/rc1", "").status, 204);
  EXPECT_EQ(server.get("/fhir/Patient/rc1").status, 410);
}

TEST(ReadCache, CanBeTurnedOffAndRefusesANegativeSize) {
  TempDir dir;
  {
    ServerProcess server(dir.file("ipa.db"), {"--read-cache-mb", "0"});
    auto put = server.send("PUT", "/fhir/Patient/rc1", patient("First"),
                           {{"Content-Type", "application/fhir+json"}});
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(server.get("/fhir/Patient/rc1").status, 200);
  }
  auto r = run_server_command(
      {"serve", "--store", dir.file("ipa.db"), "--port", "0", "--read-cache-mb", "-1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("read-cache-mb"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ipa::testing
