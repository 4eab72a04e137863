// The _include / _revinclude fetches and instance history name the owner (docs/scale-out.md,
// "Patient-scoped queries name the owner"): with the search's patient, every statement
// read_many, references_of, referencing and history send for the patient's own resources filters
// the distribution column (`owner`, or `patient` of compartment) on that patient, so Citus would
// route it to one shard. The statements are seen through PostgresOptions::statement_observer.
// That the answers do not change is checked by OwnerConformance on both back ends.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/internal/test_layout.h"
#include "storage/postgres/internal/test_server.h"
#include "storage/postgres/postgres_store.h"

namespace ipa::storage::postgres {
namespace {

struct Statement {
  std::string sql;
  std::vector<std::string> binds;
};

Write make_write(const std::string& type, const std::string& id) {
  Write w;
  w.resource_type = type;
  w.id = id;
  w.render = [type, id](const VersionStamp&) -> core::Result<std::string> {
    return R"({"resourceType":")" + type + R"(","id":")" + id + "\"}";
  };
  return w;
}

// An Observation owned by `owner`, with `performer` (another patient) as a member too.
Write obs(const std::string& id, const std::string& owner, const std::string& performer = "") {
  Write w = make_write("Observation", id);
  w.index.references.push_back(ReferenceRow{"subject", "Patient", owner, ""});
  w.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d1", ""});
  w.index.compartment_patients = {owner};
  if (!performer.empty()) {
    w.index.references.push_back(ReferenceRow{"performer", "Patient", performer, ""});
    w.index.compartment_patients.push_back(performer);
  }
  w.index.owner_patient = owner;
  return w;
}

class OwnerHints : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conninfo = testing::fresh_schema_conninfo();
    ASSERT_TRUE(conninfo);
    PostgresOptions o;
    o.conninfo = *conninfo;
    o.shared_type = testing::shared_type;
    o.statement_observer = [this](const std::string& sql, const std::vector<std::string>& binds) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(Statement{sql, binds});
    };
    auto store = open_postgres_store(o);
    ASSERT_TRUE(store.ok()) << store.error().log_detail;
    store_ = std::move(*store);
    for (const char* p : {"p1", "p2"}) {
      Write w = make_write("Patient", p);
      w.index.compartment_patients = {p};
      w.index.owner_patient = p;
      ASSERT_TRUE(store_->create(std::move(w)).ok());
    }
    Write d1 = make_write("Practitioner", "d1");
    ASSERT_TRUE(store_->create(std::move(d1)).ok());
    ASSERT_TRUE(store_->create(obs("o1", "p1")).ok());
    ASSERT_TRUE(store_->create(obs("o2", "p1", "p2")).ok());  // p2 is a member, p1 the owner
    ASSERT_TRUE(store_->create(obs("o3", "p2")).ok());
    ASSERT_TRUE(store_->update(obs("o1", "p1")).ok());
    taken();
  }

  std::vector<Statement> taken() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(seen_, {});
  }

  // Whether `s` filters a distribution column on `patient`: `owner = $n` or `patient = $n`
  // with $n bound to the patient, and names no table without such a filter.
  static bool names(const Statement& s, const std::string& patient) {
    for (size_t i = 0; i < s.binds.size(); ++i) {
      if (s.binds[i] != patient) continue;
      const std::string n = "$" + std::to_string(i + 1);
      if (s.sql.find("owner = " + n) != std::string::npos ||
          s.sql.find("patient = " + n) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  // Every statement taken since the last call names `patient` as the owner.
  void expect_all_name(const std::string& patient) {
    auto statements = taken();
    EXPECT_FALSE(statements.empty());
    for (const Statement& s : statements) EXPECT_TRUE(names(s, patient)) << s.sql;
  }

  std::mutex mu_;
  std::vector<Statement> seen_;
  std::unique_ptr<ResourceStore> store_;
};

TEST_F(OwnerHints, IncludeReadsOfThePatientsOwnResourcesNameTheOwner) {
  auto rs =
      store_->read_many({{"Observation", "o1"}, {"Observation", "o2"}, {"Patient", "p1"}}, "p1");
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->size(), 3u);
  expect_all_name("p1");

  auto refs = store_->references_of({{"Observation", "o1"}, {"Observation", "o2"}}, "*", "p1");
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(refs->size(), 3u);  // Patient/p1, Patient/p2, Practitioner/d1
  expect_all_name("p1");
  // Without the patient: by key alone (every shard).
  ASSERT_TRUE(store_->read_many({{"Observation", "o1"}}).ok());
  for (const Statement& s : taken()) EXPECT_FALSE(names(s, "p1")) << s.sql;
}

TEST_F(OwnerHints, IncludeReadsOfOthersResourcesFallBackToTheKey) {
  // o2 is p1's: p2's hint misses, then the read by key finds it (the answer does not change).
  auto rs = store_->read_many({{"Observation", "o2"}}, "p2");
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->size(), 1u);
  EXPECT_EQ(rs->front().owner_patient, "p1");
  auto statements = taken();
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_TRUE(names(statements[0], "p2")) << statements[0].sql;
  EXPECT_FALSE(names(statements[1], "p2")) << statements[1].sql;
  // A shared type is a reference table: read by key, no owner.
  ASSERT_EQ(store_->read_many({{"Practitioner", "d1"}}, "p1")->size(), 1u);
  statements = taken();
  ASSERT_EQ(statements.size(), 1u);
  EXPECT_NE(statements[0].sql.find("shared_resource"), std::string::npos);
}

TEST_F(OwnerHints, RevincludeOfAPatientOwningEveryMemberIsRouted) {
  auto rs = store_->referencing("Observation", "subject", {{"Patient", "p1"}}, 100, "p1");
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->size(), 2u);
  auto statements = taken();
  ASSERT_FALSE(statements.empty());
  for (const Statement& s : statements) {
    EXPECT_TRUE(names(s, "p1")) << s.sql;
    EXPECT_EQ(s.sql.find("JOIN compartment"), std::string::npos) << s.sql;
  }
  // p2's compartment holds o2, owned by p1: exact through the membership rows instead.
  rs = store_->referencing("Observation", "*", {{"Patient", "p1"}, {"Patient", "p2"}}, 100, "p2");
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->size(), 2u);  // o2 and o3
  bool membership = false;
  for (const Statement& s : taken()) {
    membership |= s.sql.find("JOIN compartment c ON c.patient = $6") != std::string::npos;
  }
  EXPECT_TRUE(membership);
}

TEST_F(OwnerHints, InstanceHistoryWithTheOwnerNamesIt) {
  HistoryQuery q;
  q.resource_type = "Observation";
  q.id = "o1";
  q.owner = "p1";
  auto page = store_->history(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 2);
  expect_all_name("p1");
  // A type's history has no single owner: the hint is not used.
  q.id.clear();
  ASSERT_TRUE(store_->history(q).ok());
  for (const Statement& s : taken()) EXPECT_FALSE(names(s, "p1")) << s.sql;
}

// A new owner takes the older versions along, so the owner's history is whole.
TEST_F(OwnerHints, OwnerChangeMovesTheOlderVersions) {
  ASSERT_TRUE(store_->update(obs("o1", "p2")).ok());
  HistoryQuery q;
  q.resource_type = "Observation";
  q.id = "o1";
  q.owner = "p2";
  auto page = store_->history(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 3);
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries.back().version_id, 1);
  q.owner = "p1";
  EXPECT_EQ(store_->history(q)->total, 0);
}

}  // namespace
}  // namespace ipa::storage::postgres
