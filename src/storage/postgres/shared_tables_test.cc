// PostgreSQL's shared table set (docs/scale-out.md, "Supporting resources in reference tables"):
// where the rows of each type land (row-by-row and COPY writes), the move of an existing store's
// rows at open, and the SQL of chains, includes and history across both sets. The answers
// themselves are checked by the conformance suite (storage/testing/shared_conformance.h) on both
// back ends.
#include <gtest/gtest.h>

#include "search/query.h"
#include "storage/postgres/internal/render.h"
#include "storage/postgres/internal/test_layout.h"
#include "storage/postgres/internal/test_server.h"
#include "storage/postgres/postgres_store.h"
#include "storage/testing/plans.h"

namespace ipa::storage::postgres {
namespace {

using ::ipa::storage::testing::name_plan;

// Writes as the conformance suite's (conformance.h holds test definitions: one per program).
Write make_write(const std::string& type, const std::string& id, const std::string& body) {
  Write w;
  w.resource_type = type;
  w.id = id;
  w.render = [type, id, body](const VersionStamp&) -> core::Result<std::string> {
    return R"({"resourceType":")" + type + R"(","id":")" + id + "\"," + body + "}";
  };
  return w;
}

Write obs(const std::string& id, const std::string& patient) {
  Write w = make_write("Observation", id, "\"x\":1");
  w.index.references.push_back(ReferenceRow{"subject", "Patient", patient, ""});
  w.index.references.push_back(ReferenceRow{"patient", "Patient", patient, ""});
  w.index.compartment_patients = {patient};
  w.index.owner_patient = patient;
  return w;
}

Write practitioner(const std::string& id, const std::string& family) {
  Write w = make_write("Practitioner", id, "\"x\":1");
  w.index.strings.push_back(StringRow{"name", family, family});
  w.index.tokens.push_back(TokenRow{"identifier", "urn:npi", "npi-" + id, ""});
  return w;
}

class SharedTables : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto conninfo = testing::fresh_schema_conninfo();
    ASSERT_TRUE(conninfo);
    conninfo_ = *conninfo;
    o_.conninfo = conninfo_;
    o_.bulk_copy = GetParam();
    o_.shared_type = testing::shared_type;
  }
  int64_t rows(const std::string& sql) { return testing::count(conninfo_, sql); }
  std::string conninfo_;
  PostgresOptions o_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, SharedTables, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "copy" : "insert"; });

// Every row of a supporting resource is in shared_*, every row of a patient's in the patient set,
// whichever write path.
TEST_P(SharedTables, EachTypeWritesItsOwnSet) {
  auto store = open_postgres_store(o_);
  ASSERT_TRUE(store.ok()) << store.error().log_detail;
  Write p = make_write("Patient", "p1", "\"x\":1");
  p.index.compartment_patients = {"p1"};
  p.index.owner_patient = "p1";
  ASSERT_TRUE((*store)->create(std::move(p)).ok());
  Write o = obs("o1", "p1");
  o.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d1", ""});
  ASSERT_TRUE((*store)->create(std::move(o)).ok());
  ASSERT_TRUE((*store)->create(practitioner("d1", "smith")).ok());
  // A shared type never gets an owner or a membership, even when a caller names one.
  Write odd = practitioner("d2", "jones");
  odd.index.owner_patient = "p1";
  odd.index.compartment_patients = {"p1"};
  ASSERT_TRUE((*store)->create(std::move(odd)).ok());
  ASSERT_TRUE((*store)->update(practitioner("d1", "smythe")).ok());

  EXPECT_EQ(rows("SELECT count(*) FROM shared_resource"), 2);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_resource WHERE owner <> ''"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_version"), 3);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_idx_string"), 2);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_idx_token"), 2);
  EXPECT_EQ(rows("SELECT count(*) FROM resource WHERE type = 'Practitioner'"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM version WHERE type = 'Practitioner'"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM compartment WHERE type = 'Practitioner'"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM resource"), 2);
  EXPECT_EQ(rows("SELECT count(*) FROM idx_ref WHERE type = 'Observation'"), 3);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_idx_ref"), 0);
  // One sequence: the versions of both sets interleave in write order.
  EXPECT_EQ(rows("SELECT count(DISTINCT seq) FROM (SELECT seq FROM version UNION ALL "
                 "SELECT seq FROM shared_version) s"),
            5);
  EXPECT_EQ(rows("SELECT max(seq) FROM shared_version"),
            rows("SELECT max(seq) FROM (SELECT seq FROM version UNION ALL "
                 "SELECT seq FROM shared_version) s"));
}

// A store written before migration 5 (or opened without the predicate) has its supporting
// resources in the patient tables: opening it with the predicate moves them, with their versions
// and index rows; opening it without moves them back. Reads and searches answer the same.
TEST_P(SharedTables, OpenMovesRowsToTheSetOfTheirType) {
  PostgresOptions plain = o_;
  plain.shared_type = nullptr;
  {
    auto store = open_postgres_store(plain);
    ASSERT_TRUE(store.ok()) << store.error().log_detail;
    ASSERT_TRUE((*store)->create(practitioner("d1", "smith")).ok());
    ASSERT_TRUE((*store)->update(practitioner("d1", "smythe")).ok());
    ASSERT_TRUE((*store)->create(obs("o1", "p1")).ok());
    ASSERT_TRUE((*store)->create(make_write("Organization", "g1", "\"x\":1")).ok());
  }
  EXPECT_EQ(rows("SELECT count(*) FROM shared_resource"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM resource"), 3);
  auto check = [&](ResourceStore& s) {
    auto d1 = s.read("Practitioner", "d1");
    ASSERT_TRUE(d1.ok());
    EXPECT_EQ(d1->version_id, 2);
    EXPECT_TRUE(s.vread("Practitioner", "d1", 1).ok());
    SearchPlan p = name_plan("Practitioner", "smy");
    auto page = s.search(p);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->entries.size(), 1u);
    EXPECT_EQ(s.history(HistoryQuery{})->total, 4);
    EXPECT_TRUE(s.read("Observation", "o1").ok());
  };
  {
    auto store = open_postgres_store(o_);
    ASSERT_TRUE(store.ok()) << store.error().log_detail;
    EXPECT_EQ(rows("SELECT count(*) FROM shared_resource"), 2);
    EXPECT_EQ(rows("SELECT count(*) FROM shared_version"), 3);
    EXPECT_EQ(rows("SELECT count(*) FROM shared_idx_string"), 1);
    EXPECT_EQ(rows("SELECT count(*) FROM resource"), 1);
    EXPECT_EQ(rows("SELECT count(*) FROM idx_string WHERE type = 'Practitioner'"), 0);
    check(**store);
  }
  // Opening again moves nothing; opening without the predicate moves them back.
  ASSERT_TRUE(open_postgres_store(o_).ok());
  EXPECT_EQ(rows("SELECT count(*) FROM shared_resource"), 2);
  auto back = open_postgres_store(plain);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(rows("SELECT count(*) FROM shared_resource"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM shared_version"), 0);
  EXPECT_EQ(rows("SELECT count(*) FROM resource"), 3);
  check(**back);
}

// The rendered SQL picks the set of each resource it reads: the outer one, a chain's, and the
// probes and sort values of each.
TEST(SharedTablesSql, ChainsProbesAndSortsNameTheSetOfTheirResource) {
  internal::SharedType shared = testing::shared_type;
  search::QueryOptions qo;
  qo.strict = true;
  auto chain = search::parse_search(
      "Observation", {{"performer:Practitioner.name", "smith"}, {"_sort", "-date"}}, qo);
  ASSERT_TRUE(chain.ok()) << chain.error().diagnostics;
  std::string sql = internal::render_page(chain->plan, false, shared).text;
  EXPECT_NE(sql.find("FROM resource r JOIN version v"), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM shared_resource r1 WHERE"), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM shared_idx_string x WHERE x.owner = r1.owner"), std::string::npos)
      << sql;
  EXPECT_NE(sql.find("FROM idx_ref x WHERE x.owner = r.owner"), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM idx_date x WHERE x.owner = r.owner"), std::string::npos) << sql;
  // Without the predicate every table is a patient table.
  EXPECT_EQ(internal::render_page(chain->plan, false).text.find("shared_"), std::string::npos);

  auto outer = search::parse_search(
      "Practitioner", {{"name", "smith"}, {"identifier", "urn:npi|1"}, {"_sort", "name"}}, qo);
  ASSERT_TRUE(outer.ok()) << outer.error().diagnostics;
  outer->plan.want_total = true;
  for (const std::string& s : {internal::render_page(outer->plan, false, shared).text,
                               internal::render_count(outer->plan, false, shared).text,
                               internal::render_ids(outer->plan, false, shared).text}) {
    EXPECT_NE(s.find("FROM shared_resource r"), std::string::npos) << s;
    EXPECT_EQ(s.find("FROM resource"), std::string::npos) << s;
    EXPECT_EQ(s.find("FROM idx_"), std::string::npos) << s;
    EXPECT_EQ(s.find("JOIN version"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace ipa::storage::postgres
