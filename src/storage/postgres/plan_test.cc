// Index use of every IPA search combination on PostgreSQL: EXPLAIN (FORMAT JSON) of each page
// query, with enable_seqscan=off (small tables are scanned anyway), must hold no Seq Scan, both
// as an open search and bound to a patient's compartment (a patient-scoped token). The list
// mirrors tests/integration/plan_test.cc (the SQLite plans).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "search/query.h"
#include "search/testing/ipa_searches.h"
#include "storage/postgres/internal/test_server.h"
#include "storage/postgres/postgres_store.h"

namespace ipa::storage::postgres {
namespace {

using search::testing::kIpaSearches;

// Synthetic rows (1,000 patients, 2,000 resources of each searched type with the parameters the
// list uses) and fresh statistics, so the planner chooses as it would on a real store: plans
// of empty, never-analyzed tables say little.
constexpr const char* kSeed = R"sql(
INSERT INTO version(owner, type, id, version_id, last_updated, deleted, json)
  SELECT 'p' || (g % 1000), t, t || g, 1, g, false, '{}'
  FROM generate_series(1, 2000) g, unnest(ARRAY['AllergyIntolerance', 'Condition',
    'DocumentReference', 'Immunization', 'MedicationRequest', 'MedicationStatement',
    'Observation']) t;
INSERT INTO version(owner, type, id, version_id, last_updated, deleted, json)
  SELECT 'p' || g, 'Patient', 'p' || g, 1, g, false, '{}' FROM generate_series(0, 999) g;
INSERT INTO resource SELECT owner, type, id, seq, last_updated, deleted FROM version;
INSERT INTO compartment SELECT owner, type, id, owner FROM resource;
INSERT INTO idx_ref SELECT owner, type, id, p, 'Patient', owner, '' FROM resource,
  unnest(ARRAY['patient', 'subject']) p WHERE type <> 'Patient';
INSERT INTO idx_token SELECT owner, type, id, p, 'urn:s', 'c' || (seq % 40), 'c' || (seq % 40), ''
  FROM resource, unnest(ARRAY['category', 'clinical-status', 'code', 'status', 'intent', 'type',
    'contenttype', 'verification-status', 'identifier', 'gender']) p;
INSERT INTO idx_date SELECT owner, type, id, p, seq * 1000, seq * 1000 + 86400000 FROM resource,
  unnest(ARRAY['date', 'onset-date', 'authoredon', 'period', 'birthdate']) p;
INSERT INTO idx_string SELECT owner, type, id, p, 'n' || seq, 'N' || seq FROM resource,
  unnest(ARRAY['family', 'given', 'name']) p WHERE type = 'Patient';
INSERT INTO idx_composite SELECT owner, type, id, p, 'http://loinc.org', 'c' || (seq % 40), '',
  'c' || (seq % 7), seq % 200, seq % 200 + 1, 0, 0, '' FROM resource,
  unnest(ARRAY['component-code-value-quantity', 'code-value-concept']) p
  WHERE type = 'Observation';
ANALYZE;
)sql";

TEST(PostgresQueryPlans, EveryIpaCombinationUsesIndexes) {
  auto conninfo = testing::fresh_schema_conninfo();
  ASSERT_TRUE(conninfo);
  PostgresOptions o;
  o.conninfo = *conninfo;
  auto store = open_postgres_store(o);
  ASSERT_TRUE(store.ok()) << store.error().log_detail;
  ASSERT_TRUE(testing::exec(*conninfo, kSeed));
  for (const auto& [type, params] : kIpaSearches) {
    for (bool bound : {false, true}) {
      std::string q = type + "?";
      for (const auto& [k, v] : params) q += k + "=" + v + "&";
      if (bound) q += " (compartment Patient/p1)";
      SCOPED_TRACE(q);
      search::QueryOptions qo;
      qo.strict = true;
      auto parsed = search::parse_search(type, params, qo);
      ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
      if (bound) parsed->plan.compartment_patient = "p1";
      parsed->plan.want_total = true;
      auto plan = explain_search(*conninfo, parsed->plan);
      ASSERT_TRUE(plan.ok()) << plan.error().log_detail;
      EXPECT_EQ(plan->find("\"Seq Scan\""), std::string::npos) << "scan in plan:\n" << *plan;
      EXPECT_NE(plan->find("Index"), std::string::npos) << "no index in plan:\n" << *plan;
      if (std::getenv("IPA_PRINT_PLANS") != nullptr) std::cout << q << "\n" << *plan << "\n";
    }
  }
}

}  // namespace
}  // namespace ipa::storage::postgres
