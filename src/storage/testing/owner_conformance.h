// Conformance cases for the owning patient in queries (docs/scale-out.md): reads by id for a
// patient-bound caller (ResourceStore::read_for_patient) and compartment-bound searches, both
// when the patient owns every member of its compartment (a store may route the query to the
// owner's rows) and when a member belongs to another patient (the answer must stay exact).
// Included after conformance.h by each back end's test.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
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
    return ids_checked(std::move(plan));
  }

  // The ids `plan` finds (one page), checked to succeed and to count what it returns.
  std::vector<std::string> ids_checked(SearchPlan plan) {
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

// A Binary as the search module indexes it (FHIR R4 binary.html#security): owned by the Patient
// its securityContext names, and a member of that patient's compartment; unowned otherwise.
inline Write binary(const std::string& id, const std::string& context_patient) {
  Write w = make_write("Binary", id, R"("contentType":"text/plain","data":"aGk=")");
  if (!context_patient.empty()) {
    w.index.references.push_back(ReferenceRow{"_ref", "Patient", context_patient, ""});
    w.index.compartment_patients = {context_patient};
    w.index.owner_patient = context_patient;
  }
  return w;
}

// Binary is read through read_for_patient too: its owner's read is found, another patient's is
// 404, and one no patient owns (a securityContext naming a DocumentReference) is returned for
// the caller's grant check; a deletion is 410 for its owner only.
TEST_P(OwnerConformance, ReadForPatientOfABinaryFollowsItsSecurityContext) {
  ASSERT_TRUE(store_->create(binary("b1", "p1")).ok());
  ASSERT_TRUE(store_->create(binary("b0", "")).ok());
  EXPECT_EQ(store_->read("Binary", "b1")->owner_patient, "p1");
  EXPECT_EQ(status_of("p1", "Binary", "b1"), 200);
  EXPECT_EQ(status_of("p2", "Binary", "b1"), 404);
  EXPECT_EQ(status_of("p1", "Binary", "b0"), 200);
  EXPECT_EQ(status_of("p2", "Binary", "b0"), 200);
  EXPECT_EQ(status_of("p1", "Binary", "nope"), 404);
  auto own = store_->read_for_patient("p1", "Binary", "b1");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->json, store_->read("Binary", "b1")->json);
  // The membership follows the owner (every store lists it).
  EXPECT_EQ(*store_->compartments_of("Binary", "b1"), (std::vector<std::string>{"p1"}));
  EXPECT_TRUE(store_->compartments_of("Binary", "b0")->empty());
  // A new securityContext moves it; a deletion is gone for the last owner only.
  ASSERT_TRUE(store_->update(binary("b1", "p2")).ok());
  EXPECT_EQ(status_of("p1", "Binary", "b1"), 404);
  EXPECT_EQ(status_of("p2", "Binary", "b1"), 200);
  ASSERT_TRUE(store_->remove("Binary", "b1").ok());
  ASSERT_TRUE(store_->remove("Binary", "b0").ok());
  EXPECT_EQ(status_of("p2", "Binary", "b1"), 410);
  EXPECT_EQ(status_of("p1", "Binary", "b1"), 404);
  EXPECT_EQ(status_of("p1", "Binary", "b0"), 404);
}

// An unowned resource of a compartment type (no patient reference at all) is returned for the
// grant check to refuse, as read() returns it; deleted, it is not found.
TEST_P(OwnerConformance, ReadForPatientOfAnUnownedResourceLeavesItToTheGrantCheck) {
  ASSERT_TRUE(store_->create(make_write("Observation", "lone", "\"x\":1")).ok());
  EXPECT_EQ(status_of("p1", "Observation", "lone"), 200);
  EXPECT_EQ(store_->read_for_patient("p1", "Observation", "lone")->owner_patient, "");
  ASSERT_TRUE(store_->remove("Observation", "lone").ok());
  EXPECT_EQ(status_of("p1", "Observation", "lone"), 404);
}

// The _include / _revinclude fetches with the search's patient (ResourceStore::read_many,
// references_of, referencing): a hint that changes no answer for the first two, and for
// referencing the patient's compartment only.
TEST_P(OwnerConformance, IncludeFetchesWithAPatientAnswerTheSame) {
  auto ids = [](const std::vector<StoredResource>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.resource_type + "/" + r.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<ResourceKey> keys = {{"Observation", "o1"}, {"Observation", "o2"},
                                         {"Observation", "o3"}, {"Patient", "p1"},
                                         {"Patient", "p2"},     {"Observation", "nope"}};
  ASSERT_TRUE(store_->remove("Observation", "o3").ok());
  auto plain = store_->read_many(keys);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ids(*plain), (std::vector<std::string>{"Observation/o1", "Observation/o2", "Patient/p1",
                                                   "Patient/p2"}));
  for (const char* p : {"p1", "p2", "nobody"}) {
    SCOPED_TRACE(p);
    auto hinted = store_->read_many(keys, p);
    ASSERT_TRUE(hinted.ok());
    EXPECT_EQ(ids(*hinted), ids(*plain));
    auto refs = store_->references_of(keys, "*", p);
    auto plain_refs = store_->references_of(keys, "*");
    ASSERT_TRUE(refs.ok());
    ASSERT_TRUE(plain_refs.ok());
    EXPECT_EQ(*refs, *plain_refs);
    auto subject_refs = store_->references_of({{"Observation", "o2"}}, "performer", p);
    ASSERT_TRUE(subject_refs.ok());
    EXPECT_EQ(*subject_refs, (std::vector<ResourceKey>{{"Patient", "p2"}}));
  }
  // Revinclude: every Observation naming p1 or p2, then only the patient's compartment (p2's
  // holds o2, owned by p1, as a performer).
  const std::vector<ResourceKey> patients = {{"Patient", "p1"}, {"Patient", "p2"}};
  EXPECT_EQ(ids(*store_->referencing("Observation", "*", patients, 100)),
            (std::vector<std::string>{"Observation/o1", "Observation/o2"}));
  EXPECT_EQ(ids(*store_->referencing("Observation", "*", patients, 100, "p1")),
            (std::vector<std::string>{"Observation/o1", "Observation/o2"}));
  EXPECT_EQ(ids(*store_->referencing("Observation", "*", patients, 100, "p2")),
            (std::vector<std::string>{"Observation/o2"}));
  const std::vector<ResourceKey> p2 = {{"Patient", "p2"}};
  EXPECT_TRUE(store_->referencing("Observation", "subject", p2, 100, "p2")->empty());
  EXPECT_TRUE(store_->referencing("Observation", "*", patients, 100, "nobody")->empty());
  ASSERT_TRUE(store_->create(owned_obs("o4", "p2", {}, 13)).ok());
  EXPECT_EQ(ids(*store_->referencing("Observation", "subject", p2, 100, "p2")),
            (std::vector<std::string>{"Observation/o4"}));
  EXPECT_EQ(store_->referencing("Observation", "*", patients, 1, "p1")->size(), 1u);
}

// Instance history naming the current owner (HistoryQuery::owner) is the history without it,
// also after the owner changed (the older versions follow the owner).
TEST_P(OwnerConformance, HistoryWithTheOwnerAnswersTheSame) {
  ASSERT_TRUE(store_->update(owned_obs("o1", "p1", {}, 20)).ok());
  ASSERT_TRUE(store_->update(owned_obs("o1", "p2", {}, 21)).ok());
  ASSERT_TRUE(store_->update(owned_obs("o1", "p2", {}, 22)).ok());
  auto versions = [&](std::optional<std::string> owner, std::optional<int64_t> before = {}) {
    HistoryQuery q;
    q.resource_type = "Observation";
    q.id = "o1";
    q.owner = std::move(owner);
    q.count = 2;
    q.before_seq = before;
    auto page = store_->history(q);
    EXPECT_TRUE(page.ok()) << page.error().log_detail;
    std::vector<int64_t> out;
    if (!page.ok()) return std::pair{out, int64_t{-1}};
    for (const auto& e : page->entries) out.push_back(e.version_id);
    if (page->next_before_seq) {
      HistoryQuery next = q;
      next.before_seq = page->next_before_seq;
      auto rest = store_->history(next);
      EXPECT_TRUE(rest.ok());
      if (rest.ok()) {
        for (const auto& e : rest->entries) out.push_back(e.version_id);
      }
    }
    return std::pair{out, page->total};
  };
  const auto plain = versions(std::nullopt);
  EXPECT_EQ(plain.first, (std::vector<int64_t>{4, 3, 2, 1}));
  EXPECT_EQ(plain.second, 4);
  EXPECT_EQ(versions("p2"), plain);
  // Deleted: the deletion stays with the last owner, and so do the versions.
  ASSERT_TRUE(store_->remove("Observation", "o1").ok());
  EXPECT_EQ(versions("p2").second, 5);
  EXPECT_EQ(versions("p2"), versions(std::nullopt));
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
