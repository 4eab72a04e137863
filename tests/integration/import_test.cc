// `ipa-server import` and `ipa-server demo` / `gen` through the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness.h"

namespace ipa::testing {
namespace {

TEST(Import, ReportsRejectsByLineAndIsIdempotent) {
  TempDir dir;
  std::string file = dir.file("data.ndjson");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"imp-1","active":true})"
                         "\n"
                      << R"({"resourceType":"Patient","id":"imp-2","active":"maybe"})"
                         "\n"
                      << "\n"
                      << R"({"resourceType":"Patient","id":"imp-3",)"
                         "\n"
                      << R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})"
                         "\n";
  std::string db = dir.file("ipa.db");
  auto first = run_server_command({"import", "--store", db, file});
  EXPECT_EQ(first.exit_code, 1) << first.err;
  EXPECT_NE(first.err.find(file + ":2: "), std::string::npos) << first.err;
  EXPECT_NE(first.err.find(file + ":4: Invalid JSON"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("2 created, 0 updated, 0 unchanged, 2 rejected"), std::string::npos)
      << first.err;
  auto again = run_server_command({"import", "--store", db, file});
  EXPECT_NE(again.err.find("1 created, 0 updated, 1 unchanged, 2 rejected"), std::string::npos)
      << again.err;  // the Observation has no id, so it is created again; imp-1 is unchanged

  ServerProcess server(db);
  EXPECT_EQ(server.get("/fhir/Patient/imp-1").status, 200);
  EXPECT_EQ(server.get("/fhir/Patient/imp-2").status, 404);
  EXPECT_EQ(body_json(server.get("/fhir/Patient/imp-1/_history")).find("total")->as_int(), 1);
}

TEST(Import, BundlesOfEveryKind) {
  TempDir dir;
  std::string file = dir.file("bundle.json");
  std::ofstream(file) << R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"b-1","active":true}},
      {"resource":{"resourceType":"Patient","id":"b-2","active":false}}]})";
  std::string ss = dir.file("searchset.json");
  std::ofstream(ss) << R"({"resourceType":"Bundle","type":"searchset","entry":[
      {"resource":{"resourceType":"Patient","id":"b-3"},"search":{"mode":"match"}},
      {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]},"search":{"mode":"outcome"}}]})";
  auto r = run_server_command({"import", "--store", dir.file("ipa.db"), file, ss});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("import: 3 created"), std::string::npos) << r.err;
}

TEST(Import, StreamsFilesLargerThanItsMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer";
#endif
  TempDir dir;
  std::string file = dir.file("big.ndjson");
  {
    std::ofstream out(file);
    std::string note(1200, 'x');
    for (int i = 0; i < 60000; ++i) {
      out << R"({"resourceType":"Observation","id":"big-)" << i
          << R"(","status":"final","code":{"text":")" << note << R"("},"valueQuantity":{"value":)"
          << i << ".5}}\n";
    }
  }
  auto size_kb = static_cast<long>(std::filesystem::file_size(file) / 1024);
  // The cap is what the program needs for a one-line file plus 20 MiB of working memory; the
  // file is several times larger than that margin, so only streaming stays under it.
  std::string tiny = dir.file("tiny.ndjson");
  std::ofstream(tiny) << R"({"resourceType":"Patient","id":"t1"})"
                      << "\n";
  auto baseline = run_server_command({"import", "--store", dir.file("base.db"), tiny});
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  long cap_kb = baseline.max_rss_kb + 20 * 1024;
  ASSERT_GT(size_kb, 3 * 20 * 1024);
  auto r =
      run_server_command({"import", "--store", dir.file("ipa.db"), "--sync-full", "false", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("60000 created"), std::string::npos) << r.err;
  EXPECT_LT(r.max_rss_kb, cap_kb) << "file " << size_kb << " KiB, peak RSS " << r.max_rss_kb
                                  << " KiB, baseline " << baseline.max_rss_kb << " KiB";
}

TEST(Demo, ServesTheGeneratedDataAndGenWritesNdjson) {
  TempDir dir;
  {
    ServerProcess demo(dir.file("ipa.db"), {"--patients", "6"}, {}, "demo");
    auto p = demo.get("/fhir/Patient/pat-0001");
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(body_json(p).get_string("resourceType"), "Patient");
    EXPECT_EQ(demo.get("/fhir/metadata").status, 200);
  }
  auto gen = run_server_command({"gen", "--patients", "3", "--out", dir.file("out")});
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/Patient.ndjson")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/Observation.ndjson")));
  auto imp = run_server_command({"import", "--store", dir.file("gen.db"), dir.file("out")});
  EXPECT_EQ(imp.exit_code, 0) << imp.err;
}

}  // namespace
}  // namespace ipa::testing
