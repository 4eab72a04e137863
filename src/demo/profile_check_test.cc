// Checks the demo data against the published IPA 1.0.0 profiles and FHIR core vitalsigns,
// read from ../shared/ipa when it exists (the project commits no copy of them).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "demo/demo.h"
#include "demo/testing/profile_checker.h"

namespace ipa::demo {
namespace {

using testing::ProfileSet;

constexpr std::string_view kIpa = "http://hl7.org/fhir/uv/ipa/StructureDefinition/";
constexpr std::string_view kVitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns";

std::string ipa(std::string_view name) { return std::string(kIpa) + std::string(name); }

const std::optional<ProfileSet>& profiles() {
  static const std::optional<ProfileSet> set = []() -> std::optional<ProfileSet> {
    const std::filesystem::path dir = std::filesystem::path(IPA_SHARED_DIR) / "ipa";
    if (!std::filesystem::exists(dir)) return std::nullopt;
    core::Result<ProfileSet> loaded = ProfileSet::load(dir);
    EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().diagnostics);
    if (!loaded.ok()) return std::nullopt;
    return std::move(loaded).value();
  }();
  return set;
}

const std::vector<json::Value>& data() {
  static const std::vector<json::Value> resources = [] {
    std::vector<json::Value> out;
    EXPECT_TRUE(generate(Options{}, [&](const json::Value& v) -> core::Status {
                  out.push_back(v);
                  return {};
                }).ok());
    return out;
  }();
  return resources;
}

// The profiles `r` claims, plus those it must meet without claiming them: vital signs meet
// vitalsigns (IPA R42), every Condition meets ipa-condition, other Observations ipa-observation.
std::set<std::string> profiles_for(const json::Value& r) {
  std::set<std::string> urls;
  if (const json::Value* meta = r.find("meta")) {
    if (const json::Value* p = meta->find("profile")) {
      for (const json::Value& url : p->items()) urls.insert(url.text());
    }
  }
  const std::string_view type = r.get_string("resourceType");
  if (testing::is_vital_sign(r)) {
    urls.insert(std::string(kVitalSigns));
  } else if (type == "Observation") {
    urls.insert(ipa("ipa-observation"));
  }
  if (type == "Condition") urls.insert(ipa("ipa-condition"));
  return urls;
}

#define SKIP_WITHOUT_PROFILES()                                                         \
  if (!profiles().has_value()) {                                                        \
    GTEST_SKIP() << "no IPA package at " IPA_SHARED_DIR "/ipa; profile checks need it"; \
  }

TEST(DemoProfiles, EveryResourceMeetsItsProfilesAndInvariants) {
  SKIP_WITHOUT_PROFILES();
  const ProfileSet& set = *profiles();
  const std::set<std::string> ipa_types = {
      "AllergyIntolerance",  "Condition",       "DocumentReference",
      "Immunization",        "Medication",      "MedicationRequest",
      "MedicationStatement", "Observation",     "Patient",
      "Practitioner",        "PractitionerRole"};
  int checked = 0;
  int reported = 0;
  for (const json::Value& r : data()) {
    const std::string key =
        std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id"));
    const std::set<std::string> urls = profiles_for(r);
    if (ipa_types.contains(std::string(r.get_string("resourceType")))) {
      EXPECT_FALSE(urls.empty()) << key << " claims no profile";
    }
    std::vector<std::string> problems = testing::check_invariants(r);
    for (const std::string& url : urls) {
      if (!set.has(url)) {
        problems.push_back("claims unknown profile " + url);
        continue;
      }
      for (std::string& p : set.check(r, url)) problems.push_back(url + ": " + std::move(p));
      ++checked;
    }
    for (const std::string& p : problems) {
      if (++reported <= 40) ADD_FAILURE() << key << ": " << p;
    }
  }
  EXPECT_EQ(reported, 0);
  EXPECT_GT(checked, 3000);
  // Bindings of elements the demo leaves empty may be unknown; those it fills must be known.
  for (const std::string& vs : set.unknown_value_sets()) ADD_FAILURE() << "unchecked " << vs;
}

TEST(DemoProfiles, EveryMustSupportElementIsPopulated) {
  SKIP_WITHOUT_PROFILES();
  const ProfileSet& set = *profiles();
  std::map<std::string, std::set<std::string>> populated;
  for (const json::Value& r : data()) {
    for (const std::string& url : profiles_for(r)) {
      for (std::string& id : set.populated_must_support(r, url)) populated[url].insert(id);
    }
  }
  for (const char* name : {"ipa-patient", "ipa-allergyintolerance", "ipa-condition",
                           "ipa-problem-list-item", "ipa-documentreference", "ipa-immunization",
                           "ipa-medicationrequest", "ipa-medicationstatement", "ipa-observation",
                           "ipa-medication", "ipa-practitioner", "ipa-practitionerrole"}) {
    const std::string url = ipa(name);
    SCOPED_TRACE(url);
    ASSERT_TRUE(set.has(url));
    for (const std::string& id : set.must_support(url)) {
      EXPECT_TRUE(populated[url].contains(id)) << id << " is never populated";
    }
  }
  for (const std::string& id : set.must_support(kVitalSigns)) {
    EXPECT_TRUE(populated[std::string(kVitalSigns)].contains(id)) << id << " is never populated";
  }
  // The choice rows of IPA conformance (R38): the demo populates every listed type somewhere.
}

// The checker must see what it is meant to see: each broken copy of a good resource fails.
TEST(DemoProfiles, CheckerRejectsBrokenResources) {
  SKIP_WITHOUT_PROFILES();
  const ProfileSet& set = *profiles();
  const auto find = [](std::string_view key) -> json::Value {
    for (const json::Value& r : data()) {
      if (std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id")) ==
          key) {
        return r;
      }
    }
    ADD_FAILURE() << key << " not generated";
    return {};
  };
  const auto fails = [&](const json::Value& r, const std::string& url) {
    return !set.check(r, url).empty() || !testing::check_invariants(r).empty();
  };
  json::Value patient = find("Patient/pat-0005");
  ASSERT_FALSE(fails(patient, ipa("ipa-patient")));
  {
    json::Value r = patient;
    r.erase("active");
    EXPECT_TRUE(fails(r, ipa("ipa-patient"))) << "ipa-pat-4";
  }
  {
    json::Value r = patient;
    r.set("gender", json::Value::string("woman"));
    EXPECT_TRUE(fails(r, ipa("ipa-patient"))) << "required binding";
  }
  {
    json::Value r = patient;
    r.erase("identifier");
    EXPECT_TRUE(fails(r, ipa("ipa-patient"))) << "identifier 1..*";
  }
  {
    json::Value r = patient;
    r.set("birthDate", json::Value::string("12/03/1984"));
    EXPECT_TRUE(fails(r, ipa("ipa-patient"))) << "date format";
  }
  {
    json::Value r = patient;
    r.set("active", json::Value::array({json::Value::boolean(true)}));
    EXPECT_TRUE(fails(r, ipa("ipa-patient"))) << "array for a 0..1 element";
  }
  json::Value vital = find("Observation/obs-0001-008");
  ASSERT_TRUE(testing::is_vital_sign(vital));
  ASSERT_FALSE(fails(vital, std::string(kVitalSigns)));
  {
    json::Value r = vital;
    r.find("category")
        ->items()[0]
        .find("coding")
        ->items()[0]
        .set("system", json::Value::string("x"));
    EXPECT_TRUE(fails(r, std::string(kVitalSigns))) << "VSCat slice";
  }
  {
    json::Value r = vital;
    r.erase("effectiveDateTime");
    EXPECT_TRUE(fails(r, std::string(kVitalSigns))) << "effective[x] 1..1";
  }
  {
    json::Value r = vital;
    r.set("subject", json::Value::object({{"reference", json::Value::string("Group/g1")}}));
    EXPECT_TRUE(fails(r, std::string(kVitalSigns))) << "reference target";
  }
  json::Value problem = find("Condition/cond-0001-01");
  ASSERT_FALSE(fails(problem, ipa("ipa-problem-list-item")));
  {
    json::Value r = problem;
    r.find("category")
        ->items()[0]
        .find("coding")
        ->items()[0]
        .set("code", json::Value::string("encounter-diagnosis"));
    EXPECT_TRUE(fails(r, ipa("ipa-problem-list-item"))) << "problem-list-item pattern slice";
  }
  json::Value doc = find("DocumentReference/doc-0001-01");
  ASSERT_FALSE(fails(doc, ipa("ipa-documentreference")));
  {
    json::Value r = doc;
    r.find("content")->items()[0].find("attachment")->erase("url");
    r.find("content")->items()[0].find("attachment")->erase("data");
    EXPECT_TRUE(fails(r, ipa("ipa-documentreference"))) << "ipa-doc-1";
  }
  json::Value dar = find("Observation/obs-0001-006");
  ASSERT_FALSE(fails(dar, ipa("ipa-observation")));
  {
    json::Value r = dar;
    r.erase("dataAbsentReason");
    EXPECT_TRUE(fails(r, ipa("ipa-observation"))) << "ipa-obs-1";
  }
}

// Resources outside the IPA profiles still carry what base R4 requires of them.
TEST(DemoProfiles, SupportingResourcesHaveTheirRequiredElements) {
  for (const json::Value& r : data()) {
    const std::string_view type = r.get_string("resourceType");
    const std::string key = std::string(type) + "/" + std::string(r.get_string("id"));
    if (type == "Encounter") {
      EXPECT_NE(r.find("status"), nullptr) << key;
      EXPECT_NE(r.find("class"), nullptr) << key;
    } else if (type == "Provenance") {
      EXPECT_FALSE(r.find("target")->items().empty()) << key;
      EXPECT_NE(r.find("recorded"), nullptr) << key;
      for (const json::Value& a : r.find("agent")->items()) EXPECT_NE(a.find("who"), nullptr);
    } else if (type == "RelatedPerson") {
      EXPECT_NE(r.find("patient"), nullptr) << key;
    } else if (type == "Binary") {
      EXPECT_NE(r.find("contentType"), nullptr) << key;
      EXPECT_NE(r.find("data"), nullptr) << key;
    }
  }
}

}  // namespace
}  // namespace ipa::demo
