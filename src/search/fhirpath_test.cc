#include "search/fhirpath.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "json/json.h"

namespace ipa::search {
namespace {

json::Value parse(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().diagnostics);
  return v.ok() ? std::move(*v) : json::Value();
}

std::vector<FhirPathItem> eval(std::string_view expression, const json::Value& resource) {
  auto path = FhirPath::compile(expression);
  EXPECT_TRUE(path.ok()) << (path.ok() ? "" : path.error().diagnostics);
  if (!path.ok()) return {};
  return (*path)->evaluate(resource);
}

std::vector<std::string> type_names(const std::vector<FhirPathItem>& items) {
  std::vector<std::string> out;
  for (const FhirPathItem& i : items) out.emplace_back(i.type_name());
  return out;
}

const char kVitals[] = R"({
  "resourceType": "Observation", "id": "bp", "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
  "subject": {"reference": "Patient/p1"},
  "effectivePeriod": {"start": "2020-03-04T10:00:00Z", "end": "2020-03-04T10:05:00Z"},
  "performer": [{"reference": "Practitioner/dr"}, {"reference": "https://other.org/fhir/Patient/p9"}],
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
     "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
     "valueQuantity": {"value": 80.0, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
  ]
})";

TEST(FhirPath, ChoiceElementsCarryTheirType) {
  const json::Value obs = parse(kVitals);
  const auto effective = eval("Observation.effective", obs);
  ASSERT_EQ(effective.size(), 1u);
  EXPECT_EQ(effective[0].type_name(), "Period");
  EXPECT_EQ(effective[0].node->get_string("start"), "2020-03-04T10:00:00Z");

  EXPECT_EQ(type_names(eval("Observation.component.value", obs)),
            (std::vector<std::string>{"Quantity", "Quantity"}));
  EXPECT_TRUE(eval("Observation.value.ofType(Quantity)", obs).empty());
  const auto values = eval(
      "(Observation.value.ofType(Quantity)) | (Observation.component.value.ofType(Quantity))", obs);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[1].node->find("value")->text(), "80.0");
}

TEST(FhirPath, PathsUnionAndBackbones) {
  const json::Value obs = parse(kVitals);
  EXPECT_EQ(type_names(eval("Observation.code | Observation.component.code", obs)),
            (std::vector<std::string>{"CodeableConcept", "CodeableConcept", "CodeableConcept"}));
  EXPECT_EQ(type_names(eval("Observation.component", obs)),
            (std::vector<std::string>{"Observation.component", "Observation.component"}));
  EXPECT_EQ(type_names(eval("Observation.status", obs)), (std::vector<std::string>{"code"}));
  EXPECT_EQ(type_names(eval("Resource.id", obs)), (std::vector<std::string>{"id"}));
  EXPECT_EQ(eval("Observation.component[1].code.coding.code", obs)[0].node->text(), "8462-4");
  EXPECT_EQ(eval("Observation.component.code.coding.code.first()", obs)[0].node->text(), "8480-6");
  EXPECT_TRUE(eval("Patient.name", obs).empty());  // type filter on the root
}

TEST(FhirPath, WhereResolveIs) {
  const json::Value obs = parse(kVitals);
  const auto patients = eval("Observation.performer.where(resolve() is Patient)", obs);
  ASSERT_EQ(patients.size(), 1u);
  EXPECT_EQ(patients[0].type_name(), "Reference");
  EXPECT_EQ(patients[0].node->get_string("reference"), "https://other.org/fhir/Patient/p9");
  EXPECT_EQ(eval("Observation.subject.where(resolve() is Patient)", obs).size(), 1u);
  EXPECT_TRUE(eval("Observation.subject.where(resolve() is Group)", obs).empty());
  const auto resolved = eval("Observation.subject.resolve()", obs);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].type_name(), "Patient");
}

TEST(FhirPath, ConditionSubjectAndOnsetChoice) {
  const json::Value condition = parse(R"({
    "resourceType": "Condition", "id": "c1",
    "contained": [{"resourceType": "Patient", "id": "inline"}],
    "subject": {"reference": "Patient/123"},
    "asserter": {"reference": "#inline"},
    "onsetDateTime": "2019-05-01",
    "abatementString": "in remission"})");
  EXPECT_EQ(eval("Condition.subject.where(resolve() is Patient)", condition).size(), 1u);
  EXPECT_EQ(eval("Condition.asserter.where(resolve() is Patient)", condition).size(), 1u);
  EXPECT_TRUE(eval("Condition.asserter.where(resolve() is Practitioner)", condition).empty());
  const auto onset = eval("Condition.onset.as(dateTime)", condition);
  ASSERT_EQ(onset.size(), 1u);
  EXPECT_EQ(onset[0].type_name(), "dateTime");
  EXPECT_EQ(onset[0].node->text(), "2019-05-01");
  EXPECT_EQ(eval("(Condition.onset as dateTime)", condition).size(), 1u);
  EXPECT_EQ(eval("Condition.onset.ofType(System.DateTime)", condition).size(), 1u);
  EXPECT_TRUE(eval("Condition.onset.as(Period)", condition).empty());
  EXPECT_EQ(type_names(eval("Condition.onset.ofType(dateTime) | Condition.onset.ofType(Period)",
                            condition)),
            (std::vector<std::string>{"dateTime"}));
  EXPECT_EQ(type_names(eval("Condition.abatement.ofType(string)", condition)),
            (std::vector<std::string>{"string"}));
  const auto is = eval("Condition.onset is dateTime", condition);
  ASSERT_EQ(is.size(), 1u);
  EXPECT_TRUE(is[0].node->as_bool());
}

TEST(FhirPath, MedicationRequestMedicationAs) {
  const json::Value by_code = parse(R"({
    "resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                              "code": "1049221"}]},
    "subject": {"reference": "Patient/p1"}})");
  const json::Value by_reference = parse(R"({
    "resourceType": "MedicationRequest", "id": "m2", "status": "active", "intent": "order",
    "medicationReference": {"reference": "Medication/med1"},
    "subject": {"reference": "Patient/p1"}})");
  EXPECT_EQ(type_names(eval("(MedicationRequest.medication as CodeableConcept)", by_code)),
            (std::vector<std::string>{"CodeableConcept"}));
  EXPECT_TRUE(eval("(MedicationRequest.medication as CodeableConcept)", by_reference).empty());
  EXPECT_EQ(type_names(eval("(MedicationRequest.medication as Reference)", by_reference)),
            (std::vector<std::string>{"Reference"}));
}

TEST(FhirPath, PatientNamesTelecomAndExtensions) {
  const json::Value patient = parse(R"({
    "resourceType": "Patient", "id": "p1",
    "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                   "valueCode": "F"}],
    "name": [{"family": "Müller", "given": ["Anna", "Maria"]}, {"text": "Anna M."}],
    "telecom": [{"system": "phone", "value": "555-1234"}, {"system": "email", "value": "a@b.org"}],
    "deceasedBoolean": false})");
  EXPECT_EQ(type_names(eval("Patient.name", patient)),
            (std::vector<std::string>{"HumanName", "HumanName"}));
  const auto given = eval("Patient.name.given", patient);
  ASSERT_EQ(given.size(), 2u);
  EXPECT_EQ(given[1].node->text(), "Maria");
  const auto phone = eval("Patient.telecom.where(system='phone')", patient);
  ASSERT_EQ(phone.size(), 1u);
  EXPECT_EQ(phone[0].node->get_string("value"), "555-1234");
  const auto sex = eval(
      "Patient.extension('http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex').value",
      patient);
  ASSERT_EQ(sex.size(), 1u);
  EXPECT_EQ(sex[0].type_name(), "code");
  EXPECT_EQ(sex[0].node->text(), "F");
  const auto deceased = eval("Patient.deceased.exists() and Patient.deceased != false", patient);
  ASSERT_EQ(deceased.size(), 1u);
  EXPECT_FALSE(deceased[0].node->as_bool());
  EXPECT_TRUE(eval("Patient.telecom.exists(system = 'email')", patient)[0].node->as_bool());
  EXPECT_TRUE(eval("Patient.name.where(family = 'Müller' and given = 'Anna').exists()", patient)[0]
                  .node->as_bool());
}

TEST(FhirPath, WhereOnCodingCodeMatchesAny) {
  const json::Value doc = parse(R"({
    "resourceType": "Patient", "id": "p",
    "identifier": [
      {"type": {"coding": [{"code": "XX"}, {"code": "MR"}]}, "value": "1"},
      {"type": {"coding": [{"code": "SS"}]}, "value": "2"}]})");
  const auto mr = eval("Patient.identifier.where(type.coding.code = 'MR')", doc);
  ASSERT_EQ(mr.size(), 1u);
  EXPECT_EQ(mr[0].node->get_string("value"), "1");
}

TEST(FhirPath, StaticTypes) {
  auto path = FhirPath::compile("Observation.value.ofType(Quantity) | Observation.effective");
  ASSERT_TRUE(path.ok());
  auto types = (*path)->result_types(*fhir::find_type("Observation"));
  ASSERT_TRUE(types.ok());
  std::vector<std::string> names;
  for (const fhir::TypeInfo* t : *types) names.emplace_back(t->name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"Quantity", "dateTime", "instant", "Period", "Timing"}));

  auto bad = FhirPath::compile("Observation.nonexistent");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE((*bad)->result_types(*fhir::find_type("Observation")).ok());
}

TEST(FhirPath, RejectsOutsideTheSubset) {
  for (const char* expression :
       {"Observation.code.memberOf('x')", "Observation.", "(Observation.code", "Observation.code[",
        "Observation.value.ofType(NoSuchType)", "'unterminated", "Observation.code # x",
        "NoSuchResource.name"}) {
    SCOPED_TRACE(expression);
    auto path = FhirPath::compile(expression);
    ASSERT_FALSE(path.ok());
    EXPECT_EQ(path.error().http_status, 400);
  }
}

TEST(FhirPath, CompileCachesOneInstance) {
  auto a = FhirPath::compile("Patient.name.family");
  auto b = FhirPath::compile("Patient.name.family");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

}  // namespace
}  // namespace ipa::search
