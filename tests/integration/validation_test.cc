// Bad input through HTTP: each gets its status, issue code and expression, and nothing is stored.
#include <gtest/gtest.h>

#include "harness.h"

namespace ipa::testing {
namespace {

struct BadWrite {
  std::string method;
  std::string path;
  std::string body;
  int status;
  std::string code;
  std::string expression;  // empty: not checked
};

TEST(Validation, BadWritesAreRejectedAndNothingIsStored) {
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  std::vector<BadWrite> cases = {
      {"POST", "/fhir/Patient", "{", 400, "structure", ""},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","active":true,"active":false})", 400,
       "structure", ""},
      {"POST", "/fhir/Patient",
       R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", 400, "invalid",
       ""},
      {"POST", "/fhir/Patient", R"({"active":true})", 400, "structure", ""},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","foo":1})", 400, "structure",
       "Patient.foo"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","active":"true"})", 400, "structure",
       "Patient.active"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","name":{"family":"x"}})", 400,
       "structure", "Patient.name"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","birthDate":"1974-13-01"})", 422,
       "value", "Patient.birthDate"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","gender":"robot"})", 422, "value",
       "Patient.gender"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","name":[{}]})", 422, "invariant",
       "Patient.name[0]"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","name":[{"family":""}]})", 422,
       "invariant", "Patient.name[0].family"},
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","active":null})", 400, "structure",
       "Patient.active"},
      {"POST", "/fhir/Observation", R"({"resourceType":"Observation","code":{"text":"x"}})", 422,
       "required", "Observation.status"},
      {"POST", "/fhir/Observation",
       R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true})",
       400, "structure", ""},
      {"POST", "/fhir/Observation",
       R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}})",
       400, "structure", "Observation.valueQuantity.value"},
      {"POST", "/fhir/Patient",
       R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}})",
       422, "invariant", "Patient.text.div"},
      {"PUT", "/fhir/Patient/abc", R"({"resourceType":"Patient","id":"a_b!","active":true})", 422,
       "value", "Patient.id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = server.send(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    json::Value oo = body_json(r);
    EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
    EXPECT_EQ(issue_code(oo), c.code) << r.body;
    if (!c.expression.empty()) {
      EXPECT_EQ(issue_expression(oo), c.expression) << r.body;
    }
  }
  auto history = body_json(server.get("/fhir/_history"));
  EXPECT_EQ(history.find("total")->as_int(), 0) << "a rejected write left something behind";
}

}  // namespace
}  // namespace ipa::testing
