// The instance CapabilityStatement (FHIR R4 capabilitystatement.html; IPA conformance page),
// generated from what this server implements and nothing more.
#include <map>

#include "fhir/model.h"
#include "rest/internal/audit.h"
#include "rest/internal/common.h"
#include "search/extract.h"

namespace ipa::rest::internal {
namespace {

using json::Value;

Value str(std::string s) { return Value::string(std::move(s)); }

Value code_list(std::initializer_list<const char*> codes) {
  Value a = Value::array();
  for (const char* c : codes) a.push_back(str(c));
  return a;
}

// IPA 1.0.0 profiles per resource type (IPA-CS rest.resource.supportedProfile).
const std::map<std::string_view, std::vector<std::string_view>>& ipa_profiles() {
  static const std::map<std::string_view, std::vector<std::string_view>> kProfiles = {
      {"AllergyIntolerance",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-allergyintolerance"}},
      {"Condition",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-condition",
        "http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-problem-list-item"}},
      {"DocumentReference",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-documentreference"}},
      {"Immunization", {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-immunization"}},
      {"Medication", {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-medication"}},
      {"MedicationRequest",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-medicationrequest"}},
      {"MedicationStatement",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-medicationstatement"}},
      {"Observation",
       {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-observation",
        "http://hl7.org/fhir/StructureDefinition/vitalsigns"}},
      {"Patient", {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-patient"}},
      {"Practitioner", {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-practitioner"}},
      {"PractitionerRole", {"http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-practitionerrole"}},
  };
  return kProfiles;
}

Value resource_entry(std::string_view type) {
  Value r = Value::object();
  r.set("type", str(std::string(type)));
  auto it = ipa_profiles().find(type);
  if (it != ipa_profiles().end()) {
    Value profiles = Value::array();
    for (auto p : it->second) profiles.push_back(str(std::string(p)));
    r.set("supportedProfile", std::move(profiles));
  }
  Value interactions = Value::array();
  for (const char* code : {"read", "vread", "update", "delete", "history-instance", "history-type",
                           "create", "search-type"}) {
    Value i = Value::object();
    i.set("code", str(code));
    interactions.push_back(std::move(i));
  }
  r.set("interaction", std::move(interactions));
  r.set("versioning", str("versioned"));
  r.set("readHistory", Value::boolean(true));
  r.set("updateCreate", Value::boolean(true));
  r.set("conditionalCreate", Value::boolean(true));
  r.set("conditionalRead", str("full-support"));
  r.set("conditionalUpdate", Value::boolean(false));
  r.set("conditionalDelete", str("not-supported"));
  Value includes = Value::array();
  Value params = Value::array();
  for (const fhir::SearchParamInfo& p : fhir::search_params(type)) {
    bool special = p.code == "_id" || p.code == "_lastUpdated";
    if (!special && !search::is_supported(type, p.code)) continue;
    Value sp = Value::object();
    sp.set("name", str(std::string(p.code)));
    if (!p.url.empty()) sp.set("definition", str(std::string(p.url)));
    sp.set("type", str(std::string(fhir::search_param_type_name(p.type))));
    params.push_back(std::move(sp));
    if (p.type == fhir::SearchParamType::kReference) {
      includes.push_back(str(std::string(type) + ":" + std::string(p.code)));
    }
  }
  if (!includes.items().empty()) r.set("searchInclude", std::move(includes));
  // Provenance:target works on every type (IPA-CS lists it on each IPA resource).
  r.set("searchRevInclude", code_list({"Provenance:target"}));
  if (!params.items().empty()) r.set("searchParam", std::move(params));
  Value ops = Value::array();
  auto op = [&](const char* name, const char* definition) {
    Value o = Value::object();
    o.set("name", str(name));
    o.set("definition", str(definition));
    ops.push_back(std::move(o));
  };
  if (type == "DocumentReference") {
    op("docref", "http://hl7.org/fhir/uv/ipa/OperationDefinition/docref");
  }
  if (type == "Patient") {
    op("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything");
    op("summary", "http://hl7.org/fhir/uv/ips/OperationDefinition/summary");
  }
  if (!ops.items().empty()) r.set("operation", std::move(ops));
  return r;
}

}  // namespace

std::string build_capability_statement(const ApiOptions& o, core::TimePoint started,
                                       const std::string& auth_base) {
  Value cs = Value::object();
  cs.set("resourceType", str("CapabilityStatement"));
  cs.set("status", str("active"));
  cs.set("date", str(core::format_instant(started)));
  cs.set("publisher", str("ipa-server"));
  cs.set("kind", str("instance"));
  Value software = Value::object();
  software.set("name", str("ipa-server"));
  software.set("version", str(o.software_version));
  cs.set("software", std::move(software));
  Value impl = Value::object();
  impl.set("description",
           str("ipa-server: an HL7 FHIR R4 server for International Patient Access"));
  impl.set("url", str(o.base_url));
  cs.set("implementation", std::move(impl));
  cs.set("instantiates", code_list({"http://hl7.org/fhir/uv/ipa/CapabilityStatement/ipa-server"}));
  cs.set("fhirVersion", str("4.0.1"));
  cs.set("format", code_list({"json", "application/fhir+json"}));
  cs.set("implementationGuide",
         code_list({"http://hl7.org/fhir/uv/ipa/ImplementationGuide/hl7.fhir.uv.ipa",
                    "http://hl7.org/fhir/smart-app-launch/ImplementationGuide/"
                    "hl7.fhir.uv.smart-app-launch"}));
  Value rest = Value::object();
  rest.set("mode", str("server"));
  if (auth_base.empty()) {
    rest.set("documentation",
             str("FHIR R4 read, vread, create, update, delete, history, search, batch and "
                 "transaction for every R4 resource type. Access control is OFF on this "
                 "instance (development mode, loopback only)."));
  } else {
    rest.set("documentation",
             str("FHIR R4 for International Patient Access. Apps authorize with SMART App "
                 "Launch 2.0 (standalone launch, patient-level scopes) and get read and search "
                 "access to one patient's record. 400 invalid parameter, 401 no or bad token, "
                 "403 insufficient scope, 404 unknown resource or outside the grant."));
    // rest.security (IPA-CS; SMART's oauth-uris extension, still widely consumed: R16).
    Value security = Value::object();
    security.set("cors", Value::boolean(true));
    Value coding = Value::object();
    coding.set("system", str("http://terminology.hl7.org/CodeSystem/restful-security-service"));
    coding.set("code", str("SMART-on-FHIR"));
    Value service = Value::object();
    service.set("coding", Value::array({std::move(coding)}));
    security.set("service", Value::array({std::move(service)}));
    auto uri_ext = [](const char* url, const std::string& value) {
      Value e = Value::object();
      e.set("url", str(url));
      e.set("valueUri", str(value));
      return e;
    };
    Value oauth = Value::object();
    oauth.set("url", str("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"));
    oauth.set("extension", Value::array({uri_ext("authorize", auth_base + "/authorize"),
                                         uri_ext("token", auth_base + "/token"),
                                         uri_ext("introspect", auth_base + "/introspect"),
                                         uri_ext("revoke", auth_base + "/revoke")}));
    security.set("extension", Value::array({std::move(oauth)}));
    security.set("description",
                 str("SMART App Launch 2.0: discovery at [base]/.well-known/smart-configuration."));
    rest.set("security", std::move(security));
  }
  Value resources = Value::array();
  for (std::string_view type : fhir::resource_types()) {
    // AuditEvent comes from the audit trail, not the store: only what works there is listed.
    resources.push_back(type == "AuditEvent" ? audit_event_capability(!auth_base.empty())
                                             : resource_entry(type));
  }
  rest.set("resource", std::move(resources));
  Value interactions = Value::array();
  for (const char* code : {"transaction", "batch", "history-system"}) {
    Value i = Value::object();
    i.set("code", str(code));
    interactions.push_back(std::move(i));
  }
  rest.set("interaction", std::move(interactions));
  cs.set("rest", Value::array({std::move(rest)}));
  return json::write(cs);
}

}  // namespace ipa::rest::internal
