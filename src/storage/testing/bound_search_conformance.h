// Conformance cases for what makes patient-bound searches fast (bench/README.md "Session 4:
// search speed"): a compartment-bound plan that also names a patient (routing_patient, as the
// search module sets it for patient=, subject=Patient/..) must answer exactly what the compartment
// and the reference together select, whether or not the patient is the compartment's; and one
// query shape run again and again, with other values each time and more shapes than a store keeps
// prepared, must answer each run from its own values. Included after owner_conformance.h by each
// back end's test.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "storage/testing/owner_conformance.h"

namespace ipa::storage::testing {

class BoundSearchConformance : public OwnerConformance {
 protected:
  // Observations in `compartment`'s compartment that reference Patient/`patient` by `param`,
  // with `more` clauses, through a plan shaped as the search module builds it.
  std::vector<std::string> bound_naming(const std::string& compartment, const std::string& param,
                                        const std::string& patient, std::vector<Clause> more = {}) {
    SearchPlan plan;
    plan.resource_type = "Observation";
    plan.compartment_patient = compartment;
    plan.all_of = std::move(more);
    plan.all_of.push_back(Clause{{ref(param, "Patient", patient)}, false});
    plan.routing_patient = patient;
    return ids_checked(std::move(plan));
  }
};

TEST_P(BoundSearchConformance, NamingTheCompartmentsPatientSelectsItsReferencesOnly) {
  // o1, o2: subject p1; o2 also has p2 as performer; o3: subject p2.
  EXPECT_EQ(bound_naming("p1", "patient", "p1"), (std::vector<std::string>{"o1", "o2"}));
  EXPECT_EQ(bound_naming("p1", "subject", "p1"), (std::vector<std::string>{"o1", "o2"}));
  // o2 is in p2's compartment, but only through its performer.
  EXPECT_EQ(bound_naming("p2", "patient", "p2"), (std::vector<std::string>{"o3"}));
  EXPECT_EQ(bound_naming("p2", "performer", "p2"), (std::vector<std::string>{"o2"}));
  Condition vital;
  vital.kind = IndexKind::kToken;
  vital.param = "category";
  vital.code = "vital-signs";
  EXPECT_EQ(bound_naming("p1", "patient", "p1", {Clause{{vital}, false}}),
            (std::vector<std::string>{"o2"}));
  EXPECT_TRUE(bound_naming("p2", "patient", "p2", {Clause{{vital}, false}}).empty());
  // A deleted match drops out.
  ASSERT_TRUE(store_->remove("Observation", "o1").ok());
  EXPECT_EQ(bound_naming("p1", "patient", "p1"), (std::vector<std::string>{"o2"}));
}

TEST_P(BoundSearchConformance, NamingAnotherPatientKeepsTheCompartmentBound) {
  // p1's grant asking for p2's Observations sees none of p2's own.
  EXPECT_TRUE(bound_naming("p1", "patient", "p2").empty());
  EXPECT_TRUE(bound_naming("p1", "performer", "p1").empty());
  // p2's grant asking for p1's: only o2, which is in p2's compartment.
  EXPECT_EQ(bound_naming("p2", "patient", "p1"), (std::vector<std::string>{"o2"}));
}

TEST_P(BoundSearchConformance, ReusedQueryShapesAnswerFromTheirOwnValues) {
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store_
                    ->create(obs("x" + std::to_string(i), i % 2 == 0 ? "p1" : "p2",
                                 "cat" + std::to_string(i), 20 + i))
                    .ok());
  }
  // One shape (category=one code), each code in turn, twice: each run finds its own resource.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 12; ++i) {
      SCOPED_TRACE("round " + std::to_string(round) + ", code " + std::to_string(i));
      SearchPlan p = token_plan("Observation", "category", std::nullopt, "cat" + std::to_string(i));
      EXPECT_EQ(ids_of(*store_->search(p)), (std::vector<std::string>{"x" + std::to_string(i)}));
    }
  }
  // More shapes than a store keeps prepared (category=a,b,...: one text per number of codes),
  // each bound to other codes on every pass; the first shapes come back after the last.
  auto any_of = [](int n, int offset) {
    SearchPlan p;
    p.resource_type = "Observation";
    Clause c;
    for (int k = 0; k < n; ++k) {
      Condition d;
      d.kind = IndexKind::kToken;
      d.param = "category";
      d.code = "cat" + std::to_string((k + offset) % 12);
      c.any_of.push_back(std::move(d));
    }
    p.all_of.push_back(std::move(c));
    return p;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (int n = 1; n <= 80; ++n) {
      SCOPED_TRACE("pass " + std::to_string(pass) + ", " + std::to_string(n) + " codes");
      int offset = pass * 5 + n;
      auto page = store_->search(any_of(n, offset));
      ASSERT_TRUE(page.ok()) << page.error().log_detail;
      size_t distinct = static_cast<size_t>(std::min(n, 12));
      EXPECT_EQ(page->entries.size(), distinct);
      if (n == 1) {
        EXPECT_EQ(ids_of(*page), (std::vector<std::string>{"x" + std::to_string(offset % 12)}));
      }
    }
  }
}

TEST_P(BoundSearchConformance, SecretIsStableAcrossCalls) {
  auto a = store_->secret("bound-search-test", 32);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 32u);
  auto b = store_->secret("bound-search-test", 32);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto other = store_->secret("bound-search-test-2", 32);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*a, *other);
}

}  // namespace ipa::storage::testing
