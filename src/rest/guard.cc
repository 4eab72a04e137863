// Enforcement of SMART grants on every FHIR interaction (S61-S70, S90-S91, R29-R30): type-level
// scope checks, the patient compartment, Binary through its securityContext, and granular
// (v2 query) constraints. When unsure, deny.
#include <set>

#include "fhir/model.h"
#include "rest/internal/common.h"
#include "rest/internal/smart.h"
#include "search/query.h"

namespace ipa::rest::internal {
namespace {

auth::AccessContext context_of(const Caller& c) {
  auth::AccessContext ctx;
  ctx.patient = c.patient;
  return ctx;
}

bool in_compartment_type(const std::string& type) {
  return !fhir::patient_compartment_params(type).empty();
}

// The granular constraints that apply: empty when some permit is unconstrained.
std::vector<std::vector<auth::QueryConstraint>> constraint_sets(const auth::Access& access) {
  std::vector<std::vector<auth::QueryConstraint>> out;
  for (const auth::Permit& p : access.permits) {
    if (p.constraints.empty()) return {};
    out.push_back(p.constraints);
  }
  return out;
}

}  // namespace

core::Status allow(const Caller& c, auth::Interaction interaction, const std::string& type) {
  if (interaction != auth::Interaction::kRead && interaction != auth::Interaction::kSearch) {
    return core::forbidden(
        "Apps have read-only access to this server (IPA is read-only); writes are refused.");
  }
  auth::Access access = c.scopes.check(interaction, type, context_of(c));
  if (!access.allowed()) {
    return core::forbidden(
        "The access token's scopes do not allow " +
        std::string(interaction == auth::Interaction::kRead ? "reading" : "searching") + " " +
        type + ".");
  }
  return {};
}

namespace {

// Whether `r` belongs to the caller's patient record: the Patient itself, a member of its
// compartment, a Binary whose securityContext is the patient's (FHIR R4 binary.html#security),
// or a supporting resource the record references within two hops (references must resolve: R39).
bool in_patient_record(State& s, const Caller& c, const storage::StoredResource& r) {
  if (r.resource_type == "Patient") return r.id == c.patient;
  auto member = [&](const std::string& type, const std::string& id) {
    auto comps = s.store.compartments_of(type, id);
    return comps.ok() && std::find(comps->begin(), comps->end(), c.patient) != comps->end();
  };
  if (in_compartment_type(r.resource_type)) {
    // Fast path: the owning patient is the caller's (no second query).
    return r.owner_patient == c.patient || member(r.resource_type, r.id);
  }
  if (r.resource_type == "Binary") {
    auto v = json::parse(r.json, json::ParseOptions{.max_depth = 1000});
    if (!v.ok()) return false;
    const json::Value* sc = v->find("securityContext");
    if (sc == nullptr) return false;
    std::string ref(sc->get_string("reference"));
    size_t slash = ref.find('/');
    if (slash == std::string::npos) return false;
    std::string type = ref.substr(0, slash), id = ref.substr(slash + 1);
    return type == "Patient" ? id == c.patient : member(type, id);
  }
  // A supporting resource (Practitioner, Organization, Medication, ...) belongs to the record
  // when the patient's resources reference it, directly or through one more resource; others'
  // supporting resources are not found (existence is never revealed).
  auto reached = s.store.referenced_from_compartment(c.patient, {r.resource_type, r.id});
  return reached.ok() && *reached;
}

}  // namespace

bool visible(State& s, const Caller& c, const storage::StoredResource& r) {
  auth::Access access = c.scopes.check(auth::Interaction::kRead, r.resource_type, context_of(c));
  if (!access.allowed()) return false;
  if (!c.patient.empty() && !in_patient_record(s, c, r)) return false;
  auto sets = constraint_sets(access);
  if (sets.empty()) return true;
  for (const auto& set : sets) {
    search::Params params = {{"_id", r.id}};
    for (const auto& q : set) params.emplace_back(q.param, q.value);
    search::QueryOptions qo;
    qo.strict = true;
    qo.base_url = s.options.base_url;
    auto parsed = search::parse_search(r.resource_type, params, qo);
    if (!parsed.ok()) continue;
    parsed->plan.count = 1;
    auto page = s.store.search(parsed->plan);
    if (page.ok() && !page->entries.empty()) return true;
  }
  return false;
}

core::Result<SearchBounds> search_bounds(const Caller& c, const std::string& type) {
  IPA_RETURN_IF_ERROR(allow(c, auth::Interaction::kSearch, type));
  SearchBounds b;
  if (!c.patient.empty()) {
    if (type != "Patient" && !in_compartment_type(type)) {
      return core::forbidden(type +
                             " is outside the patient's record; read it through the references "
                             "of the record instead of searching.");
    }
    b.patient = c.patient;
  } else {
    return core::forbidden("The access token has no patient in context.");
  }
  auth::Access access = c.scopes.check(auth::Interaction::kSearch, type, context_of(c));
  auto sets = constraint_sets(access);
  if (!sets.empty()) {
    // OR across granular scopes when each constrains the same single parameter (e.g. category
    // laboratory or vital-signs); otherwise the first scope's constraints (narrower: deny side).
    bool same = std::all_of(sets.begin(), sets.end(), [&](const auto& s) {
      return s.size() == 1 && s[0].param == sets[0][0].param;
    });
    if (same) {
      std::string values;
      for (const auto& s : sets) {
        if (!values.empty()) values += ",";
        values += s[0].value;
      }
      b.extra.emplace_back(sets[0][0].param, values);
    } else {
      for (const auto& q : sets[0]) b.extra.emplace_back(q.param, q.value);
    }
  }
  return b;
}

}  // namespace ipa::rest::internal
