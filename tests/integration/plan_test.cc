// Index use of every IPA search combination: the SQLite plan of each must reach its rows through
// indexes, never by scanning a table, a whole index, or every resource of a type.
#include <gtest/gtest.h>

#include "harness.h"
#include "search/query.h"
#include "search/testing/ipa_searches.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::testing {
namespace {

using search::testing::kIpaSearches;

bool is_scan(const std::string& detail) {
  if (detail.rfind("SCAN ", 0) == 0) return detail != "SCAN CONSTANT ROW";
  // A search by type alone walks every resource (or index row) of that type.
  return detail.find("(type=?)") != std::string::npos;
}

TEST(QueryPlans, EveryIpaCombinationUsesIndexes) {
  TempDir dir;
  std::string path = dir.file("plans.db");
  storage::sqlite::SqliteOptions o;
  o.path = path;
  ASSERT_TRUE(storage::sqlite::open_sqlite_store(o).ok());
  for (const auto& [type, params] : kIpaSearches) {
    std::string q = type + "?";
    for (const auto& [k, v] : params) q += k + "=" + v + "&";
    SCOPED_TRACE(q);
    search::QueryOptions qo;
    qo.strict = true;
    auto parsed = search::parse_search(type, params, qo);
    ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
    // Bound to a patient (what every SMART patient-level search is), the patient's rows must
    // drive: no list built from a value index across all patients.
    storage::SearchPlan bound = parsed->plan;
    bound.compartment_patient = "p1";
    auto bound_plan = storage::sqlite::explain_search(path, bound);
    ASSERT_TRUE(bound_plan.ok());
    std::string bound_all;
    for (const auto& line : *bound_plan) bound_all += "  " + line + "\n";
    for (const auto& line : *bound_plan) {
      EXPECT_FALSE(is_scan(line)) << "scan in bound plan:\n" << bound_all;
      EXPECT_EQ(line.find("_value"), std::string::npos) << "value-index driver:\n" << bound_all;
    }
    auto plan = storage::sqlite::explain_search(path, parsed->plan);
    ASSERT_TRUE(plan.ok());
    std::string all;
    for (const auto& line : *plan) all += "  " + line + "\n";
    for (const auto& line : *plan) EXPECT_FALSE(is_scan(line)) << "scan in plan:\n" << all;
    // A correlated probe checks one resource: it must look the resource up by its id, not walk
    // every resource that has the value (quadratic at scale; found by the 1M benchmark).
    for (size_t i = 0; i + 1 < plan->size(); ++i) {
      if ((*plan)[i].find("CORRELATED") == std::string::npos) continue;
      EXPECT_NE((*plan)[i + 1].find("id=?"), std::string::npos) << "correlated probe:\n" << all;
    }
  }
}

}  // namespace
}  // namespace ipa::testing
