// Process-level behaviour: configuration sources, body limit, graceful stop, crash durability.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "harness.h"

namespace ipa::testing {
namespace {

TEST(Server, BodyLimitAnswers413) {
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"), {"--body-limit", "1000"});
  std::string big =
      R"({"resourceType":"Patient","name":[{"text":")" + std::string(5000, 'a') + R"("}]})";
  auto r = server.send("POST", "/fhir/Patient", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(body_json(server.get("/fhir/_history")).find("total")->as_int(), 0);
}

TEST(Server, SigtermStopsGracefully) {
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  EXPECT_EQ(server.get("/livez").status, 200);
  EXPECT_EQ(server.terminate(), 0);
}

TEST(Server, ConfigFileEnvironmentAndFlagsInThatOrder) {
  TempDir dir;
  std::string cfg = dir.file("ipa.toml");
  std::ofstream(cfg) << "base_url = \"https://from-file.example/fhir\"\nlog_level = \"info\"\n";
  {
    ServerProcess server(dir.file("a.db"), {}, {"IPA_CONFIG=" + cfg});
    auto cs = body_json(server.get("/fhir/metadata"));
    EXPECT_EQ(cs.find("implementation")->get_string("url"), "https://from-file.example/fhir");
  }
  {
    ServerProcess server(dir.file("b.db"), {},
                         {"IPA_CONFIG=" + cfg, "IPA_BASE_URL=https://from-env.example/fhir"});
    auto cs = body_json(server.get("/fhir/metadata"));
    EXPECT_EQ(cs.find("implementation")->get_string("url"), "https://from-env.example/fhir");
  }
  {
    ServerProcess server(dir.file("c.db"), {"--base-url", "https://from-flag.example/fhir/"},
                         {"IPA_CONFIG=" + cfg, "IPA_BASE_URL=https://from-env.example/fhir"});
    auto cs = body_json(server.get("/fhir/metadata"));
    EXPECT_EQ(cs.find("implementation")->get_string("url"), "https://from-flag.example/fhir");
  }
  std::ofstream(dir.file("bad.toml")) << "prot = 80\n";
  auto bad =
      run_server_command({"--config", dir.file("bad.toml"), "serve", "--store", dir.file("d.db")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown key 'prot'"), std::string::npos) << bad.err;
}

// Writes through HTTP from several threads, kill -9s the server mid-load, restarts it and checks
// that every acknowledged write is there, intact, and that nothing half-written is.
TEST(Server, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  std::string db = dir.file("ipa.db");
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> acked;  // id, body
  {
    ServerProcess server(db, {"--sync-full", "true"});
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          std::string body = R"({"resourceType":"Observation","status":"final","code":{"text":"w)" +
                             std::to_string(t) + "-" + std::to_string(i) +
                             R"("},"valueQuantity":{"value":1.50}})";
          auto r = http::request(server.port(), "POST", "/fhir/Observation",
                                 {{"Content-Type", "application/fhir+json"}}, body);
          if (!r.ok()) return;  // the server died under us
          if (r->status == 201) {
            auto v = json::parse(r->body);
            std::lock_guard<std::mutex> lock(mu);
            acked.emplace_back(std::string(v->get_string("id")), r->body);
          }
        }
      });
    }
    // Let some writes land, then kill without warning.
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (acked.size() >= 100) break;
      }
      usleep(10000);
    }
    server.kill9();
    stop = true;
    for (auto& w : writers) w.join();
  }
  ASSERT_GE(acked.size(), 20u);
  ServerProcess again(db);
  for (const auto& [id, body] : acked) {
    auto r = again.get("/fhir/Observation/" + id);
    ASSERT_EQ(r.status, 200) << "acknowledged write lost: " << id;
    EXPECT_EQ(r.body, body);
  }
  // Every stored resource parses: nothing half-written.
  std::string next = "/fhir/Observation/_history?_count=500";
  int64_t total = 0;
  while (!next.empty()) {
    auto page = body_json(again.get(next));
    for (const auto& e : page.find("entry")->items()) {
      ASSERT_NE(e.find("resource"), nullptr);
      EXPECT_EQ(e.find("resource")->get_string("resourceType"), "Observation");
      ++total;
    }
    next.clear();
    for (const auto& l : page.find("link")->items()) {
      if (l.get_string("relation") == "next") {
        next = std::string(l.get_string("url")).substr(again.base().size() - 5);
      }
    }
  }
  EXPECT_GE(total, static_cast<int64_t>(acked.size()));
  EXPECT_LE(total, static_cast<int64_t>(acked.size()) + 4);  // at most one in flight per writer
}

}  // namespace
}  // namespace ipa::testing
