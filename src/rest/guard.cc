// Enforcement of SMART grants on every FHIR interaction (S61-S70, S90-S91, R29-R30): type-level
// scope checks, the patient compartment, Binary through its securityContext, granular (v2
// query) constraints, writes checked before and after the change, and backend services
// (system/ scopes, no compartment bound). When unsure, deny.
#include <set>

#include "fhir/model.h"
#include "rest/internal/common.h"
#include "rest/internal/smart.h"
#include "search/extract.h"
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
  auth::Access access = c.scopes.check(interaction, type, context_of(c));
  if (!access.allowed()) {
    static constexpr const char* kVerbs[] = {"creating", "reading", "updating", "deleting",
                                             "searching"};
    return core::forbidden("The access token's scopes do not allow " +
                           std::string(kVerbs[static_cast<int>(interaction)]) + " " + type + ".");
  }
  return {};
}

bool is_system(const Caller& c) {
  if (!c.patient.empty()) return false;
  return std::any_of(c.scopes.scopes().begin(), c.scopes.scopes().end(), [](const auth::Scope& s) {
    return s.kind == auth::ScopeKind::kClinical && s.level == auth::Level::kSystem;
  });
}

bool unbounded_read(const Caller& c, const std::string& type) {
  if (!is_system(c)) return false;
  auth::Access access = c.scopes.check(auth::Interaction::kRead, type, context_of(c));
  return std::any_of(access.permits.begin(), access.permits.end(), [](const auth::Permit& p) {
    return p.level == auth::Level::kSystem && p.constraints.empty();
  });
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

// Whether one granular constraint holds for a resource's index rows (the write side of S64:
// a written resource must match the filter of the scope that allows the write). Token and
// reference parameters are judged (comma = any of, FHIR R4 search.html#token); other kinds are
// not evaluated here, so they count as not matching (deny when unsure).
bool matches_constraint(const std::string& type, const storage::IndexRows& rows,
                        const auth::QueryConstraint& q) {
  const fhir::SearchParamInfo* info = fhir::find_search_param(type, q.param);
  if (info == nullptr) return false;
  auto iequal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const std::string& raw : search::split_unescaped(q.value, ',')) {
    if (info->type == fhir::SearchParamType::kToken) {
      size_t bar = raw.find('|');
      for (const storage::TokenRow& t : rows.tokens) {
        if (t.param != q.param) continue;
        if (bar == std::string::npos) {
          if (iequal(t.code, search::unescape(raw))) return true;
          continue;
        }
        std::string system = search::unescape(raw.substr(0, bar));
        std::string code = search::unescape(raw.substr(bar + 1));
        if (t.system == system && (code.empty() || iequal(t.code, code))) return true;
      }
    } else if (info->type == fhir::SearchParamType::kReference) {
      std::string v = search::unescape(raw);
      for (const storage::ReferenceRow& r : rows.references) {
        if (r.param != q.param) continue;
        if (v == r.target_type + "/" + r.target_id || (!r.url.empty() && v == r.url)) return true;
      }
    }
  }
  return false;
}

// Whether a resource with `rows` is inside what `access` permits: in the compartment of a
// permit's patient (none needed for system/ permits) and matching all its constraints.
bool permitted(const auth::Access& access, const std::string& type, const std::string& id,
               const storage::IndexRows& rows) {
  for (const auth::Permit& p : access.permits) {
    if (p.level != auth::Level::kSystem) {
      bool inside = std::any_of(p.patients.begin(), p.patients.end(), [&](const std::string& pid) {
        if (type == "Patient") return id == pid;  // a Patient writes only itself
        return std::find(rows.compartment_patients.begin(), rows.compartment_patients.end(), pid) !=
               rows.compartment_patients.end();
      });
      if (!inside) continue;
    }
    bool all = std::all_of(
        p.constraints.begin(), p.constraints.end(),
        [&](const auth::QueryConstraint& q) { return matches_constraint(type, rows, q); });
    if (all) return true;
  }
  return false;
}

core::Result<storage::IndexRows> rows_of(State& s, const json::Value& resource) {
  search::ExtractOptions eo;
  eo.base_url = s.options.base_url;
  return search::extract(resource, eo);
}

core::Error outside(const std::string& type, const std::string& id) {
  return core::not_found(type + "/" + id + " is not known to this server.");
}

// Patient-context writes stay in the patient's compartment: supporting resources outside every
// compartment (Practitioner, Organization, Medication, Binary, ...) are not writable by them.
core::Status writable_type(const Caller& c, const std::string& type) {
  if (is_system(c) || type == "Patient" || in_compartment_type(type)) return {};
  return core::forbidden(type +
                         " lies outside every patient's record; apps acting for a patient may "
                         "not write it.");
}

// The change an app asks for, before it is made: the current version (when any) must be inside
// the grant (else 404, existence is never revealed); `interaction` names the permission needed.
core::Status check_current(State& s, storage::Writer& w, const Caller& c,
                           auth::Interaction interaction, const std::string& type,
                           const std::string& id, bool* exists) {
  *exists = false;
  auto current = w.read(type, id);
  if (!current.ok()) {
    int st = current.error().http_status;
    if (st == 404 || st == 410) return {};
    return std::move(current).error();
  }
  *exists = true;
  auto v = json::parse(current->json, json::ParseOptions{.max_depth = 1000});
  if (!v.ok()) return outside(type, id);
  auto rows = rows_of(s, *v);
  if (!rows.ok()) return outside(type, id);
  // The resource must be readable by the caller to be touched at all (else it is not found),
  // and the write permission must cover it as it is now.
  auth::Access read = c.scopes.check(auth::Interaction::kRead, type, context_of(c));
  auth::Access write = c.scopes.check(interaction, type, context_of(c));
  if (!permitted(read, type, id, *rows) && !permitted(write, type, id, *rows)) {
    return outside(type, id);
  }
  if (!permitted(write, type, id, *rows)) {
    return core::forbidden("The access token's scopes do not allow changing " + type + "/" + id +
                           ".");
  }
  return {};
}

// The resource as it would be stored: inside the grant's compartment and filters.
core::Status check_result(State& s, const Caller& c, auth::Interaction interaction,
                          const std::string& type, const std::string& id, const json::Value& body) {
  json::Value copy = body;
  if (!id.empty()) copy.set("id", json::Value::string(id));
  auto rows = rows_of(s, copy);
  if (!rows.ok()) return std::move(rows).error();
  auth::Access write = c.scopes.check(interaction, type, context_of(c));
  if (!permitted(write, type, id, *rows)) {
    return core::forbidden(
        is_system(c)
            ? "The access token's scopes do not allow writing this " + type + " (granular filter)."
            : "The written " + type + " would not be in the record of the patient in context (" +
                  c.patient + "), or would not match the access token's scopes.");
  }
  return {};
}

}  // namespace

core::Result<Outcome> guarded_create(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, json::Value body,
                                     std::string_view if_none_exist, std::string assigned_id) {
  if (c == nullptr) return do_create(s, w, type, std::move(body), if_none_exist, assigned_id);
  IPA_RETURN_IF_ERROR(allow(*c, auth::Interaction::kCreate, type));
  IPA_RETURN_IF_ERROR(writable_type(*c, type));
  if (!is_system(*c) && type == "Patient") {
    return core::forbidden("Apps acting for a patient cannot create Patient resources.");
  }
  if (assigned_id.empty()) assigned_id = s.next_id();
  IPA_RETURN_IF_ERROR(check_result(s, *c, auth::Interaction::kCreate, type, assigned_id, body));
  // Conditional create only sees the patient's compartment (a match elsewhere is not revealed).
  std::string criteria_patient = is_system(*c) ? std::string() : c->patient;
  auto out = do_create(s, w, type, std::move(body), if_none_exist, std::move(assigned_id),
                       criteria_patient);
  return out;
}

core::Result<Outcome> guarded_update(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, const std::string& id,
                                     json::Value body, std::optional<int64_t> if_match) {
  if (c == nullptr) return do_update(s, w, type, id, std::move(body), if_match);
  IPA_RETURN_IF_ERROR(allow(*c, auth::Interaction::kUpdate, type));
  IPA_RETURN_IF_ERROR(writable_type(*c, type));
  bool exists = false;
  IPA_RETURN_IF_ERROR(check_current(s, w, *c, auth::Interaction::kUpdate, type, id, &exists));
  if (!exists) {
    // Update as create (FHIR R4 http.html#upsert) needs the create permission too.
    IPA_RETURN_IF_ERROR(allow(*c, auth::Interaction::kCreate, type));
    if (!is_system(*c) && type == "Patient") return outside(type, id);
  }
  IPA_RETURN_IF_ERROR(check_result(
      s, *c, exists ? auth::Interaction::kUpdate : auth::Interaction::kCreate, type, id, body));
  return do_update(s, w, type, id, std::move(body), if_match);
}

core::Result<Outcome> guarded_delete(State& s, storage::Writer& w, const Caller* c,
                                     const std::string& type, const std::string& id,
                                     std::optional<int64_t> if_match) {
  if (c == nullptr) return do_delete(s, w, type, id, if_match);
  IPA_RETURN_IF_ERROR(allow(*c, auth::Interaction::kDelete, type));
  IPA_RETURN_IF_ERROR(writable_type(*c, type));
  if (!is_system(*c) && type == "Patient") {
    if (id != c->patient) return outside(type, id);
    return core::forbidden("An app cannot delete the record of the patient in context.");
  }
  bool exists = false;
  IPA_RETURN_IF_ERROR(check_current(s, w, *c, auth::Interaction::kDelete, type, id, &exists));
  // Nothing of a patient grant's to delete: not found (a backend service may delete idempotently).
  if (!exists && !is_system(*c)) return outside(type, id);
  return do_delete(s, w, type, id, if_match);
}

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

bool visible_in_transaction(State& s, const Caller& c, const storage::StoredResource& r) {
  auth::Access access = c.scopes.check(auth::Interaction::kRead, r.resource_type, context_of(c));
  if (!access.allowed()) return false;
  // Patient-context callers write only Patient and compartment types (writable_type); anything
  // else was written by someone who may: judged as any stored resource.
  if (!c.patient.empty() && r.resource_type != "Patient" && !in_compartment_type(r.resource_type))
    return visible(s, c, r);
  auto v = json::parse(r.json, json::ParseOptions{.max_depth = 1000});
  if (!v.ok()) return false;
  auto rows = rows_of(s, *v);
  return rows.ok() && permitted(access, r.resource_type, r.id, *rows);
}

core::Result<SearchBounds> search_bounds(const Caller& c, const std::string& type) {
  IPA_RETURN_IF_ERROR(allow(c, auth::Interaction::kSearch, type));
  SearchBounds b;
  if (is_system(c)) {
    // SMART Backend Services: no compartment bound; only the granular filters below.
  } else if (!c.patient.empty()) {
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
