#include "demo/demo.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace ipa::demo {
namespace {

struct Generated {
  std::vector<json::Value> resources;
  std::string bytes;
  int64_t count = 0;
};

Generated generate_all(const Options& options) {
  Generated g;
  core::Result<int64_t> r = generate(options, [&](const json::Value& v) -> core::Status {
    g.resources.push_back(v);
    g.bytes += json::write(v);
    g.bytes += '\n';
    return {};
  });
  EXPECT_TRUE(r.ok());
  if (r.ok()) g.count = *r;
  return g;
}

const Generated& default_data() {
  static const Generated g = generate_all(Options{});
  return g;
}

std::string key_of(const json::Value& v) {
  return std::string(v.get_string("resourceType")) + "/" + std::string(v.get_string("id"));
}

// Calls `f(reference)` for every Reference.reference in `v`.
template <typename F>
void for_each_reference(const json::Value& v, F&& f) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.members()) {
      if (k == "reference" && child.is_string()) f(child.text());
      for_each_reference(child, f);
    }
  } else if (v.is_array()) {
    for (const json::Value& item : v.items()) for_each_reference(item, f);
  }
}

// The patient a resource belongs to, from its subject/patient/securityContext reference.
std::string owner_of(const json::Value& v) {
  const std::string_view type = v.get_string("resourceType");
  if (type == "Patient") return std::string(v.get_string("id"));
  for (const char* field : {"subject", "patient", "securityContext"}) {
    if (const json::Value* ref = v.find(field)) {
      const std::string_view r = ref->get_string("reference");
      if (r.starts_with("Patient/")) return std::string(r.substr(8));
    }
  }
  if (type == "Provenance") {
    for (const json::Value& t : v.find("target")->items()) {
      const std::string_view r = t.get_string("reference");
      if (r.starts_with("Patient/")) return std::string(r.substr(8));
    }
  }
  return {};
}

const json::Value* find_resource(const Generated& g, std::string_view key) {
  for (const json::Value& v : g.resources) {
    if (key_of(v) == key) return &v;
  }
  return nullptr;
}

TEST(DemoGenerate, SameOptionsGiveTheSameBytes) {
  const Generated again = generate_all(Options{});
  EXPECT_EQ(default_data().bytes, again.bytes);
  Options other;
  other.seed = 7;
  EXPECT_NE(default_data().bytes, generate_all(other).bytes);
}

TEST(DemoGenerate, RecordsDependOnlyOnPatientAndSeed) {
  Options small;
  small.patients = 10;
  const Generated g = generate_all(small);
  ASSERT_LT(g.bytes.size(), default_data().bytes.size());
  EXPECT_EQ(g.bytes, default_data().bytes.substr(0, g.bytes.size()));
}

TEST(DemoGenerate, CountsMatchAndStayInRange) {
  const Generated& g = default_data();
  EXPECT_EQ(g.count, static_cast<int64_t>(g.resources.size()));
  std::map<std::string, int> per_patient;
  int supporting = 0;
  for (const json::Value& v : g.resources) {
    const std::string owner = owner_of(v);
    if (owner.empty()) {
      ++supporting;
    } else {
      ++per_patient[owner];
    }
  }
  EXPECT_EQ(supporting, 3 + 8 + 8 + 11);  // Organization, Practitioner, Role, Medication
  ASSERT_EQ(per_patient.size(), 50u);
  int total = 0;
  for (const auto& [patient, n] : per_patient) {
    SCOPED_TRACE(patient);
    EXPECT_GE(n, 45);
    EXPECT_LE(n, 130);
    total += n;
  }
  EXPECT_GE(total / 50, 60);
  EXPECT_LE(total / 50, 100);

  Options none;
  none.patients = 0;
  EXPECT_EQ(generate_all(none).count, supporting);
}

TEST(DemoGenerate, NegativePatientCountIsRejected) {
  Options bad;
  bad.patients = -1;
  core::Result<int64_t> r = generate(bad, [](const json::Value&) -> core::Status { return {}; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
}

TEST(DemoGenerate, SinkErrorStopsGeneration) {
  int calls = 0;
  core::Result<int64_t> r = generate(Options{}, [&](const json::Value&) -> core::Status {
    if (++calls == 40) return core::unavailable("disk full");
    return {};
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_EQ(calls, 40);
}

TEST(DemoGenerate, EveryPatientHasEveryIpaType) {
  const Generated& g = default_data();
  std::map<std::string, std::set<std::string>> types;
  std::map<std::string, std::set<std::string>> conditions;
  std::map<std::string, std::set<std::string>> observations;
  std::set<std::string> global;
  for (const json::Value& v : g.resources) {
    const std::string owner = owner_of(v);
    const std::string type(v.get_string("resourceType"));
    if (owner.empty()) {
      global.insert(type);
      continue;
    }
    types[owner].insert(type);
    if (type == "Condition") {
      conditions[owner].insert(std::string(
          v.find("category")->items()[0].find("coding")->items()[0].get_string("code")));
    }
    if (type == "Observation") {
      observations[owner].insert(std::string(
          v.find("category")->items()[0].find("coding")->items()[0].get_string("code")));
    }
  }
  EXPECT_EQ(global, (std::set<std::string>{"Medication", "Organization", "Practitioner",
                                           "PractitionerRole"}));
  for (const auto& [patient, set] : types) {
    SCOPED_TRACE(patient);
    for (const char* t : {"Patient", "AllergyIntolerance", "Condition", "DocumentReference",
                          "Binary", "Immunization", "MedicationRequest", "MedicationStatement",
                          "Observation", "Encounter", "Provenance"}) {
      EXPECT_TRUE(set.contains(t)) << t;
    }
    EXPECT_TRUE(conditions[patient].contains("problem-list-item"));
    EXPECT_TRUE(conditions[patient].contains("encounter-diagnosis"));
    for (const char* c : {"vital-signs", "laboratory", "social-history", "survey"}) {
      EXPECT_TRUE(observations[patient].contains(c)) << c;
    }
  }
}

TEST(DemoGenerate, IdsAreValidAndUnique) {
  const std::regex id_pattern("[A-Za-z0-9\\-\\.]{1,64}");
  std::set<std::string> ids;
  for (const json::Value& v : default_data().resources) {
    const std::string id(v.get_string("id"));
    EXPECT_TRUE(std::regex_match(id, id_pattern)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    const json::Value* meta = v.find("meta");
    if (meta != nullptr) {
      EXPECT_EQ(meta->find("versionId"), nullptr) << id;
      EXPECT_EQ(meta->find("lastUpdated"), nullptr) << id;
    }
  }
}

TEST(DemoGenerate, EveryReferenceResolvesToAnEarlierResource) {
  const Generated& g = default_data();
  std::set<std::string> all;
  for (const json::Value& v : g.resources) all.insert(key_of(v));
  std::set<std::string> seen;
  int forward = 0;
  for (const json::Value& v : g.resources) {
    const std::string self = key_of(v);
    for_each_reference(v, [&](const std::string& ref) {
      EXPECT_EQ(ref.find("://"), std::string::npos) << self << " -> " << ref;
      if (seen.contains(ref)) return;
      // The documented exception: the old record of the link pair names its successor.
      if (self == "Patient/pat-0004" && ref == "Patient/pat-0005") {
        ++forward;
        EXPECT_TRUE(all.contains(ref));
        return;
      }
      ADD_FAILURE() << self << " -> " << ref << " is not an earlier resource";
    });
    if (v.get_string("resourceType") == "DocumentReference") {
      for (const json::Value& c : v.find("content")->items()) {
        const std::string url(c.find("attachment")->get_string("url"));
        EXPECT_TRUE(seen.contains(url)) << self << " attachment " << url;
      }
    }
    seen.insert(self);
  }
  EXPECT_EQ(forward, 1);
}

TEST(DemoGenerate, ProvenanceTargetsEveryResourceOfItsPatient) {
  const Generated& g = default_data();
  std::map<std::string, std::set<std::string>> owned;
  for (const json::Value& v : g.resources) {
    const std::string owner = owner_of(v);
    if (owner.empty()) continue;
    if (v.get_string("resourceType") == "Provenance") {
      std::set<std::string> targets;
      for (const json::Value& t : v.find("target")->items()) {
        targets.insert(std::string(t.get_string("reference")));
      }
      EXPECT_EQ(targets, owned[owner]) << owner;
      EXPECT_FALSE(v.get_string("recorded").empty());
      EXPECT_FALSE(v.find("agent")->items()[0].find("who")->get_string("reference").empty());
    } else {
      owned[owner].insert(key_of(v));
    }
  }
}

TEST(DemoGenerate, LinkPairIsPresent) {
  const Generated& g = default_data();
  const json::Value* old_record = find_resource(g, "Patient/pat-0004");
  const json::Value* current = find_resource(g, "Patient/pat-0005");
  ASSERT_NE(old_record, nullptr);
  ASSERT_NE(current, nullptr);
  EXPECT_FALSE(old_record->find("active")->as_bool());
  EXPECT_TRUE(current->find("active")->as_bool());
  const json::Value& old_link = old_record->find("link")->items()[0];
  EXPECT_EQ(old_link.get_string("type"), "replaced-by");
  EXPECT_EQ(old_link.find("other")->get_string("reference"), "Patient/pat-0005");
  const json::Value& new_link = current->find("link")->items()[0];
  EXPECT_EQ(new_link.get_string("type"), "replaces");
  EXPECT_EQ(new_link.find("other")->get_string("reference"), "Patient/pat-0004");
  // One person: same name and birth date, different record numbers.
  EXPECT_EQ(*old_record->find("name"), *current->find("name"));
  EXPECT_EQ(old_record->get_string("birthDate"), current->get_string("birthDate"));
  EXPECT_NE(*old_record->find("identifier"), *current->find("identifier"));
  // R44: among records sharing name and birth date, at most one is active.
  std::map<std::string, int> active;
  for (const json::Value& v : g.resources) {
    if (v.get_string("resourceType") != "Patient") continue;
    if (v.find("active")->as_bool()) {
      ++active[json::write(*v.find("name")) + std::string(v.get_string("birthDate"))];
    }
  }
  for (const auto& [person, n] : active) EXPECT_EQ(n, 1) << person;
}

TEST(DemoGenerate, FamilyIsPresent) {
  const Generated& g = default_data();
  const json::Value* parent = find_resource(g, "Patient/pat-0001");
  ASSERT_NE(parent, nullptr);
  EXPECT_EQ(parent->find("name")->items()[0].get_string("text"), "Anna Käthe Müller");
  for (const char* child : {"pat-0002", "pat-0003"}) {
    SCOPED_TRACE(child);
    int related = 0;
    for (const json::Value& v : g.resources) {
      if (v.get_string("resourceType") != "RelatedPerson") continue;
      if (v.find("patient")->get_string("reference") != "Patient/" + std::string(child)) continue;
      ++related;
      const json::Value& coding = v.find("relationship")->items()[0].find("coding")->items()[0];
      EXPECT_EQ(coding.get_string("system"), "http://terminology.hl7.org/CodeSystem/v3-RoleCode");
      EXPECT_EQ(coding.get_string("code"), "MTH");
      EXPECT_EQ(*v.find("name"), *parent->find("name"));
      EXPECT_EQ(v.get_string("birthDate"), parent->get_string("birthDate"));
    }
    EXPECT_EQ(related, 1);
    const json::Value* record = find_resource(g, "Patient/" + std::string(child));
    ASSERT_NE(record, nullptr);
    EXPECT_EQ(record->find("name")->items()[0].get_string("family"), "Müller");
    EXPECT_EQ(*record->find("address"), *parent->find("address"));
  }
}

TEST(DemoGenerate, DataAbsentExamplesArePresent) {
  const Generated& g = default_data();
  const json::Value* obs = find_resource(g, "Observation/obs-0001-006");
  ASSERT_NE(obs, nullptr);
  EXPECT_NE(obs->find("dataAbsentReason"), nullptr);
  for (const auto& [k, v] : obs->members()) EXPECT_FALSE(k.starts_with("value")) << k;
  const json::Value* patient = find_resource(g, "Patient/pat-0006");
  ASSERT_NE(patient, nullptr);
  const json::Value& maiden = patient->find("name")->items()[1];
  EXPECT_EQ(maiden.find("extension")->items()[0].get_string("url"),
            "http://hl7.org/fhir/StructureDefinition/data-absent-reason");
  EXPECT_EQ(maiden.find("family"), nullptr);
}

TEST(DemoGenerate, DataIsVaried) {
  const Generated& g = default_data();
  std::set<std::string> value_types;
  std::set<std::string> effective_types;
  std::set<std::string> codes;
  std::set<std::string> years;
  std::set<std::string> statuses;
  bool medication_reference = false;
  bool medication_concept = false;
  bool no_known_allergy = false;
  bool accents = false;
  for (const json::Value& v : g.resources) {
    const std::string_view type = v.get_string("resourceType");
    for (const auto& [k, child] : v.members()) {
      if (type == "Observation" && k.starts_with("value")) value_types.insert(k);
      if (type == "Observation" && k.starts_with("effective")) {
        effective_types.insert(k);
        if (child.is_string()) years.insert(child.text().substr(0, 4));
      }
      if (k == "medicationReference") medication_reference = true;
      if (k == "medicationCodeableConcept") medication_concept = true;
    }
    if (const json::Value* code = v.find("code"); code != nullptr && code->find("coding")) {
      for (const json::Value& c : code->find("coding")->items()) {
        codes.insert(std::string(c.get_string("code")));
      }
      if (type == "AllergyIntolerance" && codes.contains("716186003")) no_known_allergy = true;
    }
    if (const json::Value* t = v.find("type"); type == "DocumentReference") {
      codes.insert(std::string(t->find("coding")->items()[0].get_string("code")));
    }
    if (type == "Condition") {
      statuses.insert(
          std::string(v.find("clinicalStatus")->find("coding")->items()[0].get_string("code")));
      statuses.insert(
          std::string(v.find("verificationStatus")->find("coding")->items()[0].get_string("code")));
    }
    if (type == "Patient") {
      for (unsigned char c : v.find("name")->items()[0].get_string("text")) {
        if (c >= 0x80) accents = true;
      }
    }
  }
  for (const char* t : {"valueQuantity", "valueCodeableConcept", "valueString", "valueInteger",
                        "valueRange", "valuePeriod"}) {
    EXPECT_TRUE(value_types.contains(t)) << t;
  }
  EXPECT_TRUE(effective_types.contains("effectiveDateTime"));
  EXPECT_TRUE(effective_types.contains("effectivePeriod"));
  EXPECT_GE(years.size(), 5u);
  for (const char* c : {"85354-9", "8867-4", "29463-7", "8302-2", "8310-5", "9279-1", "2708-6",
                        "59408-5", "39156-5", "72166-2", "34133-9", "11506-3"}) {
    EXPECT_TRUE(codes.contains(c)) << c;
  }
  for (const char* s : {"active", "resolved", "inactive", "confirmed", "provisional", "refuted"}) {
    EXPECT_TRUE(statuses.contains(s)) << s;
  }
  EXPECT_TRUE(medication_reference);
  EXPECT_TRUE(medication_concept);
  EXPECT_TRUE(no_known_allergy);
  EXPECT_TRUE(accents);
}

}  // namespace
}  // namespace ipa::demo
