#include "search/extract.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fhir/model.h"
#include "json/json.h"
#include "search/values.h"

namespace ipa::search {
namespace {

constexpr char kBase[] = "https://ipa.example.org/fhir";

json::Value parse(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().diagnostics);
  return v.ok() ? std::move(*v) : json::Value();
}

storage::IndexRows extract_ok(std::string_view text) {
  auto rows = extract(parse(text), ExtractOptions{kBase});
  EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().diagnostics);
  return rows.ok() ? std::move(*rows) : storage::IndexRows();
}

template <typename Row>
std::vector<Row> of(const std::vector<Row>& rows, std::string_view param) {
  std::vector<Row> out;
  std::copy_if(rows.begin(), rows.end(), std::back_inserter(out),
               [&](const Row& r) { return r.param == param; });
  return out;
}

std::vector<std::string> tokens(const storage::IndexRows& rows, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& r : of(rows.tokens, param)) out.push_back(r.system + "|" + r.code);
  return out;
}

std::vector<std::string> strings(const storage::IndexRows& rows, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& r : of(rows.strings, param)) out.push_back(r.normalized);
  return out;
}

std::vector<std::string> references(const storage::IndexRows& rows, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& r : of(rows.references, param)) {
    out.push_back(r.url.empty() ? r.target_type + "/" + r.target_id : r.url);
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(Extract, Patient) {
  const auto rows = extract_ok(R"({
    "resourceType": "Patient", "id": "p1",
    "meta": {"profile": ["http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-patient"],
             "tag": [{"system": "http://example.org/tags", "code": "vip"}],
             "source": "http://example.org/source"},
    "identifier": [{"use": "usual",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                         "code": "MR"}], "text": "Medical record"},
                    "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
    "active": true,
    "name": [{"use": "official", "family": "Müller", "given": ["Anna", "Łucja"], "prefix": ["Dr."]}],
    "telecom": [{"system": "phone", "value": "(03) 5555 6473"},
                {"system": "email", "value": "anna@example.org"}],
    "gender": "female", "birthDate": "1974-12-25",
    "address": [{"line": ["534 Erewhon St"], "city": "PleasantVille", "state": "Vic",
                 "postalCode": "3999", "country": "Österreich"}],
    "generalPractitioner": [{"reference": "https://ipa.example.org/fhir/Practitioner/dr1"}],
    "managingOrganization": {"reference": "Organization/1"},
    "link": [{"other": {"reference": "Patient/p0"}, "type": "seealso"}]})");
  EXPECT_EQ(tokens(rows, "_id"), Strings{"|p1"});
  EXPECT_EQ(tokens(rows, "_tag"), Strings{"http://example.org/tags|vip"});
  ASSERT_EQ(of(rows.uris, "_profile").size(), 1u);
  EXPECT_EQ(of(rows.uris, "_source")[0].uri, "http://example.org/source");
  EXPECT_EQ(tokens(rows, "identifier"), Strings{"urn:oid:1.2.36.146.595.217.0.1|12345"});
  EXPECT_EQ(of(rows.tokens, "identifier")[0].text, "medical record");
  EXPECT_EQ(tokens(rows, "identifier:of-type"),
            Strings{"http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345"});
  EXPECT_EQ(tokens(rows, "active"), Strings{"|true"});
  EXPECT_EQ(tokens(rows, "gender"),
            (Strings{"|female", "http://hl7.org/fhir/administrative-gender|female"}));
  EXPECT_EQ(tokens(rows, "phone"), Strings{"phone|(03) 5555 6473"});
  EXPECT_EQ(tokens(rows, "email"), Strings{"email|anna@example.org"});
  EXPECT_EQ(tokens(rows, "telecom").size(), 2u);
  EXPECT_EQ(tokens(rows, "deceased"), Strings{"|false"});
  EXPECT_EQ(strings(rows, "family"), Strings{"muller"});
  EXPECT_EQ(of(rows.strings, "family")[0].exact, "Müller");
  EXPECT_EQ(strings(rows, "given"), (Strings{"anna", "lucja"}));
  EXPECT_EQ(strings(rows, "name"), (Strings{"muller", "anna", "lucja", "dr."}));
  EXPECT_EQ(strings(rows, "address"),
            (Strings{"534 erewhon st", "pleasantville", "vic", "3999", "osterreich"}));
  EXPECT_EQ(strings(rows, "address-city"), Strings{"pleasantville"});
  const auto birth = of(rows.dates, "birthdate");
  ASSERT_EQ(birth.size(), 1u);
  EXPECT_EQ(birth[0].low, date_range("1974-12-25")->low);
  EXPECT_EQ(birth[0].high, date_range("1974-12-26")->low);
  EXPECT_EQ(references(rows, "general-practitioner"), Strings{"Practitioner/dr1"});
  EXPECT_EQ(references(rows, "organization"), Strings{"Organization/1"});
  EXPECT_EQ(references(rows, "link"), Strings{"Patient/p0"});
  EXPECT_EQ(rows.owner_patient, "p1");
  EXPECT_EQ(rows.compartment_patients, (Strings{"p0", "p1"}));
}

TEST(Extract, VitalSignsObservationWithComponents) {
  const auto rows = extract_ok(R"({
    "resourceType": "Observation", "id": "bp", "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs", "display": "Vital Signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9",
                         "display": "Blood pressure panel"}], "text": "Blood pressure"},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
    "effectivePeriod": {"start": "2020-03-04T10:00:00Z"},
    "performer": [{"reference": "Practitioner/dr"}, {"reference": "Patient/p2"}],
    "component": [
      {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
       "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                         "code": "mm[Hg]"}},
      {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
       "valueQuantity": {"value": 80.5, "unit": "mmHg"}}]})");
  EXPECT_EQ(tokens(rows, "code"), (Strings{"http://loinc.org|85354-9", "|"}));
  const auto code = of(rows.tokens, "code");
  EXPECT_EQ(code[0].text, "blood pressure panel");
  EXPECT_EQ(code[1].text, "blood pressure");  // the CodeableConcept.text row, for :text
  EXPECT_EQ(tokens(rows, "component-code"),
            (Strings{"http://loinc.org|8480-6", "http://loinc.org|8462-4"}));
  EXPECT_EQ(tokens(rows, "combo-code").size(), 4u);
  EXPECT_EQ(tokens(rows, "status"),
            (Strings{"|final", "http://hl7.org/fhir/observation-status|final"}));
  EXPECT_EQ(tokens(rows, "category"),
            Strings{"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"});
  const auto quantities = of(rows.quantities, "component-value-quantity");
  ASSERT_EQ(quantities.size(), 2u);
  EXPECT_EQ(quantities[0].system, "http://unitsofmeasure.org");
  EXPECT_EQ(quantities[0].code, "mm[Hg]");
  EXPECT_DOUBLE_EQ(quantities[0].low, 119.5);
  EXPECT_DOUBLE_EQ(quantities[0].high, 120.5);
  EXPECT_EQ(quantities[1].code, "mmHg");  // unit when there is no code
  EXPECT_DOUBLE_EQ(quantities[1].low, 80.45);
  EXPECT_EQ(of(rows.quantities, "combo-value-quantity").size(), 2u);
  EXPECT_TRUE(of(rows.quantities, "value-quantity").empty());
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1u);
  EXPECT_EQ(date[0].low, date_range("2020-03-04T10:00:00Z")->low);
  EXPECT_EQ(date[0].high, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(references(rows, "subject"), Strings{"Patient/p1"});
  EXPECT_EQ(references(rows, "patient"), Strings{"Patient/p1"});
  EXPECT_EQ(references(rows, "encounter"), Strings{"Encounter/e1"});
  EXPECT_EQ(rows.owner_patient, "p1");
  EXPECT_EQ(rows.compartment_patients, (Strings{"p1", "p2"}));
}

std::vector<std::string> composites(const storage::IndexRows& rows, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& r : of(rows.composites, param)) {
    std::string v;
    switch (r.value_kind) {
      case storage::IndexKind::kQuantity:
        v = std::to_string(r.v_low) + ".." + std::to_string(r.v_high) + " " + r.v_system + "|" +
            r.v_code;
        break;
      case storage::IndexKind::kToken:
        v = r.v_system + "|" + r.v_code;
        break;
      case storage::IndexKind::kDate:
        v = std::to_string(r.v_ilow) + ".." + std::to_string(r.v_ihigh);
        break;
      default:
        v = r.v_text;
    }
    out.push_back(r.system + "|" + r.code + "$" + v);
  }
  return out;
}

// FHIR R4 search.html#composite: one row per element pairs its code with its own value.
TEST(Extract, CompositesPairComponentsOfTheSameElement) {
  const auto rows = extract_ok(R"({
    "resourceType": "Observation", "id": "bp", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "BP"},
    "subject": {"reference": "Patient/p1"},
    "component": [
      {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "Sys"},
       "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
      {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
       "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
      {"code": {"coding": [{"system": "http://loinc.org", "code": "9999-9"}]},
       "dataAbsentReason": {"text": "no value"}}]})");
  const Strings expected = {
      "http://loinc.org|8480-6$119.500000..120.500000 http://unitsofmeasure.org|mm[Hg]",
      "http://loinc.org|8462-4$79.500000..80.500000 http://unitsofmeasure.org|mm[Hg]"};
  EXPECT_EQ(composites(rows, "component-code-value-quantity"), expected);
  EXPECT_EQ(composites(rows, "combo-code-value-quantity"), expected);
  // The panel has no value of its own, so code-value-quantity has nothing to pair.
  EXPECT_TRUE(composites(rows, "code-value-quantity").empty());
  EXPECT_TRUE(composites(rows, "component-code-value-concept").empty());
  for (const auto& r : of(rows.composites, "component-code-value-quantity")) {
    EXPECT_EQ(r.value_kind, storage::IndexKind::kQuantity);
  }
}

TEST(Extract, CompositeValueKinds) {
  const auto concept_rows = extract_ok(R"({
    "resourceType": "Observation", "id": "smoke", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"},
                        {"system": "urn:local", "code": "SMK"}]},
    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                         "code": "8517006"}], "text": "Ex-smoker"}})");
  EXPECT_EQ(composites(concept_rows, "code-value-concept"),
            (Strings{"http://loinc.org|72166-2$http://snomed.info/sct|8517006",
                     "urn:local|SMK$http://snomed.info/sct|8517006"}));
  EXPECT_EQ(composites(concept_rows, "combo-code-value-concept").size(), 2u);

  const auto date_rows = extract_ok(R"({
    "resourceType": "Observation", "id": "d", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "21112-8"}]},
    "valueDateTime": "2020-03-04"})");
  const auto dates = of(date_rows.composites, "code-value-date");
  ASSERT_EQ(dates.size(), 1u);
  EXPECT_EQ(dates[0].value_kind, storage::IndexKind::kDate);
  EXPECT_EQ(dates[0].v_ilow, date_range("2020-03-04")->low);
  EXPECT_EQ(dates[0].v_ihigh, date_range("2020-03-04")->high);

  const auto string_rows = extract_ok(R"({
    "resourceType": "Observation", "id": "s", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
    "valueString": "Élevé"})");
  EXPECT_EQ(composites(string_rows, "code-value-string"), Strings{"http://loinc.org|8302-2$eleve"});

  const auto vs_rows = extract_ok(R"({
    "resourceType": "ValueSet", "id": "vs", "status": "active",
    "useContext": [{"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                             "code": "age"},
                    "valueRange": {"low": {"value": 18}, "high": {"value": 65}}}]})");
  const auto ages = of(vs_rows.composites, "context-type-quantity");
  ASSERT_EQ(ages.size(), 1u);
  EXPECT_EQ(ages[0].code, "age");
  EXPECT_DOUBLE_EQ(ages[0].v_low, 17.5);
  EXPECT_DOUBLE_EQ(ages[0].v_high, 65.5);
}

// R4 publishes relationship with its components' expressions swapped; each component takes its
// path from its own SearchParameter, and both come from the same relatesTo element.
TEST(Extract, RelationshipPairsTargetAndCodeOfTheSameRelatesTo) {
  const auto rows = extract_ok(R"({"resourceType": "DocumentReference", "id": "d",
    "status": "current", "content": [{"attachment": {"url": "http://x/a"}}],
    "relatesTo": [
      {"code": "replaces", "target": {"reference": "DocumentReference/old"}},
      {"code": "appends", "target": {"reference": "https://ipa.example.org/fhir/DocumentReference/base"}},
      {"code": "signs", "target": {"reference": "https://elsewhere.example/DocumentReference/9"}}]})");
  Strings got;
  for (const auto& r : of(rows.composites, "relationship")) {
    EXPECT_EQ(r.value_kind, storage::IndexKind::kReference);
    got.push_back(r.system + "|" + r.code + "$" + r.v_system + "/" + r.v_code + r.v_text);
  }
  std::sort(got.begin(), got.end());
  // The code also with its implicit system, as the plain `relation` parameter indexes it.
  const std::string sys = "http://hl7.org/fhir/document-relationship-type";
  EXPECT_EQ(got, (Strings{sys + "|appends$DocumentReference/base",
                          sys + "|replaces$DocumentReference/old",
                          sys + "|signs$/https://elsewhere.example/DocumentReference/9",
                          "|appends$DocumentReference/base", "|replaces$DocumentReference/old",
                          "|signs$/https://elsewhere.example/DocumentReference/9"}));
}

TEST(Extract, ThreeComponentCompositesAndPositions) {
  const auto rows = extract_ok(R"({"resourceType": "MolecularSequence", "id": "m",
    "coordinateSystem": 0,
    "referenceSeq": {"chromosome": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/chromosome-human", "code": "1"}]},
                     "referenceSeqId": {"coding": [{"system": "http://www.ncbi.nlm.nih.gov/nuccore", "code": "NC_000001.11"}]},
                     "windowStart": 100, "windowEnd": 200},
    "variant": [{"start": 120, "end": 121}, {"start": 150, "end": 160}]})");
  Strings got;
  for (const auto& r : of(rows.composites, "chromosome-variant-coordinate")) {
    EXPECT_EQ(r.value_kind, storage::IndexKind::kNumber);
    got.push_back(r.code + "$" + std::to_string(static_cast<int>(r.v_low + 0.5)) + "$" +
                  std::to_string(static_cast<int>(r.v2_low + 0.5)));
  }
  EXPECT_EQ(got, (Strings{"1$120$121", "1$150$160"}));
  const auto window = of(rows.composites, "referenceseqid-window-coordinate");
  ASSERT_EQ(window.size(), 1u);
  EXPECT_EQ(window[0].code, "NC_000001.11");
  EXPECT_LT(window[0].v_low, 100);
  EXPECT_GT(window[0].v_high, 100);
  EXPECT_LT(window[0].v2_low, 200);
  EXPECT_GT(window[0].v2_high, 200);

  const auto loc = extract_ok(R"({"resourceType": "Location", "id": "l",
    "position": {"latitude": 90, "longitude": 12.5}})");
  ASSERT_EQ(loc.positions.size(), 1u);
  EXPECT_EQ(loc.positions[0].param, "near");
  EXPECT_DOUBLE_EQ(loc.positions[0].latitude, 90);
  EXPECT_NEAR(loc.positions[0].z, 1, 1e-12);
  EXPECT_NEAR(loc.positions[0].x, 0, 1e-12);
  // Out of range: not indexed, and the write is not refused.
  EXPECT_TRUE(extract_ok(R"({"resourceType": "Location", "id": "l",
    "position": {"latitude": 91, "longitude": 0}})")
                  .positions.empty());
}

TEST(Extract, ConditionOnsetAndCompartment) {
  const auto rows = extract_ok(R"({
    "resourceType": "Condition", "id": "c1",
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                   "code": "active"}]},
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                              "code": "problem-list-item"}]}],
    "code": {"text": "Burnt ear"},
    "subject": {"reference": "Patient/p1"},
    "onsetDateTime": "2012-05-24",
    "abatementAge": {"value": 56, "unit": "yr", "system": "http://unitsofmeasure.org", "code": "a"},
    "recordedDate": "2013-04-04T10:00:00+01:00",
    "asserter": {"reference": "Practitioner/dr"}})");
  EXPECT_EQ(tokens(rows, "code"), Strings{"|"});
  EXPECT_EQ(of(rows.tokens, "code")[0].text, "burnt ear");
  EXPECT_EQ(tokens(rows, "clinical-status").size(), 1u);
  EXPECT_EQ(of(rows.dates, "onset-date").size(), 1u);
  EXPECT_EQ(of(rows.dates, "onset-date")[0].low, date_range("2012-05-24")->low);
  EXPECT_EQ(of(rows.quantities, "abatement-age").size(), 1u);
  EXPECT_EQ(of(rows.dates, "recorded-date")[0].low, date_range("2013-04-04T09:00:00Z")->low);
  EXPECT_EQ(references(rows, "patient"), Strings{"Patient/p1"});
  EXPECT_EQ(rows.owner_patient, "p1");
  EXPECT_EQ(rows.compartment_patients, Strings{"p1"});
}

TEST(Extract, DocumentReference) {
  const auto rows = extract_ok(R"({
    "resourceType": "DocumentReference", "id": "d1", "status": "current",
    "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.3.6.1.4.1.21367"},
    "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.3.6.1.4.1.21367.2"}],
    "type": {"coding": [{"system": "http://loinc.org", "code": "34108-1"}]},
    "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                              "code": "clinical-note"}]}],
    "subject": {"reference": "https://ipa.example.org/fhir/Patient/p1/_history/2"},
    "date": "2020-12-31T23:50:50-05:00",
    "author": [{"reference": "Practitioner/dr"}, {"reference": "Patient/p1"}],
    "content": [{"attachment": {"contentType": "text/plain", "url": "Binary/b1"},
                 "format": {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "urn:ihe:pcc:handp:2008"}}],
    "context": {"period": {"start": "2020-12-01", "end": "2020-12-31"},
                "encounter": [{"reference": "Encounter/e1"}]}})");
  EXPECT_EQ(tokens(rows, "identifier").size(), 2u);
  EXPECT_EQ(tokens(rows, "type"), Strings{"http://loinc.org|34108-1"});
  EXPECT_EQ(references(rows, "subject"), Strings{"Patient/p1"});
  EXPECT_EQ(references(rows, "patient"), Strings{"Patient/p1"});
  EXPECT_EQ(of(rows.dates, "date")[0].low, date_range("2021-01-01T04:50:50Z")->low);
  const auto period = of(rows.dates, "period");
  ASSERT_EQ(period.size(), 1u);
  EXPECT_EQ(period[0].low, date_range("2020-12-01")->low);
  EXPECT_EQ(period[0].high, date_range("2021-01-01")->low);
  EXPECT_EQ(of(rows.uris, "location")[0].uri, "Binary/b1");
  EXPECT_EQ(tokens(rows, "contenttype"), Strings{"|text/plain"});
  EXPECT_EQ(tokens(rows, "format"),
            Strings{"urn:oid:1.3.6.1.4.1.19376.1.2.3|urn:ihe:pcc:handp:2008"});
  EXPECT_EQ(references(rows, "encounter"), Strings{"Encounter/e1"});
  EXPECT_EQ(rows.owner_patient, "p1");
  EXPECT_EQ(rows.compartment_patients, Strings{"p1"});
}

TEST(Extract, MedicationRequestByReferenceAndByCode) {
  const auto by_reference = extract_ok(R"({
    "resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
    "medicationReference": {"reference": "Medication/med1"},
    "subject": {"reference": "Patient/p1"}, "authoredOn": "2021-01-05",
    "requester": {"reference": "Practitioner/dr"}})");
  EXPECT_EQ(references(by_reference, "medication"), Strings{"Medication/med1"});
  EXPECT_TRUE(tokens(by_reference, "code").empty());
  EXPECT_EQ(of(by_reference.dates, "authoredon").size(), 1u);
  EXPECT_EQ(by_reference.owner_patient, "p1");

  const auto by_code = extract_ok(R"({
    "resourceType": "MedicationRequest", "id": "m2", "status": "active", "intent": "order",
    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                              "code": "1049221", "display": "Acetaminophen"}]},
    "subject": {"reference": "Patient/p1"}})");
  EXPECT_EQ(tokens(by_code, "code"),
            Strings{"http://www.nlm.nih.gov/research/umls/rxnorm|1049221"});
  EXPECT_EQ(of(by_code.tokens, "code")[0].text, "acetaminophen");
  EXPECT_TRUE(references(by_code, "medication").empty());
  EXPECT_EQ(tokens(by_code, "intent"),
            (Strings{"|order", "http://hl7.org/fhir/CodeSystem/medicationrequest-intent|order"}));
}

TEST(Extract, Immunization) {
  const auto rows = extract_ok(R"({
    "resourceType": "Immunization", "id": "i1", "status": "completed",
    "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
    "patient": {"reference": "Patient/p1"},
    "occurrenceDateTime": "2021-10-01T09:00:00Z",
    "lotNumber": "AAJN11K",
    "performer": [{"actor": {"reference": "Practitioner/dr"}}],
    "protocolApplied": [{"targetDisease": [{"coding": [{"system": "http://snomed.info/sct", "code": "6142004"}]}],
                         "doseNumberPositiveInt": 1}]})");
  EXPECT_EQ(tokens(rows, "vaccine-code"), Strings{"http://hl7.org/fhir/sid/cvx|140"});
  EXPECT_EQ(of(rows.dates, "date").size(), 1u);
  EXPECT_EQ(strings(rows, "lot-number"), Strings{"aajn11k"});
  EXPECT_EQ(references(rows, "performer"), Strings{"Practitioner/dr"});
  EXPECT_EQ(tokens(rows, "target-disease"), Strings{"http://snomed.info/sct|6142004"});
  EXPECT_EQ(rows.owner_patient, "p1");
}

TEST(Extract, ProvenanceTargets) {
  const auto rows = extract_ok(R"({
    "resourceType": "Provenance", "id": "pr1",
    "target": [{"reference": "Observation/o1"}, {"reference": "Patient/p1"},
               {"reference": "http://elsewhere.org/fhir/Condition/c9"},
               {"reference": "urn:uuid:2f6d6a3e-8e2f-4b3e-9d1a-6a5d3c1b2a10"},
               {"reference": "#contained"}],
    "occurredDateTime": "2021-01-01",
    "recorded": "2021-01-02T10:00:00Z",
    "agent": [{"who": {"reference": "Practitioner/dr"}}],
    "entity": [{"role": "source", "what": {"reference": "DocumentReference/d1"}}]})");
  EXPECT_EQ(references(rows, "target"),
            (Strings{"Observation/o1", "Patient/p1", "http://elsewhere.org/fhir/Condition/c9",
                     "urn:uuid:2f6d6a3e-8e2f-4b3e-9d1a-6a5d3c1b2a10"}));
  EXPECT_EQ(references(rows, "patient"), Strings{"Patient/p1"});
  EXPECT_EQ(references(rows, "agent"), Strings{"Practitioner/dr"});
  EXPECT_EQ(references(rows, "entity"), Strings{"DocumentReference/d1"});
  EXPECT_EQ(of(rows.dates, "recorded").size(), 1u);
  EXPECT_EQ(of(rows.dates, "when").size(), 1u);
  EXPECT_EQ(rows.owner_patient, "p1");
}

TEST(Extract, Encounter) {
  const auto rows = extract_ok(R"({
    "resourceType": "Encounter", "id": "e1", "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]}],
    "subject": {"reference": "Patient/p1"},
    "participant": [{"individual": {"reference": "Practitioner/dr"}}],
    "period": {"start": "2021-01-01T09:00:00Z", "end": "2021-01-01T09:30:00Z"},
    "length": {"value": 30, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"},
    "location": [{"location": {"reference": "Location/l1"}}],
    "serviceProvider": {"reference": "Organization/o1"}})");
  EXPECT_EQ(tokens(rows, "class"), Strings{"http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB"});
  EXPECT_EQ(references(rows, "practitioner"), Strings{"Practitioner/dr"});
  EXPECT_EQ(references(rows, "participant"), Strings{"Practitioner/dr"});
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1u);
  EXPECT_EQ(date[0].high, date_range("2021-01-01T09:30:00Z")->high);
  EXPECT_EQ(of(rows.quantities, "length").size(), 1u);
  EXPECT_EQ(references(rows, "location"), Strings{"Location/l1"});
  EXPECT_EQ(rows.owner_patient, "p1");
}

TEST(Extract, OwnerPrefersPatientThenSubject) {
  // Coverage: beneficiary is not `patient`; the first compartment param with a Patient wins.
  const auto invoice = extract_ok(R"({
    "resourceType": "Invoice", "id": "inv", "status": "issued",
    "subject": {"reference": "Patient/s"}, "recipient": {"reference": "Patient/r"}})");
  EXPECT_EQ(invoice.owner_patient, "s");
  EXPECT_EQ(invoice.compartment_patients, (Strings{"r", "s"}));

  const auto allergy = extract_ok(R"({
    "resourceType": "AllergyIntolerance", "id": "a",
    "recorder": {"reference": "Patient/other"}, "patient": {"reference": "Patient/main"}})");
  EXPECT_EQ(allergy.owner_patient, "main");
  EXPECT_EQ(allergy.compartment_patients, (Strings{"main", "other"}));

  const auto global = extract_ok(R"({"resourceType": "Practitioner", "id": "dr",
                                     "name": [{"family": "Smith"}]})");
  EXPECT_TRUE(global.owner_patient.empty());
  EXPECT_TRUE(global.compartment_patients.empty());

  // A reference to a Patient on another server gives a url row, not membership.
  const auto remote = extract_ok(R"({
    "resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
    "subject": {"reference": "https://other.org/fhir/Patient/p1"}})");
  EXPECT_TRUE(remote.owner_patient.empty());
  EXPECT_EQ(references(remote, "subject"), Strings{"https://other.org/fhir/Patient/p1"});
}

// FHIR R4 binary.html#security: a Binary is owned by the Patient its securityContext names,
// relative or absolute on this server; any other context leaves it unowned.
TEST(Extract, BinaryOwnedByItsSecurityContextPatient) {
  struct Case {
    std::string context;  // the securityContext element, or "" for none
    std::string owner;
  };
  const std::vector<Case> cases = {
      {R"({"reference": "Patient/p1"})", "p1"},
      {R"({"reference": ")" + std::string(kBase) + R"(/Patient/p2"})", "p2"},
      {R"({"reference": "DocumentReference/d1"})", ""},
      {R"({"reference": "https://other.org/fhir/Patient/p1"})", ""},
      {R"({"reference": "Patient/p1/_history/2"})", ""},
      {R"({"reference": "Patient/"})", ""},
      {R"({"reference": "#p1"})", ""},
      {R"({"display": "no reference"})", ""},
      {"", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.context);
    std::string text = R"({"resourceType": "Binary", "id": "b", "contentType": "text/plain")";
    if (!c.context.empty()) text += R"(, "securityContext": )" + c.context;
    text += "}";
    const auto rows = extract_ok(text);
    EXPECT_EQ(rows.owner_patient, c.owner);
    EXPECT_EQ(rows.compartment_patients, c.owner.empty() ? Strings{} : Strings{c.owner});
  }
}

TEST(Extract, Errors) {
  EXPECT_FALSE(extract(parse(R"({"id": "x"})"), {}).ok());
  EXPECT_FALSE(extract(parse(R"({"resourceType": "NoSuchType"})"), {}).ok());
  EXPECT_FALSE(extract(parse("[]"), {}).ok());
  auto bad_date = extract(parse(R"({"resourceType": "Patient", "birthDate": "1974-02-30"})"), {});
  ASSERT_FALSE(bad_date.ok());
  EXPECT_EQ(bad_date.error().http_status, 400);
  EXPECT_EQ(bad_date.error().expression, "Patient.birthDate");
}

TEST(Extract, Support) {
  for (const char* code : {"_id", "identifier", "name", "birthdate", "phone", "deceased"}) {
    EXPECT_TRUE(is_supported("Patient", code)) << code;
  }
  EXPECT_FALSE(is_supported("Patient", "_lastUpdated"));
  EXPECT_FALSE(is_supported("Patient", "_content"));
  EXPECT_FALSE(is_supported("Patient", "nope"));
  for (const char* code :
       {"code-value-quantity", "code-value-concept", "code-value-date", "code-value-string",
        "combo-code-value-quantity", "combo-code-value-concept", "component-code-value-quantity",
        "component-code-value-concept"}) {
    EXPECT_TRUE(is_supported("Observation", code)) << code;
  }
  EXPECT_TRUE(is_supported("ValueSet", "context-type-value"));
  EXPECT_TRUE(is_supported("ValueSet", "context-type-quantity"));
  EXPECT_TRUE(is_supported("Group", "characteristic-value"));
  // A reference first (relationship), three components (the MolecularSequence coordinates),
  // and the one special parameter.
  EXPECT_TRUE(is_supported("DocumentReference", "relationship"));
  EXPECT_EQ(composite_key("DocumentReference", "relationship"), 1u);
  EXPECT_EQ(composite_key("Observation", "code-value-quantity"), 0u);
  for (const char* code :
       {"chromosome-variant-coordinate", "chromosome-window-coordinate",
        "referenceseqid-variant-coordinate", "referenceseqid-window-coordinate"}) {
    EXPECT_TRUE(is_supported("MolecularSequence", code)) << code;
    EXPECT_EQ(composite_components("MolecularSequence", code).size(), 3u) << code;
  }
  EXPECT_TRUE(is_supported("Location", "near"));
  EXPECT_FALSE(is_supported("NoSuchType", "_id"));
  // Every parameter with an expression of the required types is supported.
  for (std::string_view type :
       {"AllergyIntolerance", "Condition", "DocumentReference", "Immunization", "Medication",
        "MedicationRequest", "MedicationStatement", "Observation", "Patient", "Practitioner",
        "PractitionerRole", "Encounter", "Provenance", "Organization", "RelatedPerson", "Binary"}) {
    for (const fhir::SearchParamInfo& p : fhir::search_params(type)) {
      if (p.expression.empty() || p.code == "_lastUpdated") {
        continue;
      }
      EXPECT_TRUE(is_supported(type, p.code))
          << type << " " << p.code << ": " << param_support(type, p.code).note;
    }
  }
}

TEST(Extract, IpaExamples) {
  const std::filesystem::path dir = std::filesystem::path(IPA_SHARED_DIR) / "ipa" / "examples";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto resource = json::parse(text.str());
    ASSERT_TRUE(resource.ok());
    auto rows = extract(*resource, ExtractOptions{kBase});
    ASSERT_TRUE(rows.ok()) << rows.error().diagnostics;
    EXPECT_FALSE(rows->tokens.empty());
    const std::string_view type = resource->get_string("resourceType");
    if (!fhir::patient_compartment_params(type).empty()) {
      EXPECT_FALSE(rows->owner_patient.empty());
    }
    ++count;
  }
  EXPECT_GT(count, 0);
}

}  // namespace
}  // namespace ipa::search

namespace ipa::search {
namespace {

TEST(Extract, RecordsEveryLocalReferenceForAccessControl) {
  auto doc = json::parse(
      R"({"resourceType":"DocumentReference","id":"d1","status":"current",
          "subject":{"reference":"Patient/p1"},"custodian":{"reference":"https://ehr.example/fhir/Organization/o1"},
          "author":[{"reference":"#contained-author"},{"reference":"https://elsewhere.example/fhir/Practitioner/x"}],
          "content":[{"attachment":{"contentType":"text/plain","url":"Binary/b1"}}]})");
  ASSERT_TRUE(doc.ok());
  auto rows = extract(*doc, ExtractOptions{"https://ehr.example/fhir"});
  ASSERT_TRUE(rows.ok());
  std::set<std::string> refs;
  for (const auto& r : rows->references) {
    if (r.param == kAllReferences) refs.insert(r.target_type + "/" + r.target_id);
  }
  // custodian has no search parameter, yet the record reaches the Organization; contained and
  // foreign references and attachment URLs are not references to local resources.
  EXPECT_EQ(refs, (std::set<std::string>{"Patient/p1", "Organization/o1"}));
}

}  // namespace
}  // namespace ipa::search
