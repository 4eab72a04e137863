// Searches that name a patient without a compartment bound (a backend service's `system/`
// scopes, an open server): the search module marks the patient (SearchPlan::routing_patient)
// when the reference implies compartment membership, and the PostgreSQL renderer routes such a
// plan to that patient's rows (owner = $1 on every table the outer resource reads). Answers are
// checked by OwnerConformance on both back ends; index use by PostgresQueryPlans.
#include <gtest/gtest.h>

#include <string>

#include "search/query.h"
#include "search/testing/ipa_searches.h"
#include "storage/postgres/internal/render.h"

namespace ipa::storage::postgres {
namespace {

std::optional<std::string> marked(const std::string& type, const search::Params& params) {
  search::QueryOptions qo;
  qo.strict = true;
  auto parsed = search::parse_search(type, params, qo);
  EXPECT_TRUE(parsed.ok()) << parsed.error().diagnostics;
  if (!parsed.ok()) return std::nullopt;
  return parsed->plan.routing_patient;
}

TEST(RoutingPatient, SetForReferencesThatImplyCompartmentMembership) {
  EXPECT_EQ(marked("Observation", {{"patient", "p1"}}), "p1");
  EXPECT_EQ(marked("Observation", {{"subject", "Patient/p1"}}), "p1");
  EXPECT_EQ(marked("Observation", {{"subject:Patient", "p1"}}), "p1");
  EXPECT_EQ(marked("Observation", {{"performer", "Patient/p1"}}), "p1");
  EXPECT_EQ(marked("Observation", {{"code", "x"}, {"patient", "Patient/p7"}}), "p7");
  EXPECT_EQ(marked("AllergyIntolerance", {{"patient", "p1"}}), "p1");
  EXPECT_EQ(marked("Coverage", {{"patient", "p1"}}), "p1");  // beneficiary
  EXPECT_EQ(marked("Patient", {{"link", "Patient/p1"}}), "p1");
  EXPECT_EQ(marked("Patient", {{"_id", "p1"}}), "p1");  // in its own compartment
  // Not a Patient, several patients, a negation, no patient at all, a type without compartment.
  EXPECT_EQ(marked("Observation", {{"subject", "Group/g1"}}), std::nullopt);
  EXPECT_EQ(marked("Observation", {{"subject", "p1"}}), std::nullopt);  // type unknown
  EXPECT_EQ(marked("Observation", {{"patient", "p1,p2"}}), std::nullopt);
  EXPECT_EQ(marked("Observation", {{"patient:missing", "false"}}), std::nullopt);
  EXPECT_EQ(marked("Observation", {{"code", "x"}}), std::nullopt);
  EXPECT_EQ(marked("Observation", {{"patient.name", "smith"}}), std::nullopt);
  EXPECT_EQ(marked("Practitioner", {{"_id", "p1"}}), std::nullopt);
  EXPECT_EQ(marked("Observation", {{"focus", "Patient/p1"}}), std::nullopt);  // not compartment
}

// How often `needle` occurs in `s`.
size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

// Every IPA combination that names its patient is routed without a compartment bound, the page,
// count and id queries filter the outer resource, its version and each of its index subqueries on
// the patient ($1), and read no compartment rows; unrouted, no owner is a parameter.
TEST(RoutingPatient, EveryIpaCombinationIsRoutedToThePatient) {
  for (const auto& [type, params] : search::testing::kIpaSearches) {
    std::string q = type + "?";
    for (const auto& [k, v] : params) q += k + "=" + v + "&";
    SCOPED_TRACE(q);
    search::QueryOptions qo;
    qo.strict = true;
    auto parsed = search::parse_search(type, params, qo);
    ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
    bool names_patient = type == "Patient" && params.front().first == "_id";
    for (const auto& [k, v] : params) names_patient = names_patient || k == "patient";
    if (!names_patient) {
      // Patient?name=, DocumentReference?_id=, a composite alone: no patient to route to.
      EXPECT_EQ(parsed->plan.routing_patient, std::nullopt);
      continue;
    }
    ASSERT_EQ(parsed->plan.routing_patient, "p1");
    if (type != "Patient") parsed->plan.sort.push_back(SortKey{IndexKind::kDate, "date", true});
    for (const std::string& sql : {internal::render_page(parsed->plan, true).text,
                                   internal::render_count(parsed->plan, true).text,
                                   internal::render_ids(parsed->plan, true).text}) {
      EXPECT_NE(sql.find(" r.owner = $1"), std::string::npos) << sql;
      EXPECT_EQ(count_of(sql, "JOIN version v"), count_of(sql, "v.owner = $1")) << sql;
      EXPECT_EQ(count_of(sql, "FROM idx_"), count_of(sql, "x.owner = $1")) << sql;
      EXPECT_EQ(sql.find("= r.owner"), std::string::npos) << sql;
      EXPECT_EQ(sql.find("compartment"), std::string::npos) << sql;
    }
    std::string unrouted = internal::render_page(parsed->plan, false).text;
    EXPECT_EQ(unrouted.find("owner = $"), std::string::npos) << unrouted;
  }
}

}  // namespace
}  // namespace ipa::storage::postgres
