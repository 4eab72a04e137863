// Conformance cases for the owning patient in queries (docs/scale-out.md): reads by id for a
// patient-bound caller (ResourceStore::read_for_patient) and compartment-bound searches, both
// when the patient owns every member of its compartment (a store may route the query to the
// owner's rows) and when a member belongs to another patient (the answer must stay exact).
// Included after conformance.h by each back end's test.
#pragma once

#include <string>
#include <vector>

#include "storage/testing/conformance.h"

namespace ipa::storage::testing {

// An Observation owned by `owner` whose compartment also holds `others` (e.g. a performer).
inline Write owned_obs(const std::string& id, const std::string& owner,
                       const std::vector<std::string>& others, int64_t day,
                       const std::string& category = "laboratory") {
  Write w = obs(id, owner, category, day);
  for (const std::string& p : others) {
    w.index.references.push_back(ReferenceRow{"performer", "Patient", p, ""});
    w.index.compartment_patients.push_back(p);
  }
  return w;
}

class OwnerConformance : public StoreConformance {
 protected:
  void SetUp() override {
    StoreConformance::SetUp();
    for (const char* p : {"p1", "p2"}) {
      Write w = make_write("Patient", p, "\"x\":1");
      w.index.compartment_patients = {p};
      w.index.owner_patient = p;
      ASSERT_TRUE(store_->create(std::move(w)).ok());
    }
    // o1: p1's alone; o2: p1's, with p2 as performer; o3: p2's alone.
    ASSERT_TRUE(store_->create(owned_obs("o1", "p1", {}, 10)).ok());
    ASSERT_TRUE(store_->create(owned_obs("o2", "p1", {"p2"}, 11, "vital-signs")).ok());
    ASSERT_TRUE(store_->create(owned_obs("o3", "p2", {}, 12)).ok());
  }

  int status_of(const std::string& patient, const std::string& type, const std::string& id) {
    auto r = store_->read_for_patient(patient, type, id);
    if (!r.ok()) return r.error().http_status;
    EXPECT_EQ(r->id, id);
    EXPECT_EQ(r->resource_type, type);
    EXPECT_FALSE(r->json.empty());
    return 200;
  }

  std::vector<std::string> bound_ids(const std::string& patient, std::vector<Clause> clauses = {}) {
    SearchPlan plan;
    plan.resource_type = "Observation";
    plan.compartment_patient = patient;
    plan.all_of = std::move(clauses);
    plan.want_total = true;
    auto page = store_->search(plan);
    EXPECT_TRUE(page.ok()) << page.error().log_detail;
    if (!page.ok()) return {};
    EXPECT_EQ(page->total, static_cast<int64_t>(page->entries.size()));
    return ids_of(*page);
  }
};

TEST_P(OwnerConformance, ReadForPatientFindsOwnResourcesAndMembersOnly) {
  EXPECT_EQ(status_of("p1", "Observation", "o1"), 200);
  EXPECT_EQ(status_of("p1", "Observation", "o2"), 200);
  EXPECT_EQ(status_of("p2", "Observation", "o2"), 200);  // a member owned by p1
  EXPECT_EQ(status_of("p2", "Observation", "o1"), 404);
  EXPECT_EQ(status_of("p1", "Observation", "o3"), 404);
  EXPECT_EQ(status_of("p1", "Observation", "nope"), 404);
  EXPECT_EQ(status_of("p1", "Patient", "p1"), 200);
  EXPECT_EQ(status_of("p1", "Patient", "p2"), 404);
  EXPECT_EQ(status_of("", "Observation", "o1"), 404);
  // The owner's read is the plain read's.
  auto own = store_->read_for_patient("p1", "Observation", "o2");
  auto plain = store_->read("Observation", "o2");
  ASSERT_TRUE(own.ok());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(own->json, plain->json);
  EXPECT_EQ(own->version_id, plain->version_id);
  EXPECT_EQ(own->owner_patient, "p1");
}

TEST_P(OwnerConformance, ReadForPatientOfADeletionIsGoneForTheOwnerOnly) {
  ASSERT_TRUE(store_->remove("Observation", "o1").ok());
  ASSERT_TRUE(store_->remove("Observation", "o2").ok());
  EXPECT_EQ(status_of("p1", "Observation", "o1"), 410);
  EXPECT_EQ(status_of("p2", "Observation", "o1"), 404);
  EXPECT_EQ(status_of("p1", "Observation", "o2"), 410);
  EXPECT_EQ(status_of("p2", "Observation", "o2"), 404);  // was a member, not the owner
  EXPECT_EQ(status_of("p2", "Observation", "o3"), 200);
}

TEST_P(OwnerConformance, ReadForPatientFollowsAnOwnerChange) {
  ASSERT_TRUE(store_->update(owned_obs("o1", "p2", {}, 10)).ok());
  EXPECT_EQ(status_of("p1", "Observation", "o1"), 404);
  EXPECT_EQ(status_of("p2", "Observation", "o1"), 200);
  EXPECT_EQ(store_->read_for_patient("p2", "Observation", "o1")->version_id, 2);
}

TEST_P(OwnerConformance, CompartmentSearchIsExactWithAndWithoutForeignMembers) {
  // p1 owns every member (routable); p2's compartment holds o2, owned by p1.
  EXPECT_EQ(bound_ids("p1"), (std::vector<std::string>{"o1", "o2"}));
  EXPECT_EQ(bound_ids("p2"), (std::vector<std::string>{"o2", "o3"}));
  Condition lab;
  lab.kind = IndexKind::kToken;
  lab.param = "category";
  lab.code = "laboratory";
  EXPECT_EQ(bound_ids("p1", {Clause{{lab}, false}}), (std::vector<std::string>{"o1"}));
  EXPECT_EQ(bound_ids("p2", {Clause{{lab}, false}}), (std::vector<std::string>{"o3"}));
  Condition vital = lab;
  vital.code = "vital-signs";
  EXPECT_EQ(bound_ids("p2", {Clause{{vital}, false}}), (std::vector<std::string>{"o2"}));
  EXPECT_EQ(bound_ids("p2", {Clause{{ref("patient", "Patient", "p2")}, false}}),
            (std::vector<std::string>{"o3"}));
  EXPECT_EQ(bound_ids("p1", {Clause{{date_cond(Prefix::kGe, 11)}, false}}),
            (std::vector<std::string>{"o2"}));
  // Sorted by date, newest first, on a routed plan (the sort values read the owner's rows).
  SearchPlan plan;
  plan.resource_type = "Observation";
  plan.compartment_patient = "p1";
  plan.sort.push_back(SortKey{IndexKind::kDate, "date", true});
  auto page = store_->search(plan);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(ids_of(*page), (std::vector<std::string>{"o2", "o1"}));
  // Once p2 is no longer o2's performer, p2's searches are routable too, and still exact.
  ASSERT_TRUE(store_->update(owned_obs("o2", "p1", {}, 11, "vital-signs")).ok());
  EXPECT_EQ(bound_ids("p2"), (std::vector<std::string>{"o3"}));
  EXPECT_EQ(bound_ids("p1"), (std::vector<std::string>{"o1", "o2"}));
}

// Searches without a compartment bound that name a patient (patient=, performer=Patient/..: the
// search module sets routing_patient). A store may route them to that patient's rows only when
// the patient owns every member of its compartment of the type; the answer is the same either
// way.
TEST_P(OwnerConformance, SearchNamingAPatientIsExactWithAndWithoutForeignMembers) {
  auto named = [&](const std::string& param, const std::string& patient,
                   std::vector<Clause> more = {}) {
    SearchPlan plan;
    plan.resource_type = "Observation";
    plan.all_of = std::move(more);
    plan.all_of.push_back(Clause{{ref(param, "Patient", patient)}, false});
    plan.routing_patient = patient;
    plan.want_total = true;
    plan.sort.push_back(SortKey{IndexKind::kDate, "date", true});
    auto page = store_->search(plan);
    EXPECT_TRUE(page.ok()) << page.error().log_detail;
    if (!page.ok()) return std::vector<std::string>{};
    EXPECT_EQ(page->total, static_cast<int64_t>(page->entries.size()));
    return ids_of(*page);
  };
  EXPECT_EQ(named("subject", "p1"), (std::vector<std::string>{"o2", "o1"}));
  EXPECT_EQ(named("patient", "p2"), (std::vector<std::string>{"o3"}));
  // p2 performs o2, owned by p1: routed to p2's rows, o2 would be lost.
  EXPECT_EQ(named("performer", "p2"), (std::vector<std::string>{"o2"}));
  Condition vital;
  vital.kind = IndexKind::kToken;
  vital.param = "category";
  vital.code = "vital-signs";
  EXPECT_EQ(named("subject", "p1", {Clause{{vital}, false}}), (std::vector<std::string>{"o2"}));
  EXPECT_TRUE(named("subject", "p2", {Clause{{vital}, false}}).empty());
}

}  // namespace ipa::storage::testing
