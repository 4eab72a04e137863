// The SQLite plans of patient-bound IPA searches that name their own patient (patient=p1 under a
// grant for p1, the common SMART app search): the compartment is implied by the reference, so
// the plan must not also collect the compartment, and the reference rows must be read from the
// index alone (bench/README.md "Session 4: search speed").
#include <gtest/gtest.h>

#include "harness.h"
#include "search/query.h"
#include "search/testing/ipa_searches.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::testing {
namespace {

using search::testing::kIpaSearches;

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& line : lines) all += "  " + line + "\n";
  return all;
}

TEST(BoundPlans, NamingTheBoundPatientSkipsTheCompartmentAndCoversTheDriver) {
  TempDir dir;
  std::string path = dir.file("plans.db");
  storage::sqlite::SqliteOptions o;
  o.path = path;
  ASSERT_TRUE(storage::sqlite::open_sqlite_store(o).ok());
  int checked = 0;
  for (const auto& [type, params] : kIpaSearches) {
    search::QueryOptions qo;
    qo.strict = true;
    auto parsed = search::parse_search(type, params, qo);
    ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
    if (parsed->plan.routing_patient != "p1" || type == "Patient") continue;
    std::string q = type + "?";
    for (const auto& [k, v] : params) q += k + "=" + v + "&";
    SCOPED_TRACE(q);
    ++checked;
    storage::SearchPlan bound = parsed->plan;
    bound.compartment_patient = "p1";
    auto plan = storage::sqlite::explain_search(path, bound);
    ASSERT_TRUE(plan.ok());
    std::string all = joined(*plan);
    EXPECT_EQ(all.find("SEARCH c "), std::string::npos) << "compartment collected:\n" << all;
    EXPECT_NE(all.find("COVERING INDEX idx_ref_target"), std::string::npos)
        << "reference driver reads the table:\n"
        << all;
    // Bound to another patient than the query names, the compartment still restricts.
    bound.compartment_patient = "p2";
    auto other = storage::sqlite::explain_search(path, bound);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(joined(*other).find("SEARCH c "), std::string::npos) << joined(*other);
  }
  EXPECT_GT(checked, 20);  // every IPA combination with patient= is one of these
}

}  // namespace
}  // namespace ipa::testing
