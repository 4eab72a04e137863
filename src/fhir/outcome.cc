#include "fhir/outcome.h"

namespace ipa::fhir {

json::Value operation_outcome(const std::vector<core::Error>& issues) {
  json::Value list = json::Value::array();
  for (const core::Error& e : issues) {
    json::Value issue = json::Value::object();
    issue.set("severity", json::Value::string(std::string(core::severity_code(e.severity))));
    issue.set("code", json::Value::string(std::string(core::issue_code(e.type))));
    if (!e.diagnostics.empty()) issue.set("diagnostics", json::Value::string(e.diagnostics));
    if (!e.expression.empty()) {
      issue.set("expression", json::Value::array({json::Value::string(e.expression)}));
    }
    list.push_back(std::move(issue));
  }
  json::Value oo = json::Value::object();
  oo.set("resourceType", json::Value::string("OperationOutcome"));
  oo.set("issue", std::move(list));
  return oo;
}

json::Value operation_outcome(const core::Error& error) {
  return operation_outcome(std::vector<core::Error>{error});
}

json::Value information_outcome(const std::string& diagnostics) {
  core::Error info;
  info.severity = core::Severity::kInformation;
  info.type = core::IssueType::kInformational;
  info.diagnostics = diagnostics;
  return operation_outcome(info);
}

}  // namespace ipa::fhir
