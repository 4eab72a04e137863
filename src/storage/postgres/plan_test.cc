// Index use of every IPA search combination on PostgreSQL: EXPLAIN (FORMAT JSON) of each page
// query, with enable_seqscan=off (small tables are scanned anyway), must hold no Seq Scan, both
// as an open search and bound to a patient's compartment (a patient-scoped token). The list
// mirrors tests/integration/plan_test.cc (the SQLite plans).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "search/query.h"
#include "search/testing/ipa_searches.h"
#include "storage/postgres/internal/render.h"
#include "storage/postgres/internal/test_layout.h"
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
-- p2 is also the performer of some of p3's resources: p2's searches cannot be routed.
INSERT INTO compartment SELECT 'p2', type, id, owner FROM resource
  WHERE owner = 'p3' AND type <> 'Patient';
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

// How often `needle` occurs in `s`.
size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

// A routed query names the patient ($1) as the owner of every table it reads: the resource,
// its version, and each index subquery (driver, probe, sort value),
// so that Citus can run it on the patient's shard alone (docs/scale-out.md).
void expect_routed(const std::string& sql) {
  EXPECT_NE(sql.find(" r.owner = $1"), std::string::npos) << sql;
  EXPECT_EQ(count_of(sql, "JOIN version v"), count_of(sql, "v.owner = $1")) << sql;
  // The owner is a member of its own compartment: no membership join once routed.
  EXPECT_EQ(sql.find("compartment"), std::string::npos) << sql;
  size_t index_tables = count_of(sql, "FROM idx_");
  EXPECT_EQ(index_tables, count_of(sql, "x.owner = $1")) << sql;
  // No join left on a column alone: every owner equality names the parameter.
  EXPECT_EQ(sql.find("= r.owner"), std::string::npos) << sql;
}

TEST(PostgresQueryPlans, EveryIpaCombinationUsesIndexes) {
  auto conninfo = testing::fresh_schema_conninfo();
  ASSERT_TRUE(conninfo);
  PostgresOptions o;
  o.conninfo = *conninfo;
  auto store = open_postgres_store(o);
  ASSERT_TRUE(store.ok()) << store.error().log_detail;
  ASSERT_TRUE(testing::exec(*conninfo, kSeed));
  for (const auto& [type, params] : kIpaSearches) {
    // Open; bound to p1 (routed: p1 owns its compartment); bound to p2 (a member of p3's: exact
    // membership, every shard).
    for (const char* bound : {"", "p1", "p2"}) {
      std::string q = type + "?";
      for (const auto& [k, v] : params) q += k + "=" + v + "&";
      if (*bound) q += std::string(" (compartment Patient/") + bound + ")";
      SCOPED_TRACE(q);
      search::QueryOptions qo;
      qo.strict = true;
      auto parsed = search::parse_search(type, params, qo);
      ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
      if (*bound) parsed->plan.compartment_patient = bound;
      parsed->plan.want_total = true;
      if (*bound) {
        parsed->plan.sort.push_back(SortKey{IndexKind::kDate, "date", true});
        std::string page = internal::render_page(parsed->plan, true).text;
        EXPECT_NE(page.find("JOIN version v"), std::string::npos) << page;
        expect_routed(page);
        expect_routed(internal::render_count(parsed->plan, true).text);
        expect_routed(internal::render_ids(parsed->plan, true).text);
        // Unrouted, the membership alone decides: no owner is a parameter.
        std::string unrouted = internal::render_page(parsed->plan, false).text;
        EXPECT_EQ(unrouted.find("owner = $"), std::string::npos) << unrouted;
        parsed->plan.sort.pop_back();
      }
      auto plan = explain_search(*conninfo, parsed->plan);
      ASSERT_TRUE(plan.ok()) << plan.error().log_detail;
      EXPECT_EQ(plan->find("\"Seq Scan\""), std::string::npos) << "scan in plan:\n" << *plan;
      EXPECT_NE(plan->find("Index"), std::string::npos) << "no index in plan:\n" << *plan;
      if (std::getenv("IPA_PRINT_PLANS") != nullptr) std::cout << q << "\n" << *plan << "\n";
    }
  }
}

// Supporting resources in the shared set (Citus reference tables): 2,000 Practitioners and
// Organizations, the Observations of 1,000 patients naming them as performers.
constexpr const char* kSharedSeed = R"sql(
INSERT INTO shared_version(owner, type, id, version_id, last_updated, deleted, json)
  SELECT '', t, t || g, 1, g, false, '{}'
  FROM generate_series(1, 2000) g, unnest(ARRAY['Practitioner', 'Organization']) t;
INSERT INTO shared_resource SELECT owner, type, id, seq, last_updated, deleted FROM shared_version;
INSERT INTO shared_idx_string SELECT owner, type, id, 'name', 'n' || seq, 'N' || seq
  FROM shared_resource;
INSERT INTO shared_idx_token SELECT owner, type, id, 'identifier', 'urn:npi', 'c' || seq,
  'c' || seq, '' FROM shared_resource;
INSERT INTO version(owner, type, id, version_id, last_updated, deleted, json)
  SELECT 'p' || (g % 1000), 'Observation', 'o' || g, 1, g, false, '{}'
  FROM generate_series(1, 20000) g;
INSERT INTO resource SELECT owner, type, id, seq, last_updated, deleted FROM version;
INSERT INTO compartment SELECT owner, type, id, owner FROM resource;
INSERT INTO idx_ref SELECT owner, type, id, 'subject', 'Patient', owner, '' FROM resource;
INSERT INTO idx_ref SELECT owner, type, id, 'performer', 'Practitioner',
  'Practitioner' || (seq % 2000 + 1), '' FROM resource;
INSERT INTO idx_date SELECT owner, type, id, 'date', seq * 1000, seq * 1000 + 1 FROM resource;
ANALYZE;
)sql";

// A chain from a patient's Observations to a Practitioner reads shared_resource and
// shared_idx_*, through indexes, open and routed to the patient; a search of a shared type reads
// only shared tables, through indexes.
TEST(PostgresQueryPlans, ChainToSharedTypeUsesIndexes) {
  auto conninfo = testing::fresh_schema_conninfo();
  ASSERT_TRUE(conninfo);
  PostgresOptions o;
  o.conninfo = *conninfo;
  o.shared_type = testing::shared_type;
  ASSERT_TRUE(open_postgres_store(o).ok());
  ASSERT_TRUE(testing::exec(*conninfo, kSharedSeed));
  const std::vector<std::pair<std::string, search::Params>> searches = {
      {"Observation", {{"performer:Practitioner.name", "n5"}}},
      {"Observation", {{"subject", "Patient/p1"}, {"performer:Practitioner.identifier", "c7"}}},
      {"Practitioner", {{"name", "n5"}}},
      {"Practitioner", {{"identifier", "urn:npi|c7"}, {"_sort", "name"}}},
  };
  for (const auto& [type, params] : searches) {
    for (const char* bound : {"", "p1"}) {
      SCOPED_TRACE(type + " " + params.front().first + " bound " + bound);
      search::QueryOptions qo;
      qo.strict = true;
      auto parsed = search::parse_search(type, params, qo);
      ASSERT_TRUE(parsed.ok()) << parsed.error().diagnostics;
      if (*bound) parsed->plan.compartment_patient = bound;
      std::string sql = internal::render_page(parsed->plan, *bound != 0, o.shared_type).text;
      EXPECT_NE(sql.find("shared_resource"), std::string::npos) << sql;
      if (type == "Observation") {
        EXPECT_NE(sql.find("FROM shared_resource r1"), std::string::npos) << sql;
        EXPECT_NE(sql.find("FROM resource r JOIN version v"), std::string::npos) << sql;
        if (*bound) expect_routed(sql.substr(0, sql.find("FROM shared_resource r1")));
      } else {
        EXPECT_EQ(sql.find("FROM resource"), std::string::npos) << sql;
        EXPECT_EQ(sql.find("FROM idx_"), std::string::npos) << sql;
      }
      auto plan = explain_search(*conninfo, parsed->plan, o.shared_type);
      ASSERT_TRUE(plan.ok()) << plan.error().log_detail;
      EXPECT_EQ(plan->find("\"Seq Scan\""), std::string::npos) << "scan in plan:\n" << *plan;
      EXPECT_NE(plan->find("shared_resource"), std::string::npos) << *plan;
      if (std::getenv("IPA_PRINT_PLANS") != nullptr) std::cout << sql << "\n" << *plan << "\n";
    }
  }
}

}  // namespace
}  // namespace ipa::storage::postgres
