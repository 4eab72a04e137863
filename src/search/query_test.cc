#include "search/query.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ipa::search {
namespace {

using storage::IndexKind;
using storage::Prefix;

ParsedSearch parse_ok(const std::string& type, const Params& params, bool strict = false) {
  QueryOptions o;
  o.base_url = "https://ehr.example/fhir";
  o.strict = strict;
  auto r = parse_search(type, params, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().diagnostics);
  return r.ok() ? std::move(r).value() : ParsedSearch{};
}

TEST(SearchParse, TokenForms) {
  struct Case {
    std::string value;
    std::optional<std::string> system;
    std::optional<std::string> code;
  };
  std::vector<Case> cases = {
      {"laboratory", std::nullopt, "laboratory"},
      {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
       "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"},
      {"|laboratory", "", "laboratory"},
      {"http://loinc.org|", "http://loinc.org", std::nullopt},
      {R"(a\|b)", std::nullopt, "a|b"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto p = parse_ok("Observation", {{"category", c.value}});
    ASSERT_EQ(p.plan.all_of.size(), 1u);
    const auto& cond = p.plan.all_of[0].any_of[0];
    EXPECT_EQ(cond.kind, IndexKind::kToken);
    EXPECT_EQ(cond.param, "category");
    EXPECT_EQ(cond.system, c.system);
    EXPECT_EQ(cond.code, c.code);
  }
}

TEST(SearchParse, CommasOrRepeatsAnd) {
  auto p =
      parse_ok("Observation",
               {{"status", "final,amended"}, {"category", "laboratory"}, {"category", R"(a\,b)"}});
  ASSERT_EQ(p.plan.all_of.size(), 3u);
  EXPECT_EQ(p.plan.all_of[0].any_of.size(), 2u);
  EXPECT_EQ(p.plan.all_of[2].any_of[0].code, "a,b");
}

TEST(SearchParse, ReferenceFormsAreEquivalent) {
  for (const char* v : {"123", "Patient/123", "https://ehr.example/fhir/Patient/123"}) {
    SCOPED_TRACE(v);
    auto p = parse_ok("Observation", {{"patient", v}});
    const auto& c = p.plan.all_of[0].any_of[0];
    EXPECT_EQ(c.kind, IndexKind::kReference);
    EXPECT_EQ(c.target_type, "Patient");
    EXPECT_EQ(c.target_id, "123");
    EXPECT_TRUE(c.url.empty());
  }
  auto other = parse_ok("Observation", {{"subject", "https://elsewhere.example/fhir/Patient/9"}});
  EXPECT_EQ(other.plan.all_of[0].any_of[0].url, "https://elsewhere.example/fhir/Patient/9");
  auto typed = parse_ok("Observation", {{"subject:Patient", "7"}});
  EXPECT_EQ(typed.plan.all_of[0].any_of[0].target_type, "Patient");
}

TEST(SearchParse, DatePrefixesAndPrecision) {
  auto p = parse_ok("Observation", {{"date", "ge2020-03"}, {"date", "lt2021"}});
  ASSERT_EQ(p.plan.all_of.size(), 2u);
  const auto& a = p.plan.all_of[0].any_of[0];
  EXPECT_EQ(a.prefix, Prefix::kGe);
  EXPECT_EQ(a.high - a.low, 31LL * 86400000);
  EXPECT_EQ(p.plan.all_of[1].any_of[0].prefix, Prefix::kLt);
  auto tz = parse_ok("Observation", {{"date", "2020-03-04T10:31:00+02:00"}});
  EXPECT_EQ(tz.plan.all_of[0].any_of[0].high - tz.plan.all_of[0].any_of[0].low, 1000);
}

TEST(SearchParse, StringsAreFolded) {
  auto p = parse_ok("Patient", {{"family", "MÜLLER"}, {"given:exact", "Jörg"}});
  EXPECT_EQ(p.plan.all_of[0].any_of[0].text, "muller");
  EXPECT_EQ(p.plan.all_of[1].any_of[0].text, "Jörg");
  EXPECT_EQ(p.plan.all_of[1].any_of[0].string_mode, storage::StringMode::kExact);
}

TEST(SearchParse, ChainOneLevel) {
  auto p = parse_ok("Observation", {{"subject:Patient.name", "peter"}});
  const auto& c = p.plan.all_of[0].any_of[0];
  ASSERT_NE(c.chain, nullptr);
  EXPECT_EQ(c.chain->resource_type, "Patient");
  EXPECT_EQ(c.chain->all_of[0].any_of[0].text, "peter");
}

TEST(SearchParse, ResultParameters) {
  auto p = parse_ok("MedicationRequest", {{"_count", "5000"},
                                          {"_sort", "-authoredon,_lastUpdated"},
                                          {"_include", "MedicationRequest:medication"},
                                          {"_revinclude", "Provenance:target"},
                                          {"_total", "accurate"}});
  EXPECT_EQ(p.plan.count, 1000);
  ASSERT_EQ(p.plan.sort.size(), 2u);
  EXPECT_TRUE(p.plan.sort[0].descending);
  EXPECT_EQ(p.plan.sort[1].kind, IndexKind::kLastUpdated);
  ASSERT_EQ(p.includes.size(), 1u);
  EXPECT_EQ(p.includes[0].param, "medication");
  ASSERT_EQ(p.revincludes.size(), 1u);
  EXPECT_EQ(p.total, TotalMode::kAccurate);
}

TEST(SearchParse, LenientIgnoresStrictRejects) {
  auto lenient = parse_ok("Patient", {{"nonsense", "1"}, {"gender", "male"}});
  EXPECT_EQ(lenient.ignored.size(), 1u);
  EXPECT_EQ(lenient.applied.size(), 1u);
  QueryOptions o;
  o.strict = true;
  auto strict = parse_search("Patient", {{"nonsense", "1"}}, o);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().http_status, 400);
}

struct BadCase {
  std::string type;
  std::string name;
  std::string value;
};

TEST(SearchParse, MalformedValuesAre400NamingTheParameter) {
  std::vector<BadCase> cases = {
      {"Observation", "date", "yesterday"},
      {"Observation", "date", "2020-13-01"},
      {"Observation", "date", "xx2020"},
      {"Observation", "value-quantity", "abc"},
      {"Observation", "value-quantity", "5|http://unitsofmeasure.org"},
      {"Observation", "category", "a|b|c"},
      {"Observation", "patient", "Nope/1"},
      {"Observation", "code:bogus", "x"},
      {"Observation", "status:missing", "maybe"},
      {"Patient", "_count", "-1"},
      {"Patient", "_count", "ten"},
      {"Patient", "_total", "all"},
      {"Patient", "_summary", "yes"},
      {"Patient", "_include", "Nope:thing"},
      {"Patient", "_include", "Patient"},
      {"Patient", "family", ""},
      {"RiskAssessment", "probability", "big"},
      {"Observation", "code-value-quantity", "http://loinc.org|8480-6"},
      {"Observation", "code-value-quantity", "8480-6$gt140$x"},
      {"Observation", "code-value-quantity", "8480-6$"},
      {"Observation", "code-value-quantity", "$140"},
      {"Observation", "code-value-quantity", "8480-6$big"},
      {"Observation", "code-value-quantity", "8480-6$140|http://unitsofmeasure.org"},
      {"Observation", "code-value-concept", "a|b|c$x"},
      {"Observation", "code-value-date", "x$notadate"},
      {"Observation", "component-code-value-quantity:exact", "8480-6$140"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + "=" + c.value);
    auto r = parse_search(c.type, {{c.name, c.value}}, QueryOptions{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_EQ(r.error().expression, c.name);
  }
}

// FHIR R4 search.html#composite: token$value, the prefix on the value.
TEST(SearchParse, Composites) {
  auto p =
      parse_ok("Observation",
               {{"component-code-value-quantity",
                 "http://loinc.org|8480-6$gt140|http://unitsofmeasure.org|mm[Hg],8462-4$le90"}});
  ASSERT_EQ(p.plan.all_of.size(), 1u);
  const auto& any = p.plan.all_of[0].any_of;
  ASSERT_EQ(any.size(), 2u);
  EXPECT_EQ(any[0].kind, IndexKind::kComposite);
  EXPECT_EQ(any[0].param, "component-code-value-quantity");
  EXPECT_EQ(any[0].system, "http://loinc.org");
  EXPECT_EQ(any[0].code, "8480-6");
  ASSERT_NE(any[0].value, nullptr);
  EXPECT_EQ(any[0].value->kind, IndexKind::kQuantity);
  EXPECT_EQ(any[0].value->prefix, Prefix::kGt);
  EXPECT_DOUBLE_EQ(any[0].value->dlow, 139.5);
  EXPECT_EQ(any[0].value->unit_system, "http://unitsofmeasure.org");
  EXPECT_EQ(any[0].value->unit_code, "mm[Hg]");
  EXPECT_EQ(any[1].system, std::nullopt);
  EXPECT_EQ(any[1].code, "8462-4");
  EXPECT_EQ(any[1].value->prefix, Prefix::kLe);
  EXPECT_EQ(any[1].value->unit_code, std::nullopt);

  auto concept_search = parse_ok(
      "Observation", {{"code-value-concept", "http://loinc.org|72166-2$http://snomed.info/sct|"}});
  const auto& c = concept_search.plan.all_of[0].any_of[0];
  EXPECT_EQ(c.value->kind, IndexKind::kToken);
  EXPECT_EQ(c.value->system, "http://snomed.info/sct");
  EXPECT_EQ(c.value->code, std::nullopt);

  auto date = parse_ok("Observation", {{"code-value-date", "21112-8$ge2020-01"}});
  EXPECT_EQ(date.plan.all_of[0].any_of[0].value->kind, IndexKind::kDate);
  EXPECT_EQ(date.plan.all_of[0].any_of[0].value->prefix, Prefix::kGe);

  // \$ is a dollar inside a component; the string is folded.
  auto text = parse_ok("Observation", {{"code-value-string", R"(a\$b$Élevé)"}});
  EXPECT_EQ(text.plan.all_of[0].any_of[0].code, "a$b");
  EXPECT_EQ(text.plan.all_of[0].any_of[0].value->kind, IndexKind::kString);
  EXPECT_EQ(text.plan.all_of[0].any_of[0].value->text, "eleve");

  auto missing = parse_ok("Observation", {{"code-value-quantity:missing", "true"}});
  EXPECT_EQ(missing.plan.all_of[0].any_of[0].kind, IndexKind::kComposite);
  EXPECT_EQ(missing.plan.all_of[0].any_of[0].missing, true);
}

// DocumentReference relationship: a reference then a token; the token is the row's key.
TEST(SearchParse, ReferenceComposite) {
  for (const std::string value : {"DocumentReference/123$replaces", "123$replaces",
                                  "https://ehr.example/fhir/DocumentReference/123$replaces"}) {
    SCOPED_TRACE(value);
    auto p = parse_ok("DocumentReference", {{"relationship", value}});
    ASSERT_EQ(p.plan.all_of.size(), 1u);
    const auto& c = p.plan.all_of[0].any_of[0];
    EXPECT_EQ(c.kind, IndexKind::kComposite);
    EXPECT_EQ(c.code, "replaces");
    ASSERT_NE(c.value, nullptr);
    EXPECT_EQ(c.value->kind, IndexKind::kReference);
    EXPECT_EQ(c.value->target_type, "DocumentReference");
    EXPECT_EQ(c.value->target_id, "123");
  }
  auto url = parse_ok("DocumentReference",
                      {{"relationship", "https://other.example/DocumentReference/9$appends"}});
  EXPECT_EQ(url.plan.all_of[0].any_of[0].value->url, "https://other.example/DocumentReference/9");
}

TEST(SearchParse, ThreeComponentComposite) {
  auto p = parse_ok("MolecularSequence", {{"chromosome-variant-coordinate", "1$ge100$lt200"}});
  const auto& c = p.plan.all_of[0].any_of[0];
  EXPECT_EQ(c.code, "1");
  ASSERT_NE(c.value, nullptr);
  ASSERT_NE(c.value2, nullptr);
  EXPECT_EQ(c.value->kind, IndexKind::kNumber);
  EXPECT_EQ(c.value->prefix, Prefix::kGe);
  EXPECT_EQ(c.value2->prefix, Prefix::kLt);
  EXPECT_DOUBLE_EQ(c.value2->dlow, 199.5);
}

TEST(SearchParse, Near) {
  auto p = parse_ok("Location", {{"near", "42.2565|-83.6948|10|km"}});
  const auto& c = p.plan.all_of[0].any_of[0];
  EXPECT_EQ(c.kind, IndexKind::kPosition);
  EXPECT_EQ(c.param, "near");
  EXPECT_NEAR(c.lat_min, 42.2565 - 10 / 111.195, 1e-3);
  EXPECT_NEAR(c.lat_max, 42.2565 + 10 / 111.195, 1e-3);
  EXPECT_GT(c.lon_min, -84);
  EXPECT_LT(c.lon_max, -83.3);
  EXPECT_NEAR(c.min_dot, std::cos(10 / 6371.0088), 1e-9);
  // The same distance in other units; km when no units are given.
  for (const std::string v :
       {"42.2565|-83.6948|10000|m", "42.2565|-83.6948|6.213712|[mi_i]", "42.2565|-83.6948|10"}) {
    SCOPED_TRACE(v);
    auto q = parse_ok("Location", {{"near", v}});
    EXPECT_NEAR(q.plan.all_of[0].any_of[0].min_dot, c.min_dot, 1e-9);
  }
  // Near a pole or the antimeridian the longitude is not bounded.
  auto pole = parse_ok("Location", {{"near", "89.99|0|50|km"}});
  EXPECT_EQ(pole.plan.all_of[0].any_of[0].lon_min, -180);
  auto wrap = parse_ok("Location", {{"near", "0|179.99|50|km"}});
  EXPECT_EQ(wrap.plan.all_of[0].any_of[0].lon_max, 180);
}

TEST(SearchParse, RejectsMalformedCompositesAndNear) {
  struct Case {
    std::string type, name, value;
  };
  const std::vector<Case> cases = {
      {"DocumentReference", "relationship", "DocumentReference/123"},
      {"DocumentReference", "relationship", "DocumentReference/123$replaces$x"},
      {"DocumentReference", "relationship", "$replaces"},
      {"DocumentReference", "relationship", "Nope/1$replaces"},
      {"MolecularSequence", "chromosome-variant-coordinate", "1$100"},
      {"MolecularSequence", "chromosome-variant-coordinate", "1$abc$200"},
      {"Location", "near", "abc"},
      {"Location", "near", "abc|1"},
      {"Location", "near", "91|0|1|km"},
      {"Location", "near", "0|181"},
      {"Location", "near", "0|0|-1|km"},
      {"Location", "near", "0|0|1|furlong"},
      {"Location", "near", "0|0||km"},
      {"Location", "near", "0|0|1|km|x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + "=" + c.value);
    auto r = parse_search(c.type, {{c.name, c.value}}, QueryOptions{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_EQ(r.error().expression, c.name);
  }
}

TEST(SearchParse, Escapes) {
  EXPECT_EQ(split_unescaped(R"(a,b\,c)", ','), (std::vector<std::string>{"a", R"(b\,c)"}));
  EXPECT_EQ(unescape(R"(b\,c\|d\$e\\f)"), R"(b,c|d$e\f)");
}

}  // namespace
}  // namespace ipa::search
