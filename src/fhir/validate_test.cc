#include "fhir/validate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "json/json.h"

namespace ipa::fhir {
namespace {

using core::IssueType;

json::Value parse_or_die(std::string_view text) {
  auto parsed = json::parse(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().diagnostics) << "\n" << text;
  if (!parsed.ok()) return json::Value();
  return std::move(parsed).value();
}

std::string describe(const std::vector<core::Error>& issues) {
  std::string out;
  for (const core::Error& e : issues) {
    out += std::to_string(e.http_status) + " " + std::string(core::issue_code(e.type)) + " " +
           e.expression + ": " + e.diagnostics + "\n";
  }
  return out;
}

struct BadCase {
  std::string_view json;
  std::string_view expected_type;
  int status;
  IssueType type;
  std::string_view expression;
};

TEST(Validate, RejectsBadInputs) {
  const std::vector<BadCase> cases = {
      // Resource level.
      {R"([])", "", 400, IssueType::kStructure, ""},
      {R"({"id":"a"})", "", 400, IssueType::kStructure, ""},
      {R"({"resourceType":5})", "", 400, IssueType::kStructure, ""},
      {R"({"resourceType":"Foo"})", "", 400, IssueType::kInvalid, ""},
      {R"({"resourceType":"Resource"})", "", 400, IssueType::kInvalid, ""},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", "Patient", 400,
       IssueType::kInvalid, ""},
      // Unknown elements.
      {R"({"resourceType":"Patient","foo":1})", "", 400, IssueType::kStructure, "Patient.foo"},
      {R"({"resourceType":"Patient","name":[{"foo":"x"}]})", "", 400, IssueType::kStructure,
       "Patient.name[0].foo"},
      {R"({"resourceType":"Patient","deceased":true})", "", 400, IssueType::kStructure,
       "Patient.deceased"},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueFoo":1})", "",
       400, IssueType::kStructure, "Observation.valueFoo"},
      {R"({"resourceType":"Patient","_name":{"id":"a"}})", "", 400, IssueType::kStructure,
       "Patient._name"},
      // Wrong JSON types.
      {R"({"resourceType":"Patient","name":["Smith"]})", "", 400, IssueType::kStructure,
       "Patient.name[0]"},
      {R"({"resourceType":"Patient","gender":["male"]})", "", 400, IssueType::kStructure,
       "Patient.gender"},
      {R"({"resourceType":"Patient","name":{"family":"Smith"}})", "", 400, IssueType::kStructure,
       "Patient.name"},
      {R"({"resourceType":"Patient","active":"true"})", "", 400, IssueType::kStructure,
       "Patient.active"},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
           "valueQuantity":{"value":"1.5"}})",
       "", 400, IssueType::kStructure, "Observation.valueQuantity.value"},
      {R"({"resourceType":"Patient","multipleBirthInteger":"2"})", "", 400, IssueType::kStructure,
       "Patient.multipleBirthInteger"},
      {R"({"resourceType":"Patient","birthDate":19900101})", "", 400, IssueType::kStructure,
       "Patient.birthDate"},
      {R"({"resourceType":"Patient","managingOrganization":{"reference":5}})", "", 400,
       IssueType::kStructure, "Patient.managingOrganization.reference"},
      {R"({"resourceType":"Patient","name":[{"given":[["a"]]}]})", "", 400, IssueType::kStructure,
       "Patient.name[0].given[0]"},
      {R"({"resourceType":"Patient","maritalStatus":{"coding":{"code":"M"}}})", "", 400,
       IssueType::kStructure, "Patient.maritalStatus.coding"},
      // Nulls.
      {R"({"resourceType":"Patient","gender":null})", "", 400, IssueType::kStructure,
       "Patient.gender"},
      {R"({"resourceType":"Patient","name":[{"given":["a",null]}]})", "", 400,
       IssueType::kStructure, "Patient.name[0].given[1]"},
      {R"({"resourceType":"Patient","name":[null]})", "", 400, IssueType::kStructure,
       "Patient.name[0]"},
      // Two variants of one choice.
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
           "valueString":"a","valueBoolean":true})",
       "", 400, IssueType::kStructure, "Observation.valueBoolean"},
      // Primitive extensions.
      {R"({"resourceType":"Patient","_birthDate":"x"})", "", 400, IssueType::kStructure,
       "Patient.birthDate"},
      {R"({"resourceType":"Patient","_birthDate":{"foo":1}})", "", 400, IssueType::kStructure,
       "Patient.birthDate.foo"},
      {R"({"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]})", "", 400,
       IssueType::kStructure, "Patient.name[0].given"},
      {R"({"resourceType":"Patient","name":[{"given":["a"],"_given":{"id":"x"}}]})", "", 400,
       IssueType::kStructure, "Patient.name[0].given"},
      // Primitive formats.
      {R"({"resourceType":"Patient","multipleBirthInteger":2.5})", "", 422, IssueType::kValue,
       "Patient.multipleBirthInteger"},
      {R"({"resourceType":"Patient","multipleBirthInteger":3000000000})", "", 422,
       IssueType::kValue, "Patient.multipleBirthInteger"},
      {R"({"resourceType":"Patient","telecom":[{"system":"phone","value":"1","rank":0}]})", "", 422,
       IssueType::kValue, "Patient.telecom[0].rank"},
      {R"({"resourceType":"Patient","photo":[{"size":-1}]})", "", 422, IssueType::kValue,
       "Patient.photo[0].size"},
      {R"({"resourceType":"Patient","birthDate":"1990-13-01"})", "", 422, IssueType::kValue,
       "Patient.birthDate"},
      {R"({"resourceType":"Patient","birthDate":"2021-02-29"})", "", 422, IssueType::kValue,
       "Patient.birthDate"},
      {R"({"resourceType":"Patient","birthDate":"1990-01-01T00:00:00Z"})", "", 422,
       IssueType::kValue, "Patient.birthDate"},
      {R"({"resourceType":"Patient","deceasedDateTime":"2020-01-01T10:00:00"})", "", 422,
       IssueType::kValue, "Patient.deceasedDateTime"},
      {R"({"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01T10:00Z"}})", "", 422,
       IssueType::kValue, "Patient.meta.lastUpdated"},
      {R"({"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}})", "", 422,
       IssueType::kValue, "Patient.meta.lastUpdated"},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
           "valueTime":"25:00:00"})",
       "", 422, IssueType::kValue, "Observation.valueTime"},
      {R"({"resourceType":"Patient","gender":" male"})", "", 422, IssueType::kValue,
       "Patient.gender"},
      {R"({"resourceType":"Patient","identifier":[{"system":"http://a b","value":"1"}]})", "", 422,
       IssueType::kValue, "Patient.identifier[0].system"},
      {R"({"resourceType":"Patient","extension":[{"url":"http://x","valueOid":"1.2.3"}]})", "", 422,
       IssueType::kValue, "Patient.extension[0].valueOid"},
      {R"({"resourceType":"Patient","extension":[{"url":"http://x","valueUuid":"urn:uuid:XYZ"}]})",
       "", 422, IssueType::kValue, "Patient.extension[0].valueUuid"},
      {R"({"resourceType":"Patient","photo":[{"data":"abc"}]})", "", 422, IssueType::kValue,
       "Patient.photo[0].data"},
      {R"({"resourceType":"Patient","id":"a_b"})", "", 422, IssueType::kValue, "Patient.id"},
      {R"({"resourceType":"Patient","id":"12345678901234567890123456789012345678901234567890123456789012345"})",
       "", 422, IssueType::kValue, "Patient.id"},
      {R"({"resourceType":"Patient","name":[{"family":"a\u0001b"}]})", "", 422, IssueType::kValue,
       "Patient.name[0].family"},
      // Required bindings.
      {R"({"resourceType":"Patient","gender":"m"})", "", 422, IssueType::kValue, "Patient.gender"},
      {R"({"resourceType":"Observation","status":"done","code":{"text":"x"}})", "", 422,
       IssueType::kValue, "Observation.status"},
      {R"({"resourceType":"Condition","subject":{"reference":"Patient/1"},
           "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"bogus"}]}})",
       "", 422, IssueType::kValue, "Condition.clinicalStatus.coding[0].code"},
      // Cardinality.
      {R"({"resourceType":"Observation","code":{"text":"x"}})", "", 422, IssueType::kRequired,
       "Observation.status"},
      {R"({"resourceType":"MedicationRequest","status":"active","intent":"order",
           "subject":{"reference":"Patient/1"}})",
       "", 422, IssueType::kRequired, "MedicationRequest.medication"},
      {R"({"resourceType":"Patient","extension":[{"valueString":"x"}]})", "", 422,
       IssueType::kRequired, "Patient.extension[0].url"},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
           "component":[{"valueString":"a"}]})",
       "", 422, IssueType::kRequired, "Observation.component[0].code"},
      {R"({"resourceType":"Bundle"})", "", 422, IssueType::kRequired, "Bundle.type"},
      {R"({"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})",
       "", 422, IssueType::kRequired, "Patient.text.status"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>","_div":{"extension":[{"url":"http://x","valueString":"y"}]}}})",
       "", 422, IssueType::kStructure, "Patient.text.div.extension"},
      // ele-1.
      {R"({"resourceType":"Patient","maritalStatus":{}})", "", 422, IssueType::kInvariant,
       "Patient.maritalStatus"},
      {R"({"resourceType":"Patient","name":[]})", "", 422, IssueType::kInvariant, "Patient.name"},
      {R"({"resourceType":"Patient","name":[{"family":""}]})", "", 422, IssueType::kInvariant,
       "Patient.name[0].family"},
      {R"({"resourceType":"Patient","_birthDate":{}})", "", 422, IssueType::kInvariant,
       "Patient.birthDate"},
      // Narrative (txt-1, txt-2).
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>"}})", "", 422,
       IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}})", "", 422,
       IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">x</p></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\" JavaScript:alert(1)\">x</a></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"&#106;avascript:alert(1)\">x</a></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><iframe src=\"http://x\"></iframe></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><object data=\"x\">x</object></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><embed src=\"x\"/>x</div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><form>x</form></div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      {R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">  </div>"}})",
       "", 422, IssueType::kInvariant, "Patient.text.div"},
      // Contained and nested resources.
      {R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","foo":1}]})",
       "", 400, IssueType::kStructure, "Patient.contained[0].foo"},
      {R"({"resourceType":"Patient","contained":[{"id":"o"}]})", "", 400, IssueType::kStructure,
       "Patient.contained[0]"},
      {R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o",
           "contained":[{"resourceType":"Organization","id":"p"}]}]})",
       "", 422, IssueType::kInvariant, "Patient.contained[0].contained"},
      {R"({"resourceType":"Bundle","type":"collection",
           "entry":[{"resource":{"resourceType":"Patient","gender":"x"}}]})",
       "", 422, IssueType::kValue, "Bundle.entry[0].resource.gender"},
      {R"({"resourceType":"Bundle","type":"collection",
           "entry":[{"resource":{"resourceType":"Nope"}}]})",
       "", 400, IssueType::kInvalid, "Bundle.entry[0].resource"},
  };
  ASSERT_GE(cases.size(), 45u);
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.json);
    json::Value v = parse_or_die(c.json);
    std::vector<core::Error> issues = validate(v, c.expected_type);
    ASSERT_FALSE(issues.empty());
    const core::Error& first = issues.front();
    EXPECT_EQ(first.http_status, c.status) << describe(issues);
    EXPECT_EQ(core::issue_code(first.type), core::issue_code(c.type)) << describe(issues);
    EXPECT_EQ(first.expression, c.expression) << describe(issues);
    EXPECT_FALSE(first.diagnostics.empty());
    core::Status status = validate_resource(v, c.expected_type);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().http_status, c.status);
  }
}

const char* const kPatient = R"({
  "resourceType": "Patient",
  "id": "example-1",
  "meta": {"versionId": "1", "lastUpdated": "2024-03-01T10:11:12.345+01:00",
           "profile": ["http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-patient"],
           "tag": [{"system": "http://example.org/tags", "code": "demo"}]},
  "text": {"status": "generated",
           "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter <b>Chalmers</b></p><br/><img src=\"data:image/png;base64,AAAA\" alt=\"x\"/><table><tr><td>MRN</td></tr></table><!-- c --></div>"},
  "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                 "valueAddress": {"city": "Paris", "country": "FR"}},
                {"url": "http://example.org/nested",
                 "extension": [{"url": "a", "valueInteger": -5}, {"url": "b", "valueDecimal": 1.50e2}]}],
  "identifier": [{"use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                  "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345",
                  "period": {"start": "2001-05-06"}, "assigner": {"display": "Acme Healthcare"}}],
  "active": true,
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
           {"use": "usual", "given": ["Jim", null], "_given": [null, {"extension": [{"url": "http://x", "valueString": "y"}]}]}],
  "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work", "rank": 1}],
  "gender": "male",
  "_gender": {"id": "g1"},
  "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "deceasedBoolean": false,
  "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille",
               "postalCode": "3999", "period": {"start": "1974-12-25"}}],
  "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]},
  "multipleBirthInteger": 1,
  "photo": [{"contentType": "image/png", "data": "iVBORw0K GgoAAAA=", "size": 0}],
  "contact": [{"relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}]}],
               "name": {"family": "du Marché"}, "gender": "female"}],
  "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr"}]}, "preferred": true}],
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Gastroenterology"}],
  "managingOrganization": {"reference": "#org1"},
  "link": [{"other": {"reference": "Patient/pat2"}, "type": "seealso"}]
})";

const char* const kObservation = R"({
  "resourceType": "Observation",
  "id": "weight",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"}]},
  "subject": {"reference": "Patient/example-1"},
  "effectiveDateTime": "2016-03-28",
  "issued": "2016-03-28T12:00:00Z",
  "valueQuantity": {"value": 1.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
})";

const char* const kBloodPressure = R"({
  "resourceType": "Observation",
  "id": "blood-pressure",
  "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
  "subject": {"reference": "Patient/example-1"},
  "effectivePeriod": {"start": "2012-09-17T10:00:00+02:00", "end": "2012-09-17T10:05:00.5+02:00"},
  "performer": [{"reference": "Practitioner/example"}],
  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "L"}]}],
  "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "368209003"}]},
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
     "valueQuantity": {"value": 107, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
     "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N"}]}]},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
     "valueQuantity": {"value": 60, "comparator": "<", "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
  ]
})";

const char* const kBundle = R"({
  "resourceType": "Bundle",
  "id": "b1",
  "type": "transaction",
  "timestamp": "2024-01-01T00:00:00Z",
  "entry": [
    {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
     "resource": {"resourceType": "Patient", "active": true, "name": [{"family": "Doe"}]},
     "request": {"method": "POST", "url": "Patient"}},
    {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
     "resource": {"resourceType": "Observation", "status": "preliminary",
                  "code": {"text": "Heart rate"},
                  "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
                  "valueQuantity": {"value": 72.0, "unit": "/min"}},
     "request": {"method": "POST", "url": "Observation"}},
    {"request": {"method": "DELETE", "url": "Patient/old"}}
  ]
})";

const char* const kQuestionnaire = R"({
  "resourceType": "Questionnaire",
  "status": "active",
  "item": [{"linkId": "1", "type": "group", "text": "Group",
            "item": [{"linkId": "1.1", "type": "boolean",
                      "item": [{"linkId": "1.1.1", "type": "string",
                                "enableWhen": [{"question": "1.1", "operator": "=", "answerBoolean": true}]}]}]}]
})";

const char* const kParameters = R"({
  "resourceType": "Parameters",
  "parameter": [{"name": "resource", "resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8="}},
                {"name": "count", "valueInteger": 3},
                {"name": "part", "part": [{"name": "x", "valueCode": "a b"}]}]
})";

TEST(Validate, AcceptsGoodResources) {
  for (const char* text :
       {kPatient, kObservation, kBloodPressure, kBundle, kQuestionnaire, kParameters}) {
    json::Value v = parse_or_die(text);
    std::vector<core::Error> issues = validate(v, "");
    EXPECT_TRUE(issues.empty()) << describe(issues) << text;
  }
  EXPECT_TRUE(validate_resource(parse_or_die(kPatient), "Patient").ok());
  EXPECT_TRUE(validate_resource(parse_or_die(kBloodPressure), "Observation").ok());
}

TEST(Validate, StructureIssuesComeFirst) {
  json::Value v = parse_or_die(
      R"({"resourceType":"Patient","gender":"m","birthDate":"x","foo":1,"name":[{"family":""}]})");
  std::vector<core::Error> issues = validate(v, "");
  ASSERT_EQ(issues.size(), 4u) << describe(issues);
  EXPECT_EQ(issues[0].http_status, 400);
  EXPECT_EQ(issues[0].expression, "Patient.foo");
  EXPECT_EQ(issues[1].expression, "Patient.gender");
  EXPECT_EQ(issues[2].expression, "Patient.birthDate");
  EXPECT_EQ(issues[3].expression, "Patient.name[0].family");
}

TEST(Validate, LimitsDepthAndIssues) {
  std::string nested = R"({"url":"x","valueString":"y"})";
  for (int i = 0; i < 10; ++i) nested = R"({"url":"x","extension":[)" + nested + "]}";
  json::Value v = parse_or_die(R"({"resourceType":"Patient","extension":[)" + nested + "]}");
  EXPECT_TRUE(validate(v, "").empty());
  ValidateOptions options;
  options.max_depth = 5;
  std::vector<core::Error> issues = validate(v, "", options);
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].type, IssueType::kTooLong);
  EXPECT_EQ(issues[0].http_status, 400);

  std::string many = R"({"resourceType":"Patient","name":[)";
  for (int i = 0; i < 50; ++i) many += std::string(i ? "," : "") + R"({"family":""})";
  many += "]}";
  options = {};
  options.max_issues = 10;
  EXPECT_EQ(validate(parse_or_die(many), "", options).size(), 10u);

  options = {};
  options.max_string_bytes = 8;
  issues = validate(parse_or_die(R"({"resourceType":"Patient","name":[{"family":"123456789"}]})"),
                    "", options);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].type, IssueType::kTooLong);
  EXPECT_EQ(issues[0].expression, "Patient.name[0].family");
}

TEST(Validate, PrimitiveFormats) {
  EXPECT_TRUE(is_valid_date("2024"));
  EXPECT_TRUE(is_valid_date("2024-02"));
  EXPECT_TRUE(is_valid_date("2024-02-29"));
  EXPECT_FALSE(is_valid_date("2023-02-29"));
  EXPECT_FALSE(is_valid_date("0000"));
  EXPECT_FALSE(is_valid_date("2024-2"));
  EXPECT_FALSE(is_valid_date("2024-02-"));
  EXPECT_TRUE(is_valid_date_time("2015-02-07T13:28:17-05:00"));
  EXPECT_TRUE(is_valid_date_time("2017-01-01T00:00:00.000Z"));
  EXPECT_TRUE(is_valid_date_time("2017-01-01T00:00:60+14:00"));
  EXPECT_FALSE(is_valid_date_time("2017-01-01T00:00:00+14:30"));
  EXPECT_FALSE(is_valid_date_time("2017-01T00:00:00Z"));
  EXPECT_FALSE(is_valid_date_time("2017-01-01T00:00Z"));
  EXPECT_FALSE(is_valid_instant("2017-01-01"));
  EXPECT_TRUE(is_valid_instant("2017-01-01T00:00:00.1234Z"));
  EXPECT_TRUE(is_valid_time("23:59:59.5"));
  EXPECT_FALSE(is_valid_time("23:59"));
  EXPECT_FALSE(is_valid_time("23:59:59."));
  EXPECT_TRUE(is_valid_code("a b"));
  EXPECT_FALSE(is_valid_code("a  b"));
  EXPECT_FALSE(is_valid_code("a "));
  EXPECT_TRUE(is_valid_id("A-b.9"));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_TRUE(is_valid_oid("urn:oid:2.16.840.1.113883"));
  EXPECT_FALSE(is_valid_oid("urn:oid:3.1"));
  EXPECT_FALSE(is_valid_oid("urn:oid:1.01"));
  EXPECT_TRUE(is_valid_uuid("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"));
  EXPECT_FALSE(is_valid_uuid("urn:uuid:C757873D-ec9a-4326-a141-556f43239520"));
  EXPECT_TRUE(is_valid_base64("aGVsbG8="));
  EXPECT_TRUE(is_valid_base64("aGVs\nbG8h"));
  EXPECT_TRUE(is_valid_base64("a+/="));
  EXPECT_FALSE(is_valid_base64("aGVsbG8"));
  EXPECT_FALSE(is_valid_base64("aG=sbG8="));
  EXPECT_FALSE(is_valid_uri("http://a b"));
}

// Every example of the published IPA package validates against the base model.
TEST(Validate, IpaExamples) {
  std::filesystem::path dir = std::filesystem::path(IPA_SHARED_DIR) / "ipa" / "examples";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "../shared not present";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path());
    std::stringstream buf;
    buf << in.rdbuf();
    json::Value v = parse_or_die(buf.str());
    std::vector<core::Error> issues = validate(v, "");
    EXPECT_TRUE(issues.empty()) << describe(issues);
    ++count;
  }
  EXPECT_GT(count, 0);
}

}  // namespace
}  // namespace ipa::fhir
