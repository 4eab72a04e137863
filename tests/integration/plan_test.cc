// Index use of every IPA search combination: the SQLite plan of each must reach its rows through
// indexes, never by scanning a table, a whole index, or every resource of a type.
#include <gtest/gtest.h>

#include "harness.h"
#include "search/query.h"
#include "storage/sqlite/sqlite_store.h"

namespace ipa::testing {
namespace {

// IPA server CapabilityStatement combinations (SHALL and SHOULD) and single SHALL parameters,
// as the conformance kits send them (requirements.md 2.7).
const std::vector<std::pair<std::string, search::Params>> kIpaSearches = {
    {"AllergyIntolerance", {{"patient", "p1"}}},
    {"AllergyIntolerance", {{"patient", "p1"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}}},
    {"Condition", {{"patient", "p1"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}, {"category", "problem-list-item"}}},
    {"Condition",
     {{"patient", "p1"}, {"category", "problem-list-item"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}, {"code", "http://snomed.info/sct|44054006"}}},
    {"Condition", {{"patient", "p1"}, {"onset-date", "ge2020-01-01"}}},
    {"Condition", {{"patient", "Patient/p1"}, {"verification-status", "confirmed"}}},
    {"DocumentReference", {{"_id", "d1"}}},
    {"DocumentReference", {{"patient", "p1"}}},
    {"DocumentReference", {{"patient", "p1"}, {"category", "34109-9"}}},
    {"DocumentReference", {{"patient", "p1"}, {"category", "34109-9"}, {"date", "ge2020"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "http://loinc.org|34133-9"}}},
    {"DocumentReference", {{"patient", "p1"}, {"contenttype", "application/pdf"}}},
    {"DocumentReference", {{"patient", "p1"}, {"status", "current"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "34133-9"}, {"date", "ge2020"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "34133-9"}, {"period", "ge2020"}}},
    {"Immunization", {{"patient", "p1"}}},
    {"Immunization", {{"patient", "p1"}, {"date", "ge2020"}}},
    {"Immunization", {{"patient", "p1"}, {"status", "completed"}}},
    {"MedicationRequest", {{"patient", "p1"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}, {"authoredon", "ge2020"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}, {"status", "active"}}},
    {"MedicationStatement", {{"patient", "p1"}}},
    {"MedicationStatement", {{"patient", "p1"}, {"status", "active"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}}},
    {"Observation", {{"patient", "p1"}, {"code", "http://loinc.org|85354-9"}}},
    {"Observation", {{"patient", "p1"}, {"category", "vital-signs"}, {"date", "ge2020-01-01"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}, {"status", "final"}}},
    {"Observation", {{"patient", "p1"}, {"code", "85354-9"}, {"date", "ge2020"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}, {"_sort", "-date"}}},
    // Composites (beyond IPA): with a patient, and alone (led by the composite's code).
    {"Observation",
     {{"patient", "p1"}, {"component-code-value-quantity", "http://loinc.org|8480-6$gt140"}}},
    {"Observation", {{"code-value-concept", "http://loinc.org|72166-2$8517006"}}},
    {"Patient", {{"_id", "p1"}}},
    {"Patient", {{"identifier", "urn:oid:1.2.3|123"}}},
    {"Patient", {{"birthdate", "1970-01-01"}, {"family", "smith"}}},
    {"Patient", {{"birthdate", "1970-01-01"}, {"name", "smith"}}},
    {"Patient", {{"family", "smith"}, {"gender", "male"}}},
    {"Patient", {{"gender", "male"}, {"name", "smith"}}},
    {"Patient", {{"family", "smith"}}},
    {"Patient", {{"given", "john"}}},
    {"Patient", {{"name", "smith"}}},
};

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
