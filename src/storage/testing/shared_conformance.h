// Conformance cases on supporting resources (types outside every patient compartment:
// Practitioner, PractitionerRole, Organization, Location, Medication, ...). PostgreSQL keeps them
// in a table set of their own (shared_*, Citus reference tables, docs/scale-out.md) when its
// store is opened with a `shared_type` predicate; SQLite keeps one set. Every answer must be the
// same either way, including queries that join a patient's resources to supporting ones (chains,
// includes, two-hop reachability) and system history over both. Included by conformance.h.
#pragma once

#include <string>
#include <vector>

#include "storage/testing/conformance.h"
#include "storage/testing/plans.h"

namespace ipa::storage::testing {

// A Practitioner with a family name (string `name`) and an identifier (token `identifier`).
inline Write practitioner(const std::string& id, const std::string& family) {
  Write w = make_write("Practitioner", id, "\"name\":[{\"family\":\"" + family + "\"}]");
  w.index.strings.push_back(StringRow{"name", family, family});
  w.index.tokens.push_back(TokenRow{"identifier", "urn:npi", "npi-" + id, ""});
  return w;
}

TEST_P(SearchConformance, SharedTypeCreateUpdateDeleteAndOwnerNeverSet) {
  auto created = store_->create(practitioner("d1", "smith"));
  ASSERT_TRUE(created.ok()) << created.error().log_detail;
  EXPECT_TRUE(created->created);
  auto again = store_->create(practitioner("d1", "smith"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().http_status, 409);
  clock_->advance(std::chrono::seconds(1));
  auto updated = store_->update(practitioner("d1", "smythe"));
  ASSERT_TRUE(updated.ok());
  EXPECT_FALSE(updated->created);
  EXPECT_EQ(updated->resource.version_id, 2);
  auto read = store_->read("Practitioner", "d1");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->version_id, 2);
  EXPECT_NE(read->json.find("smythe"), std::string::npos);
  // Outside every compartment: no owner, no membership; read for a patient, it is unowned, so
  // returned for the caller's grant check to decide (ResourceStore::read_for_patient).
  EXPECT_EQ(read->owner_patient, "");
  EXPECT_TRUE(store_->compartments_of("Practitioner", "d1")->empty());
  EXPECT_EQ(store_->read_for_patient("p1", "Practitioner", "d1")->json, read->json);
  EXPECT_NE(store_->vread("Practitioner", "d1", 1)->json.find("smith"), std::string::npos);
  auto h = store_->history(HistoryQuery{"Practitioner", "d1"});
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 2u);
  EXPECT_EQ(h->entries[0].version_id, 2);
  EXPECT_EQ(h->total, 2);
  // The index rows follow the update: the old name is gone.
  EXPECT_TRUE(ids_of(run(name_plan("Practitioner", "smith"))).empty());
  EXPECT_EQ(ids_of(run(name_plan("Practitioner", "smy"))), std::vector<std::string>{"d1"});
  // Conditional create on a shared type finds the match instead of writing.
  SearchPlan by_identifier = token_plan("Practitioner", "identifier", "urn:npi", "npi-d1");
  auto cond = store_->create(practitioner("d9", "other"), &by_identifier);
  ASSERT_TRUE(cond.ok());
  EXPECT_TRUE(cond->existed);
  EXPECT_EQ(cond->resource.id, "d1");
  ASSERT_TRUE(store_->remove("Practitioner", "d1").ok());
  EXPECT_EQ(store_->read("Practitioner", "d1").error().http_status, 410);
  EXPECT_TRUE(run(name_plan("Practitioner", "smy")).entries.empty());
  auto revived = store_->update(practitioner("d1", "smith"));
  ASSERT_TRUE(revived.ok());
  EXPECT_TRUE(revived->created);
  EXPECT_EQ(revived->resource.version_id, 4);
}

TEST_P(SearchConformance, SharedTypeSearchSortsAndCounts) {
  for (const auto& [id, family] : std::vector<std::pair<std::string, std::string>>{
           {"d1", "baker"}, {"d2", "adams"}, {"d3", "carter"}}) {
    ASSERT_TRUE(store_->create(practitioner(id, family)).ok());
  }
  SearchPlan p;
  p.resource_type = "Practitioner";
  p.sort.push_back(SortKey{IndexKind::kString, "name", false});
  p.want_total = true;
  p.count = 2;
  SearchPage first = run(p);
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{"d2", "d1"}));
  EXPECT_EQ(first.total, 3);
  ASSERT_TRUE(first.next);
  p.after = *first.next;
  EXPECT_EQ(ids_of(run(p)), std::vector<std::string>{"d3"});
  SearchPlan by_id = token_plan("Practitioner", "identifier", std::nullopt, "NPI-D3");
  EXPECT_EQ(ids_of(run(by_id)), std::vector<std::string>{"d3"});
}

// Observation -> Practitioner: the chained subquery reads the Practitioner's set, the outer query
// the Observation's, open and bound to the patient's compartment.
TEST_P(SearchConformance, ChainFromObservationToPractitioner) {
  ASSERT_TRUE(store_->create(practitioner("d1", "smith")).ok());
  ASSERT_TRUE(store_->create(practitioner("d2", "jones")).ok());
  Write a = obs("o7", "p1", "laboratory", 3);
  a.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d1", ""});
  ASSERT_TRUE(store_->create(std::move(a)).ok());
  Write b = obs("o8", "p2", "laboratory", 3);
  b.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d2", ""});
  ASSERT_TRUE(store_->create(std::move(b)).ok());
  auto chained = [](const std::string& family) {
    SearchPlan p;
    p.resource_type = "Observation";
    Condition c;
    c.kind = IndexKind::kReference;
    c.param = "performer";
    c.chain = std::make_shared<SearchPlan>(name_plan("Practitioner", family));
    p.all_of.push_back(Clause{{c}, false});
    return p;
  };
  EXPECT_EQ(ids_of(run(chained("smi"))), std::vector<std::string>{"o7"});
  EXPECT_EQ(ids_of(run(chained("jon"))), std::vector<std::string>{"o8"});
  EXPECT_TRUE(run(chained("zz")).entries.empty());
  SearchPlan bound = chained("smi");
  bound.compartment_patient = "p1";
  bound.want_total = true;
  SearchPage page = run(bound);
  EXPECT_EQ(ids_of(page), std::vector<std::string>{"o7"});
  EXPECT_EQ(page.total, 1);
  bound.compartment_patient = "p2";
  EXPECT_TRUE(run(bound).entries.empty());
  // The reverse chain direction: a Practitioner is found by its own index rows only.
  EXPECT_EQ(ids_of(run(name_plan("Practitioner", "smi"))), std::vector<std::string>{"d1"});
}

// _include of a Practitioner (references_of then read_many over both sets) and _revinclude of
// Observations that reference it (referencing from a patient-set type to a shared target), plus
// the includes of a shared source (PractitionerRole -> Practitioner, Organization).
TEST_P(SearchConformance, IncludeAndRevincludeAcrossSharedTypes) {
  ASSERT_TRUE(store_->create(practitioner("d1", "smith")).ok());
  ASSERT_TRUE(store_->create(make_write("Organization", "g1", "\"x\":1")).ok());
  Write role = make_write("PractitionerRole", "r1", "\"x\":1");
  role.index.references.push_back(ReferenceRow{"practitioner", "Practitioner", "d1", ""});
  role.index.references.push_back(ReferenceRow{"organization", "Organization", "g1", ""});
  ASSERT_TRUE(store_->create(std::move(role)).ok());
  Write a = obs("o7", "p1", "laboratory", 3);
  a.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d1", ""});
  ASSERT_TRUE(store_->create(std::move(a)).ok());

  auto targets = store_->references_of({{"Observation", "o7"}}, "performer");
  ASSERT_TRUE(targets.ok());
  EXPECT_EQ(*targets, (std::vector<ResourceKey>{{"Practitioner", "d1"}}));
  auto of_role = store_->references_of({{"PractitionerRole", "r1"}}, "*");
  ASSERT_TRUE(of_role.ok());
  EXPECT_EQ(*of_role, (std::vector<ResourceKey>{{"Organization", "g1"}, {"Practitioner", "d1"}}));
  auto many = store_->read_many(
      {{"Practitioner", "d1"}, {"Observation", "o7"}, {"Organization", "g1"}, {"Location", "x"}});
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->size(), 3u);
  EXPECT_EQ((*many)[0].resource_type, "Practitioner");
  EXPECT_EQ((*many)[1].id, "o7");
  EXPECT_EQ((*many)[2].resource_type, "Organization");
  auto rev = store_->referencing("Observation", "performer", {{"Practitioner", "d1"}}, 10);
  ASSERT_TRUE(rev.ok());
  ASSERT_EQ(rev->size(), 1u);
  EXPECT_EQ((*rev)[0].id, "o7");
  auto roles = store_->referencing("PractitionerRole", "*", {{"Organization", "g1"}}, 10);
  ASSERT_TRUE(roles.ok());
  ASSERT_EQ(roles->size(), 1u);
  EXPECT_EQ((*roles)[0].id, "r1");
  ASSERT_TRUE(store_->remove("PractitionerRole", "r1").ok());
  EXPECT_TRUE(store_->referencing("PractitionerRole", "*", {{"Organization", "g1"}}, 10)->empty());
}

// Two hops through an intermediate in either set: a shared PractitionerRole, or an Encounter
// (patient set) outside the patient's compartment that names a Location.
TEST_P(SearchConformance, ReferencedFromCompartmentThroughEitherSet) {
  Write role = make_write("PractitionerRole", "r1", "\"x\":1");
  role.index.references.push_back(ReferenceRow{"practitioner", "Practitioner", "d1", ""});
  ASSERT_TRUE(store_->create(std::move(role)).ok());
  ASSERT_TRUE(store_->create(practitioner("d1", "smith")).ok());
  Write enc = make_write("Encounter", "e1", "\"x\":1");
  enc.index.references.push_back(ReferenceRow{"location", "Location", "l1", ""});
  ASSERT_TRUE(store_->create(std::move(enc)).ok());
  Write a = obs("o7", "p1", "laboratory", 3);
  a.index.references.push_back(ReferenceRow{"performer", "PractitionerRole", "r1", ""});
  a.index.references.push_back(ReferenceRow{"encounter", "Encounter", "e1", ""});
  ASSERT_TRUE(store_->create(std::move(a)).ok());
  ASSERT_TRUE(store_->create(make_write("Location", "l1", "\"x\":1")).ok());
  EXPECT_TRUE(*store_->referenced_from_compartment("p1", {"Practitioner", "d1"}));
  EXPECT_TRUE(*store_->referenced_from_compartment("p1", {"Location", "l1"}));
  EXPECT_FALSE(*store_->referenced_from_compartment("p2", {"Practitioner", "d1"}));
  EXPECT_FALSE(*store_->referenced_from_compartment("p2", {"Location", "l1"}));
  // The role no longer names the practitioner: the second hop is gone.
  ASSERT_TRUE(store_->update(make_write("PractitionerRole", "r1", "\"x\":2")).ok());
  EXPECT_FALSE(*store_->referenced_from_compartment("p1", {"Practitioner", "d1"}));
}

// System history is one order over patient and supporting resources; type history of a shared
// type holds only that type; `since` and the keyset cursor work across both.
TEST_P(SearchConformance, SystemHistoryAcrossSharedAndPatientTypes) {
  auto base = store_->history(HistoryQuery{});
  ASSERT_TRUE(base.ok());
  const int64_t before = base->total;  // the fixture's Observations
  clock_->advance(std::chrono::seconds(10));
  const core::TimePoint since = clock_->now();
  ASSERT_TRUE(store_->create(practitioner("d1", "smith")).ok());
  clock_->advance(std::chrono::seconds(1));
  ASSERT_TRUE(store_->create(obs("o7", "p1", "laboratory", 3)).ok());
  clock_->advance(std::chrono::seconds(1));
  ASSERT_TRUE(store_->update(practitioner("d1", "smythe")).ok());
  clock_->advance(std::chrono::seconds(1));
  ASSERT_TRUE(store_->create(make_write("Organization", "g1", "\"x\":1")).ok());

  HistoryQuery all;
  all.count = 3;
  auto first = store_->history(all);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total, before + 4);
  std::vector<std::string> seen;
  for (const auto& e : first->entries) {
    seen.push_back(e.resource_type + "/" + e.id + "/" + std::to_string(e.version_id));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"Organization/g1/1", "Practitioner/d1/2",
                                            "Observation/o7/1"}));
  ASSERT_TRUE(first->next_before_seq);
  all.before_seq = first->next_before_seq;
  auto second = store_->history(all);
  ASSERT_TRUE(second.ok());
  ASSERT_FALSE(second->entries.empty());
  EXPECT_EQ(second->entries[0].resource_type + "/" + second->entries[0].id, "Practitioner/d1");
  EXPECT_EQ(second->entries[0].version_id, 1);

  HistoryQuery recent;
  recent.since = since;
  auto r = store_->history(recent);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 4);
  EXPECT_EQ(r->entries.size(), 4u);
  auto type = store_->history(HistoryQuery{"Practitioner"});
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->total, 2);
  for (const auto& e : type->entries) EXPECT_EQ(e.resource_type, "Practitioner");
}

}  // namespace ipa::storage::testing
