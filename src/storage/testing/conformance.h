// The ResourceStore conformance suite: every behaviour of the seam written once, instantiated
// per back end with INSTANTIATE_TYPED_TEST_SUITE_P-free value parameterization: a back end's test
// calls `IPA_STORE_CONFORMANCE(Name, factory)` where factory returns a fresh store.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "storage/resource_store.h"

namespace ipa::storage::testing {

// A clock the tests move by hand.
class ManualClock : public core::Clock {
 public:
  core::TimePoint now() const override { return t_.load(); }
  void advance(std::chrono::milliseconds d) { t_ = t_.load() + d; }

 private:
  std::atomic<core::TimePoint> t_{core::TimePoint(std::chrono::seconds(1'800'000'000))};
};

using StoreFactory = std::function<std::unique_ptr<ResourceStore>(std::shared_ptr<ManualClock>)>;

inline Write make_write(const std::string& type, const std::string& id, const std::string& body,
                        std::vector<TokenRow> tokens = {}) {
  Write w;
  w.resource_type = type;
  w.id = id;
  w.render = [type, id, body](const VersionStamp& v) -> core::Result<std::string> {
    return R"({"resourceType":")" + type + R"(","id":")" + id + R"(","meta":{"versionId":")" +
           std::to_string(v.version_id) + "\"}," + body + "}";
  };
  w.index.tokens = std::move(tokens);
  return w;
}

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<ManualClock>();
    store_ = GetParam()(clock_);
    ASSERT_NE(store_, nullptr);
  }
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<ResourceStore> store_;
};

TEST_P(StoreConformance, CreateThenReadServesTheRenderedText) {
  auto w = store_->create(make_write("Patient", "p1", R"("active":true)"));
  ASSERT_TRUE(w.ok()) << w.error().log_detail;
  EXPECT_TRUE(w->created);
  EXPECT_EQ(w->resource.version_id, 1);
  auto r = store_->read("Patient", "p1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->json,
            R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},"active":true})");
  EXPECT_EQ(r->last_updated, clock_->now());
}

TEST_P(StoreConformance, UnknownIsNotFound) {
  auto r = store_->read("Patient", "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 404);
}

TEST_P(StoreConformance, CreateOfAnExistingIdConflicts) {
  ASSERT_TRUE(store_->create(make_write("Patient", "p1", R"("active":true)")).ok());
  auto again = store_->create(make_write("Patient", "p1", R"("active":false)"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().http_status, 409);
  EXPECT_EQ(store_->read("Patient", "p1")->version_id, 1);
}

TEST_P(StoreConformance, UpdateMakesVersionsAndHistoryIsNewestFirst) {
  ASSERT_TRUE(store_->update(make_write("Observation", "o1", R"("status":"preliminary")")).ok());
  clock_->advance(std::chrono::seconds(5));
  auto second = store_->update(make_write("Observation", "o1", R"("status":"final")"));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->resource.version_id, 2);
  auto v1 = store_->vread("Observation", "o1", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_NE(v1->json.find("preliminary"), std::string::npos);
  EXPECT_EQ(store_->vread("Observation", "o1", 3).error().http_status, 404);
  auto h = store_->history(HistoryQuery{"Observation", "o1"});
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 2u);
  EXPECT_EQ(h->entries[0].version_id, 2);
  EXPECT_EQ(h->entries[1].version_id, 1);
  EXPECT_EQ(h->total, 2);
}

TEST_P(StoreConformance, IfMatchMismatchIsPreconditionFailedAndWritesNothing) {
  ASSERT_TRUE(store_->update(make_write("Patient", "p1", R"("active":true)")).ok());
  Write w = make_write("Patient", "p1", R"("active":false)");
  w.if_match = 7;
  auto r = store_->update(std::move(w));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 412);
  EXPECT_EQ(store_->read("Patient", "p1")->version_id, 1);
  Write ok = make_write("Patient", "p1", R"("active":false)");
  ok.if_match = 1;
  EXPECT_TRUE(store_->update(std::move(ok)).ok());
}

TEST_P(StoreConformance, ReadAfterDeleteIsGoneAndUpdateRevives) {
  ASSERT_TRUE(store_->update(make_write("Patient", "p1", R"("active":true)")).ok());
  auto d = store_->remove("Patient", "p1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->resource.version_id, 2);
  EXPECT_EQ(store_->read("Patient", "p1").error().http_status, 410);
  EXPECT_EQ(store_->vread("Patient", "p1", 2).error().http_status, 410);
  EXPECT_TRUE(store_->vread("Patient", "p1", 1).ok());
  auto again = store_->remove("Patient", "p1");  // idempotent
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(store_->history(HistoryQuery{"Patient", "p1"})->total, 2);
  auto revived = store_->update(make_write("Patient", "p1", R"("active":false)"));
  ASSERT_TRUE(revived.ok());
  EXPECT_TRUE(revived->created);
  EXPECT_EQ(revived->resource.version_id, 3);
}

TEST_P(StoreConformance, FailedTransactionChangesNothing) {
  core::Status st = store_->transaction([](Writer& w) -> core::Status {
    IPA_RETURN_IF_ERROR(w.create(make_write("Patient", "a", R"("active":true)"), nullptr));
    IPA_RETURN_IF_ERROR(w.create(make_write("Patient", "b", R"("active":true)"), nullptr));
    return core::bad_request(core::IssueType::kInvalid, "third entry is bad");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(store_->read("Patient", "a").error().http_status, 404);
  EXPECT_EQ(store_->history(HistoryQuery{})->total, 0);
}

TEST_P(StoreConformance, RenderErrorAbortsTheWrite) {
  Write w = make_write("Patient", "p1", "");
  w.render = [](const VersionStamp&) -> core::Result<std::string> {
    return core::internal("render failed");
  };
  EXPECT_FALSE(store_->create(std::move(w)).ok());
  EXPECT_EQ(store_->read("Patient", "p1").error().http_status, 404);
}

TEST_P(StoreConformance, HistoryPagesWithKeysetCursorAndSince) {
  for (int i = 0; i < 7; ++i) {
    clock_->advance(std::chrono::seconds(1));
    ASSERT_TRUE(store_->update(make_write("Patient", "p" + std::to_string(i), "\"x\":1")).ok());
  }
  HistoryQuery q;
  q.resource_type = "Patient";
  q.count = 3;
  std::vector<std::string> ids;
  while (true) {
    auto page = store_->history(q);
    ASSERT_TRUE(page.ok());
    if (!q.before_seq) {
      EXPECT_EQ(page->total, 7);
    }
    for (auto& e : page->entries) ids.push_back(e.id);
    if (!page->next_before_seq) break;
    q.before_seq = page->next_before_seq;
    // A write between pages must not shift the pages already planned.
    ASSERT_TRUE(store_->update(make_write("Patient", "late", "\"x\":2")).ok());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p6", "p5", "p4", "p3", "p2", "p1", "p0"}));
  HistoryQuery since;
  since.since = clock_->now() - std::chrono::milliseconds(1500);
  since.resource_type = "Patient";
  auto recent = store_->history(since);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(recent->total, 4);  // p5, p6 and the two versions of "late"
}

inline SearchPlan token_plan(const std::string& type, const std::string& param,
                             std::optional<std::string> system, const std::string& code) {
  Condition cond;
  cond.kind = IndexKind::kToken;
  cond.param = param;
  cond.system = std::move(system);
  cond.code = code;
  SearchPlan plan;
  plan.resource_type = type;
  plan.all_of.push_back(Clause{{cond}, false});
  return plan;
}

TEST_P(StoreConformance, ConditionalCreateFindsTheExistingMatch) {
  SearchPlan c = token_plan("Patient", "identifier", "urn:sys", "42");
  auto first = store_->create(
      make_write("Patient", "p1", "\"x\":1", {TokenRow{"identifier", "urn:sys", "42"}}), &c);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  auto second = store_->create(
      make_write("Patient", "p2", "\"x\":1", {TokenRow{"identifier", "urn:sys", "42"}}), &c);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->existed);
  EXPECT_EQ(second->resource.id, "p1");
  EXPECT_EQ(store_->read("Patient", "p2").error().http_status, 404);
}

TEST_P(StoreConformance, ConcurrentConditionalCreatesMakeOneResource) {
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      SearchPlan c = token_plan("Patient", "identifier", std::nullopt, "same");
      auto r = store_->create(make_write("Patient", "t" + std::to_string(i), "\"x\":1",
                                         {TokenRow{"identifier", "urn:s", "same"}}),
                              &c);
      if (r.ok() && r->created) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  auto ids = store_->search(token_plan("Patient", "identifier", std::nullopt, "same"));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->entries.size(), 1u);
}

TEST_P(StoreConformance, FindMatchesSeesTheTransactionsOwnWritesAndCapsAtTwo) {
  SearchPlan c = token_plan("Patient", "identifier", "urn:sys", "m");
  core::Status st = store_->transaction([&](Writer& w) -> core::Status {
    auto none = w.find_matches(c);
    if (!none.ok()) return std::move(none).error();
    EXPECT_TRUE(none->empty());
    for (size_t made = 1; made <= 3; ++made) {
      auto r = w.create(make_write("Patient", "m" + std::to_string(made), "\"x\":1",
                                   {TokenRow{"identifier", "urn:sys", "m"}}),
                        nullptr);
      if (!r.ok()) return std::move(r).error();
      auto found = w.find_matches(c);
      if (!found.ok()) return std::move(found).error();
      EXPECT_EQ(found->size(), std::min<size_t>(2, made));
    }
    return {};
  });
  ASSERT_TRUE(st.ok()) << st.error().log_detail;
  core::Status one = store_->transaction([&](Writer& w) -> core::Status {
    auto found = w.find_matches(token_plan("Patient", "identifier", "urn:sys", "absent"));
    if (!found.ok()) return std::move(found).error();
    EXPECT_TRUE(found->empty());
    return {};
  });
  EXPECT_TRUE(one.ok());
}

// A transaction that found no match and then creates under a new id (a transaction Bundle's
// conditional create) and a concurrent conditional create make exactly one resource.
TEST_P(StoreConformance, FindMatchesHoldsOffConcurrentConditionalCreates) {
  for (int round = 0; round < 4; ++round) {
    std::string code = "hold" + std::to_string(round);
    SearchPlan c = token_plan("Patient", "identifier", "urn:sys", code);
    std::thread other;
    core::Status st = store_->transaction([&](Writer& w) -> core::Status {
      auto found = w.find_matches(c);
      if (!found.ok()) return std::move(found).error();
      EXPECT_TRUE(found->empty());
      other = std::thread([&] {
        (void)store_->create(
            make_write("Patient", "b" + code, "\"x\":1", {TokenRow{"identifier", "urn:sys", code}}),
            &c);
      });
      auto r = w.create(
          make_write("Patient", "a" + code, "\"x\":1", {TokenRow{"identifier", "urn:sys", code}}),
          nullptr);
      if (!r.ok()) return std::move(r).error();
      return {};
    });
    other.join();
    ASSERT_TRUE(st.ok()) << st.error().log_detail;
    auto page = store_->search(c);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->entries.size(), 1u) << round;
    EXPECT_EQ(page->entries[0].id, "a" + code);
  }
}

// ---- search ----------------------------------------------------------------------------

inline Write obs(const std::string& id, const std::string& patient, const std::string& category,
                 int64_t day, const std::string& name = "") {
  Write w = make_write("Observation", id, "\"x\":1");
  w.index.tokens.push_back(TokenRow{
      "category", "http://terminology.hl7.org/CodeSystem/observation-category", category, ""});
  w.index.references.push_back(ReferenceRow{"patient", "Patient", patient, ""});
  w.index.references.push_back(ReferenceRow{"subject", "Patient", patient, ""});
  w.index.dates.push_back(DateRow{"date", day * 86400000, (day + 1) * 86400000});
  if (!name.empty()) w.index.strings.push_back(StringRow{"code-text", name, name});
  w.index.compartment_patients = {patient};
  w.index.owner_patient = patient;
  return w;
}

inline Condition ref(const std::string& param, const std::string& type, const std::string& id) {
  Condition c;
  c.kind = IndexKind::kReference;
  c.param = param;
  c.target_type = type;
  c.target_id = id;
  return c;
}

inline Condition date_cond(Prefix p, int64_t day) {
  Condition c;
  c.kind = IndexKind::kDate;
  c.param = "date";
  c.prefix = p;
  c.low = day * 86400000;
  c.high = (day + 1) * 86400000;
  return c;
}

inline std::vector<std::string> ids_of(const SearchPage& page) {
  std::vector<std::string> out;
  for (const auto& e : page.entries) out.push_back(e.id);
  return out;
}

class SearchConformance : public StoreConformance {
 protected:
  void SetUp() override {
    StoreConformance::SetUp();
    ASSERT_TRUE(store_->create(obs("o1", "p1", "laboratory", 10, "glucose")).ok());
    ASSERT_TRUE(store_->create(obs("o2", "p1", "vital-signs", 11, "heart rate")).ok());
    ASSERT_TRUE(store_->create(obs("o3", "p1", "laboratory", 12, "hemoglobin")).ok());
    ASSERT_TRUE(store_->create(obs("o4", "p2", "laboratory", 10, "glucose")).ok());
  }
  SearchPage run(SearchPlan plan) {
    auto r = store_->search(plan);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().log_detail);
    return r.ok() ? std::move(r).value() : SearchPage{};
  }
};

TEST_P(SearchConformance, PatientAndCategory) {
  SearchPlan p = token_plan("Observation", "category", std::nullopt, "laboratory");
  p.all_of.push_back(Clause{{ref("patient", "Patient", "p1")}, false});
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o1", "o3"}));
  // Codes compare case-insensitively; a wrong system matches nothing.
  SearchPlan upper = token_plan("Observation", "category", std::nullopt, "LABORATORY");
  EXPECT_EQ(run(upper).entries.size(), 3u);
  SearchPlan wrong = token_plan("Observation", "category", "urn:other", "laboratory");
  EXPECT_TRUE(run(wrong).entries.empty());
}

TEST_P(SearchConformance, OrWithinAClauseAndNegation) {
  SearchPlan p;
  p.resource_type = "Observation";
  p.all_of.push_back(
      Clause{{ref("patient", "Patient", "p1"), ref("patient", "Patient", "p2")}, false});
  EXPECT_EQ(run(p).entries.size(), 4u);
  SearchPlan n = token_plan("Observation", "category", std::nullopt, "laboratory");
  n.all_of[0].negate = true;
  EXPECT_EQ(ids_of(run(n)), (std::vector<std::string>{"o2"}));
}

TEST_P(SearchConformance, DatePrefixes) {
  auto with = [&](Prefix pre, int64_t day) {
    SearchPlan p;
    p.resource_type = "Observation";
    p.all_of.push_back(Clause{{ref("patient", "Patient", "p1")}, false});
    p.all_of.push_back(Clause{{date_cond(pre, day)}, false});
    return ids_of(run(p));
  };
  EXPECT_EQ(with(Prefix::kEq, 11), (std::vector<std::string>{"o2"}));
  EXPECT_EQ(with(Prefix::kGt, 10), (std::vector<std::string>{"o2", "o3"}));
  EXPECT_EQ(with(Prefix::kGe, 11), (std::vector<std::string>{"o2", "o3"}));
  EXPECT_EQ(with(Prefix::kLt, 11), (std::vector<std::string>{"o1"}));
  EXPECT_EQ(with(Prefix::kLe, 11), (std::vector<std::string>{"o1", "o2"}));
  EXPECT_EQ(with(Prefix::kNe, 11), (std::vector<std::string>{"o1", "o3"}));
  EXPECT_EQ(with(Prefix::kSa, 11), (std::vector<std::string>{"o3"}));
  EXPECT_EQ(with(Prefix::kEb, 11), (std::vector<std::string>{"o1"}));
}

TEST_P(SearchConformance, StringStartsWithExactAndContains) {
  Condition c;
  c.kind = IndexKind::kString;
  c.param = "code-text";
  c.text = "gluc";
  SearchPlan p;
  p.resource_type = "Observation";
  p.all_of.push_back(Clause{{c}, false});
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o1", "o4"}));
  p.all_of[0].any_of[0].string_mode = StringMode::kExact;
  EXPECT_TRUE(run(p).entries.empty());
  p.all_of[0].any_of[0].text = "rate";
  p.all_of[0].any_of[0].string_mode = StringMode::kContains;
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o2"}));
}

TEST_P(SearchConformance, SortDescendingByDateThenKeysetPagingAcrossWrites) {
  SearchPlan p;
  p.resource_type = "Observation";
  p.all_of.push_back(Clause{{ref("patient", "Patient", "p1")}, false});
  p.sort.push_back(SortKey{IndexKind::kDate, "date", true});
  p.count = 2;
  p.want_total = true;
  SearchPage first = run(p);
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{"o3", "o2"}));
  EXPECT_EQ(first.total, 3);
  ASSERT_TRUE(first.next.has_value());
  // A new, later observation must not shift the next page.
  ASSERT_TRUE(store_->create(obs("o5", "p1", "laboratory", 20)).ok());
  EXPECT_FALSE(first.previous.has_value());
  p.after = first.next;
  SearchPage second = run(p);
  EXPECT_EQ(ids_of(second), (std::vector<std::string>{"o1"}));
  EXPECT_FALSE(second.next.has_value());
  // Back to the first page by the previous link: the same rows in the same order, even though
  // o5 was added before them in this order (keyset: the page is what precedes o1).
  ASSERT_TRUE(second.previous.has_value());
  EXPECT_TRUE(second.previous->before);
  p.after = second.previous;
  SearchPage back = run(p);
  EXPECT_EQ(ids_of(back), (std::vector<std::string>{"o3", "o2"}));
  ASSERT_TRUE(back.previous.has_value());  // o5 now precedes them
  ASSERT_TRUE(back.next.has_value());
  p.after = back.previous;
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o5"}));
  p.after = back.next;
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o1"}));
}

TEST_P(SearchConformance, MissingAndCompartmentAndDeleted) {
  Condition m;
  m.kind = IndexKind::kString;
  m.param = "code-text";
  m.missing = true;
  ASSERT_TRUE(store_->create(obs("o6", "p1", "survey", 5)).ok());
  SearchPlan p;
  p.resource_type = "Observation";
  p.all_of.push_back(Clause{{m}, false});
  EXPECT_EQ(ids_of(run(p)), (std::vector<std::string>{"o6"}));
  SearchPlan c;
  c.resource_type = "Observation";
  c.compartment_patient = "p2";
  EXPECT_EQ(ids_of(run(c)), (std::vector<std::string>{"o4"}));
  ASSERT_TRUE(store_->remove("Observation", "o4").ok());
  EXPECT_TRUE(run(c).entries.empty());
  auto comps = store_->compartments_of("Observation", "o1");
  ASSERT_TRUE(comps.ok());
  EXPECT_EQ(*comps, (std::vector<std::string>{"p1"}));
}

TEST_P(SearchConformance, SupportingResourcesReachableWithinTwoHops) {
  // o1 (p1) -> PractitionerRole/r1 -> Practitioner/d1; Practitioner/d2 is referenced only by p2.
  Write o = obs("o7", "p1", "laboratory", 3);
  o.index.references.push_back(ReferenceRow{"performer", "PractitionerRole", "r1", ""});
  ASSERT_TRUE(store_->create(std::move(o)).ok());
  Write role = make_write("PractitionerRole", "r1", "\"x\":1");
  role.index.references.push_back(ReferenceRow{"practitioner", "Practitioner", "d1", ""});
  ASSERT_TRUE(store_->create(std::move(role)).ok());
  Write other = obs("o8", "p2", "laboratory", 3);
  other.index.references.push_back(ReferenceRow{"performer", "Practitioner", "d2", ""});
  ASSERT_TRUE(store_->create(std::move(other)).ok());
  EXPECT_TRUE(*store_->referenced_from_compartment("p1", {"PractitionerRole", "r1"}));
  EXPECT_TRUE(*store_->referenced_from_compartment("p1", {"Practitioner", "d1"}));
  EXPECT_FALSE(*store_->referenced_from_compartment("p1", {"Practitioner", "d2"}));
  EXPECT_TRUE(*store_->referenced_from_compartment("p2", {"Practitioner", "d2"}));
  EXPECT_FALSE(*store_->referenced_from_compartment("p2", {"Practitioner", "d1"}));
}

TEST_P(SearchConformance, IncludesAndRevincludes) {
  auto targets = store_->references_of({{"Observation", "o1"}, {"Observation", "o4"}}, "patient");
  ASSERT_TRUE(targets.ok());
  EXPECT_EQ(targets->size(), 2u);
  Write prov = make_write("Provenance", "pv1", "\"x\":1");
  prov.index.references.push_back(ReferenceRow{"target", "Observation", "o1", ""});
  ASSERT_TRUE(store_->create(std::move(prov)).ok());
  auto rev = store_->referencing("Provenance", "target", {{"Observation", "o1"}}, 100);
  ASSERT_TRUE(rev.ok());
  ASSERT_EQ(rev->size(), 1u);
  EXPECT_EQ((*rev)[0].id, "pv1");
  auto many = store_->read_many({{"Observation", "o1"}, {"Observation", "nope"}});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->size(), 1u);
}

inline CompositeRow bp_component(const std::string& code, double value) {
  CompositeRow r;
  r.param = "component-code-value-quantity";
  r.system = "http://loinc.org";
  r.code = code;
  r.value_kind = IndexKind::kQuantity;
  r.v_system = "http://unitsofmeasure.org";
  r.v_code = "mm[Hg]";
  r.v_low = value - 0.5;
  r.v_high = value + 0.5;
  return r;
}

inline Condition bp_cond(const std::string& code, Prefix prefix, double value) {
  auto v = std::make_shared<Condition>();
  v->kind = IndexKind::kQuantity;
  v->prefix = prefix;
  v->dlow = value - 0.5;
  v->dhigh = value + 0.5;
  Condition c;
  c.kind = IndexKind::kComposite;
  c.param = "component-code-value-quantity";
  c.system = "http://loinc.org";
  c.code = code;
  c.value = std::move(v);
  return c;
}

// FHIR R4 search.html#composite: both components must match on one row (one element), never
// the code on one component and the value on another.
TEST_P(SearchConformance, CompositeComponentsMatchOnTheSameRow) {
  Write high = obs("bp1", "p1", "vital-signs", 13);
  high.index.composites = {bp_component("8480-6", 150), bp_component("8462-4", 80)};
  ASSERT_TRUE(store_->create(std::move(high)).ok());
  // The systolic is normal; the diastolic holds the high number.
  Write crossed = obs("bp2", "p1", "vital-signs", 14);
  crossed.index.composites = {bp_component("8480-6", 120), bp_component("8462-4", 150)};
  ASSERT_TRUE(store_->create(std::move(crossed)).ok());
  Write other = obs("bp3", "p2", "vital-signs", 14);
  other.index.composites = {bp_component("8480-6", 145)};
  CompositeRow smoking;
  smoking.param = "code-value-concept";
  smoking.system = "http://loinc.org";
  smoking.code = "72166-2";
  smoking.value_kind = IndexKind::kToken;
  smoking.v_system = "http://snomed.info/sct";
  smoking.v_code = "8517006";
  other.index.composites.push_back(smoking);
  ASSERT_TRUE(store_->create(std::move(other)).ok());

  auto find = [&](Condition c, bool with_patient) {
    SearchPlan p;
    p.resource_type = "Observation";
    // With a patient the reference drives the query and the composite is a probe; without,
    // the composite drives.
    if (with_patient) p.all_of.push_back(Clause{{ref("patient", "Patient", "p1")}, false});
    p.all_of.push_back(Clause{{std::move(c)}, false});
    return ids_of(run(p));
  };
  for (bool with_patient : {true, false}) {
    SCOPED_TRACE(with_patient);
    EXPECT_EQ(find(bp_cond("8480-6", Prefix::kGt, 140), with_patient),
              with_patient ? (std::vector<std::string>{"bp1"})
                           : (std::vector<std::string>{"bp1", "bp3"}));
    EXPECT_EQ(find(bp_cond("8462-4", Prefix::kGt, 140), with_patient),
              (std::vector<std::string>{"bp2"}));
    EXPECT_TRUE(find(bp_cond("8480-6", Prefix::kGt, 1000), with_patient).empty());
    EXPECT_EQ(find(bp_cond("8480-6", Prefix::kEq, 120), with_patient),
              (std::vector<std::string>{"bp2"}));
  }
  // A unit that differs matches nothing.
  Condition unit = bp_cond("8480-6", Prefix::kGt, 140);
  auto v = std::make_shared<Condition>(*unit.value);
  v->unit_code = "kPa";
  unit.value = v;
  EXPECT_TRUE(find(unit, false).empty());

  Condition smoking_cond;
  smoking_cond.kind = IndexKind::kComposite;
  smoking_cond.param = "code-value-concept";
  smoking_cond.code = "72166-2";
  auto cv = std::make_shared<Condition>();
  cv->kind = IndexKind::kToken;
  cv->system = "http://snomed.info/sct";
  cv->code = "8517006";
  smoking_cond.value = cv;
  EXPECT_EQ(find(smoking_cond, false), (std::vector<std::string>{"bp3"}));
  auto wrong = std::make_shared<Condition>(*cv);
  wrong->code = "266919005";
  smoking_cond.value = wrong;
  EXPECT_TRUE(find(smoking_cond, false).empty());

  Condition missing;
  missing.kind = IndexKind::kComposite;
  missing.param = "component-code-value-quantity";
  missing.missing = true;
  EXPECT_EQ(find(missing, true), (std::vector<std::string>{"o1", "o2", "o3"}));

  // A new version replaces the composite rows.
  Write lowered = obs("bp1", "p1", "vital-signs", 13);
  lowered.index.composites = {bp_component("8480-6", 118)};
  ASSERT_TRUE(store_->update(std::move(lowered)).ok());
  EXPECT_TRUE(find(bp_cond("8480-6", Prefix::kGt, 140), true).empty());
}

}  // namespace ipa::storage::testing

// Cases on supporting resources (shared table set on PostgreSQL).
#include "storage/testing/shared_conformance.h"  // NOLINT(build/include_order)
