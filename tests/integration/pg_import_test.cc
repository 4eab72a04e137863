// `ipa-server import` into PostgreSQL through COPY (docs/scale-out.md): the same rows as the
// row-by-row path (`--no-copy`), table by table and search by search; the same rejects, summary,
// exit status and idempotence as the SQLite import. Needs IPA_TEST_POSTGRES
// (scripts/pg-test-cluster.sh).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fstream>
#include <regex>

#include "harness.h"
#include "pg_harness.h"

namespace ipa::testing {
namespace {

// The rows of a query, each as its columns joined by '|'.
std::vector<std::string> query_rows(const std::string& conninfo, const std::string& sql) {
  std::vector<std::string> out;
  PGconn* c = PQconnectdb(conninfo.c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(c);
  for (int i = 0; i < PQntuples(r); ++i) {
    std::string row;
    for (int j = 0; j < PQnfields(r); ++j) {
      if (j) row += '|';
      row += PQgetvalue(r, i, j);
    }
    out.push_back(std::move(row));
  }
  PQclear(r);
  PQfinish(c);
  return out;
}

// Its databases (ipa_imp_<suffix>_<pid>_<test>) are dropped after each test.
class PgImportTest : public PostgresTest {
 protected:
  std::string database(const std::string& suffix) {
    return PostgresTest::database("ipa_imp_" + suffix);
  }
};

// Every row that a write derives, in a form that leaves out only what differs between two runs
// (the history sequence number and the write time).
const char* kTableDumps[] = {
    "SELECT owner, type, id, version_id, deleted, "
    "regexp_replace(json, '\"lastUpdated\":\"[^\"]*\"', '') FROM version "
    "ORDER BY type, id, version_id",
    "SELECT r.owner, r.type, r.id, r.deleted, v.version_id, r.last_updated = v.last_updated "
    "FROM resource r JOIN version v ON v.owner = r.owner AND v.seq = r.seq AND v.type = r.type "
    "AND v.id = r.id ORDER BY r.type, r.id",
    "SELECT count(*) FROM resource",
    "SELECT t::text FROM idx_token t ORDER BY 1",
    "SELECT t::text FROM idx_string t ORDER BY 1",
    "SELECT t::text FROM idx_date t ORDER BY 1",
    "SELECT t::text FROM idx_ref t ORDER BY 1",
    "SELECT t::text FROM idx_quantity t ORDER BY 1",
    "SELECT t::text FROM idx_number t ORDER BY 1",
    "SELECT t::text FROM idx_uri t ORDER BY 1",
    "SELECT t::text FROM idx_composite t ORDER BY 1",
    "SELECT t::text FROM compartment t ORDER BY 1",
    // The shared set (migration 5: supporting resources, Citus reference tables).
    "SELECT owner, type, id, version_id, deleted, "
    "regexp_replace(json, '\"lastUpdated\":\"[^\"]*\"', '') FROM shared_version "
    "ORDER BY type, id, version_id",
    "SELECT r.owner, r.type, r.id, r.deleted, v.version_id, r.last_updated = v.last_updated "
    "FROM shared_resource r JOIN shared_version v ON v.seq = r.seq AND v.type = r.type "
    "AND v.id = r.id ORDER BY r.type, r.id",
    "SELECT count(*) FROM shared_resource",
    "SELECT t::text FROM shared_idx_token t ORDER BY 1",
    "SELECT t::text FROM shared_idx_string t ORDER BY 1",
    "SELECT t::text FROM shared_idx_date t ORDER BY 1",
    "SELECT t::text FROM shared_idx_ref t ORDER BY 1",
    "SELECT t::text FROM shared_idx_quantity t ORDER BY 1",
    "SELECT t::text FROM shared_idx_number t ORDER BY 1",
    "SELECT t::text FROM shared_idx_uri t ORDER BY 1",
    "SELECT t::text FROM shared_idx_composite t ORDER BY 1",
    "SELECT t::text FROM shared_idx_position t ORDER BY 1",
    "SELECT t::text FROM idx_position t ORDER BY 1",
};

// Searches over the generated data: tokens, strings, dates, references, quantities,
// composites, compartments, sort and totals.
const char* kSearches[] = {
    "Observation?category=vital-signs&_count=1000&_total=accurate",
    "Observation?code=http://loinc.org|8867-4&_count=1000",
    "Observation?code=http://loinc.org|85354-9&component-code-value-quantity="
    "http://loinc.org|8480-6$gt120&_count=1000",
    "Observation?value-quantity=gt100&_count=1000",
    "Observation?date=ge2020-01-01&_sort=-date&_count=1000",
    "Observation?patient=Patient/pat-0002&_count=1000",
    "Patient/pat-0003/Condition?_count=1000",
    "Patient/pat-0001/MedicationRequest?_count=1000",
    "Condition?clinical-status=active&_count=1000",
    "Patient?gender=female&_count=1000",
    "Patient?birthdate=lt1980&_count=1000",
    "Patient?name=a&_count=1000",
    "Patient?identifier=https://ipa-demo.example.org/fhir/sid/mrn|MRN10000001",
    "Encounter?_count=1000&_sort=date",
    "DocumentReference?patient=Patient/pat-0001&_count=1000",
    "Immunization?_count=1000&_total=accurate",
};

// The ids of a search's matches, preceded by "total=N" when `with_total` and the Bundle has one.
std::vector<std::string> search_ids(const ServerProcess& s, const std::string& query,
                                    bool with_total = false) {
  auto r = s.get("/fhir/" + query);
  EXPECT_EQ(r.status, 200) << query << ": " << r.body;
  json::Value bundle = body_json(r);
  std::vector<std::string> out;
  if (const json::Value* total = bundle.find("total"); total != nullptr && with_total) {
    out.push_back("total=" + std::to_string(total->as_int().value_or(-1)));
  }
  if (const json::Value* entries = bundle.find("entry")) {
    for (const auto& e : entries->items()) out.emplace_back(e.find("resource")->get_string("id"));
  }
  return out;
}

TEST_F(PgImportTest, CopyStoresTheSameRowsAsRowByRowInserts) {
  auto gen = run_server_command({"gen", "--patients", "4", "--out", dir_.file("data")});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::string copied = database("copy");
  std::string inserted = database("insert");
  auto a = run_server_command({"import", "--store", "postgresql:" + copied, dir_.file("data")});
  auto b = run_server_command(
      {"import", "--store", "postgresql:" + inserted, "--no-copy", dir_.file("data")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::smatch ma;
  std::smatch mb;
  ASSERT_TRUE(std::regex_search(a.err, ma, std::regex("import: (\\d+) created, 0 updated")))
      << a.err;
  ASSERT_TRUE(std::regex_search(b.err, mb, std::regex("import: (\\d+) created, 0 updated")))
      << b.err;
  EXPECT_EQ(ma[1].str(), mb[1].str());
  EXPECT_GT(std::stoi(ma[1].str()), 100);

  size_t rows = 0;
  for (const char* sql : kTableDumps) {
    SCOPED_TRACE(sql);
    auto x = query_rows(copied, sql);
    auto y = query_rows(inserted, sql);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], y[i]) << "row " << i;
    rows += x.size();
  }
  EXPECT_GT(rows, 2000u);
  for (const std::string& db : {copied, inserted}) {
    SCOPED_TRACE(db);
    // The shared set is in the comparison for real: the generated supporting resources are there,
    // and none in the patient set.
    EXPECT_GT(query_rows(db, "SELECT 1 FROM shared_resource").size(), 0u);
    EXPECT_GT(query_rows(db, "SELECT 1 FROM shared_idx_token").size(), 0u);
    EXPECT_TRUE(query_rows(db,
                           "SELECT 1 FROM resource WHERE type IN ('Practitioner', "
                           "'Organization', 'Location', 'Medication')")
                    .empty());
    // Every generated Binary names its Patient as securityContext: owned by that patient, with
    // its versions (FHIR R4 binary.html#security; docs/scale-out.md).
    EXPECT_GT(query_rows(db, "SELECT 1 FROM resource WHERE type = 'Binary'").size(), 0u);
    EXPECT_TRUE(
        query_rows(db, "SELECT 1 FROM resource WHERE type = 'Binary' AND owner = ''").empty());
    EXPECT_TRUE(query_rows(db,
                           "SELECT 1 FROM version v JOIN resource r ON r.type = v.type AND "
                           "r.id = v.id WHERE v.owner <> r.owner")
                    .empty());
  }

  ServerProcess sa("postgresql:" + copied, {}, {}, "serve", false, dir_.file("sa"));
  ServerProcess sb("postgresql:" + inserted, {}, {}, "serve", false, dir_.file("sb"));
  size_t matched = 0;
  for (const char* q : kSearches) {
    SCOPED_TRACE(q);
    auto x = search_ids(sa, q, true);
    EXPECT_EQ(x, search_ids(sb, q, true));
    matched += x.size();
  }
  EXPECT_GT(matched, 200u);
}

TEST_F(PgImportTest, RejectsByLineOnlyTheRejectedAndIsIdempotent) {
  std::string file = dir_.file("data.ndjson");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"imp-1","active":true})"
                         "\n"
                      << R"({"resourceType":"Patient","id":"imp-2","active":"maybe"})"
                         "\n"
                      << "\n"
                      << R"({"resourceType":"Patient","id":"imp-3",)"
                         "\n"
                      << R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})"
                         "\n"
                      << R"({"resourceType":"Patient","id":"imp-4","gender":"female"})"
                         "\n"
                      << R"({"resourceType":"Patient","id":"imp-4","gender":"male"})"
                         "\n";
  std::string db = "postgresql:" + database("rejects");
  auto first = run_server_command({"import", "--store", db, file});
  EXPECT_EQ(first.exit_code, 1) << first.err;
  EXPECT_NE(first.err.find(file + ":2: "), std::string::npos) << first.err;
  EXPECT_NE(first.err.find(file + ":4: Invalid JSON"), std::string::npos) << first.err;
  // imp-4 twice in one batch: created, then updated (the second write sees the first).
  EXPECT_NE(first.err.find("3 created, 1 updated, 0 unchanged, 2 rejected"), std::string::npos)
      << first.err;
  auto again = run_server_command({"import", "--store", db, file});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  // The Observation has no id, so it is created again; imp-4 goes back to female and male.
  EXPECT_NE(again.err.find("1 created, 2 updated, 1 unchanged, 2 rejected"), std::string::npos)
      << again.err;

  std::string fixed = dir_.file("fixed.ndjson");
  std::ofstream(fixed) << R"({"resourceType":"Patient","id":"imp-1","active":false})"
                          "\n";
  auto third = run_server_command({"import", "--store", db, fixed});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.err.find("0 created, 1 updated, 0 unchanged, 0 rejected"), std::string::npos)
      << third.err;

  ServerProcess server(db, {}, {}, "serve", false, dir_.file("srv"));
  EXPECT_EQ(server.get("/fhir/Patient/imp-2").status, 404);
  EXPECT_EQ(body_json(server.get("/fhir/Patient/imp-1/_history")).find("total")->as_int(), 2);
  EXPECT_EQ(body_json(server.get("/fhir/Patient/imp-4/_history")).find("total")->as_int(), 4);
  EXPECT_EQ(search_ids(server, "Patient?active=false"), std::vector<std::string>{"imp-1"});
  EXPECT_TRUE(search_ids(server, "Patient?active=true").empty());
  EXPECT_EQ(search_ids(server, "Patient?gender=male"), std::vector<std::string>{"imp-4"});
  EXPECT_TRUE(search_ids(server, "Patient?gender=female").empty());
  EXPECT_EQ(search_ids(server, "Observation?_total=accurate&status=final", true).front(),
            "total=2");
}

}  // namespace
}  // namespace ipa::testing
