// Search interactions (FHIR R4 search.html): GET [type]?..., POST [type]/_search, and the
// compartment form GET Patient/[id]/[type]. Builds the searchset Bundle with self and next
// links (sealed keyset cursors), _include/_revinclude entries and an OperationOutcome entry
// naming every parameter that was ignored.
#include <set>

#include "core/percent.h"
#include "fhir/model.h"
#include "fhir/outcome.h"
#include "rest/internal/common.h"
#include "rest/internal/smart.h"
#include "search/cursor.h"
#include "search/query.h"

namespace ipa::rest::internal {
namespace {

std::string query_string(const search::Params& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (!q.empty()) q += '&';
    q += core::percent_encode(k, core::PercentSet::kFhirSearch) + "=" +
         core::percent_encode(v, core::PercentSet::kFhirSearch);
  }
  return q;
}

void append_entry(std::string& out, State& s, const storage::StoredResource& r, const char* mode,
                  const Shape& shape, bool& first) {
  if (!first) out += ',';
  first = false;
  out += R"({"fullUrl":)";
  json::write_string(out, s.options.base_url + "/" + r.resource_type + "/" + r.id);
  out += R"(,"resource":)";
  if (shape.subsets()) {
    auto body = shaped(
        r.json, Shape{.pretty = false, .summary = shape.summary, .elements = shape.elements});
    out += body.ok() ? *body : r.json;
  } else {
    out += r.json;
  }
  out += R"(,"search":{"mode":")";
  out += mode;
  out += R"("}})";
}

std::vector<storage::ResourceKey> keys_of(const std::vector<storage::StoredResource>& rs,
                                          const std::string& type) {
  std::vector<storage::ResourceKey> keys;
  for (const auto& r : rs) {
    if (type == "*" || r.resource_type == type) keys.push_back({r.resource_type, r.id});
  }
  return keys;
}

// _include and _revinclude (with :iterate up to three rounds), never repeating a resource.
// `patient`: the patient the search is bound to (a patient-level grant's, or Patient/[id]/...),
// or empty. The store reads that patient's rows first (one shard under Citus: docs/scale-out.md);
// for a patient-level caller, a revinclude of a Patient-compartment type asks the store for the
// patient's compartment only, which is all the grant check below would keep.
core::Result<std::vector<storage::StoredResource>> included(
    State& s, const search::ParsedSearch& q, const std::vector<storage::StoredResource>& matches,
    const Caller* caller, const std::string& patient) {
  const std::string record_patient = caller != nullptr ? caller->patient : std::string();
  std::set<storage::ResourceKey> seen;
  for (const auto& m : matches) seen.insert({m.resource_type, m.id});
  std::vector<storage::StoredResource> out;
  std::vector<storage::StoredResource> frontier = matches;
  for (int round = 0; round < 3 && !frontier.empty(); ++round) {
    std::vector<storage::StoredResource> added;
    auto add = [&](std::vector<storage::StoredResource> rs) {
      for (auto& r : rs) {
        // Included resources pass the same grant checks as reads.
        if (caller != nullptr && !visible(s, *caller, r)) continue;
        if (seen.insert({r.resource_type, r.id}).second) added.push_back(std::move(r));
      }
    };
    for (const search::Include& inc : q.includes) {
      if (round > 0 && !inc.iterate) continue;
      auto sources = keys_of(frontier, inc.source_type);
      if (sources.empty()) continue;
      auto targets = s.store.references_of(sources, inc.param, patient);
      if (!targets.ok()) return std::move(targets).error();
      std::vector<storage::ResourceKey> wanted;
      for (auto& t : *targets) {
        if (inc.target_type.empty() || t.resource_type == inc.target_type) wanted.push_back(t);
      }
      auto rs = s.store.read_many(wanted, patient);
      if (!rs.ok()) return std::move(rs).error();
      add(std::move(*rs));
    }
    for (const search::Include& inc : q.revincludes) {
      if (round > 0 && !inc.iterate) continue;
      auto targets = keys_of(frontier, "*");
      if (targets.empty()) continue;
      const bool in_record = inc.source_type == "Patient" ||
                             !fhir::patient_compartment_params(inc.source_type).empty();
      auto rs = s.store.referencing(inc.source_type, inc.param, targets, 1000,
                                    in_record ? record_patient : std::string());
      if (!rs.ok()) return std::move(rs).error();
      add(std::move(*rs));
    }
    for (auto& r : added) out.push_back(r);
    frontier = std::move(added);
  }
  return out;
}

}  // namespace

http::Response run_search(State& s, const std::string& type, const Params& request_params,
                          const Shape& shape, bool strict, const std::string& compartment_patient,
                          const Caller* caller) {
  Params params = request_params;
  std::string bound_patient;
  if (caller != nullptr) {
    auto bounds = search_bounds(*caller, type);
    if (!bounds.ok()) return bearer_challenge(bounds.error());
    params.insert(params.end(), bounds->extra.begin(), bounds->extra.end());
    bound_patient = bounds->patient;
  }
  search::QueryOptions qo;
  qo.base_url = s.options.base_url;
  qo.strict = strict;
  qo.default_count = s.options.default_count;
  qo.max_count = s.options.max_count;
  auto parsed = search::parse_search(type, params, qo);
  if (!parsed.ok()) return error_response(parsed.error(), shape.pretty);
  search::ParsedSearch& q = *parsed;
  std::string self_base = s.options.base_url + "/";
  if (!compartment_patient.empty()) {
    if (fhir::patient_compartment_params(type).empty() && type != "Patient") {
      return error_response(core::not_found(type + " is not in the Patient compartment."));
    }
    if (type == "Patient") {
      storage::Condition c;
      c.kind = storage::IndexKind::kId;
      c.text = compartment_patient;
      q.plan.all_of.push_back(storage::Clause{{c}, false});
    } else {
      q.plan.compartment_patient = compartment_patient;
    }
    self_base += "Patient/" + compartment_patient + "/";
  }
  self_base += type;
  if (!bound_patient.empty()) {
    // R30: a patient-level grant sees only its patient's matches (an empty Bundle for others).
    bool other = !compartment_patient.empty() && compartment_patient != bound_patient;
    storage::Condition c;
    c.kind = storage::IndexKind::kId;
    if (type == "Patient") {
      c.text = other ? std::string("\x01") : bound_patient;
      q.plan.all_of.push_back(storage::Clause{{c}, false});
    } else if (other) {
      c.text = "\x01";  // no id looks like this: nothing matches
      q.plan.all_of.push_back(storage::Clause{{c}, false});
    } else {
      q.plan.compartment_patient = bound_patient;
    }
  }
  std::string self_query = query_string(q.applied);
  // The cursor is bound to exactly this search.
  // ... and to the grant that asked (DESIGN.md: cursors are bound to the grant).
  std::string binding = self_base + "?" + self_query;
  if (caller != nullptr) binding += "\ngrant=" + caller->claims->grant_id;
  auto key = s.store.secret("cursor-key", search::kCursorKeyBytes);
  if (!key.ok()) return error_response(key.error(), shape.pretty);
  if (!q.cursor.empty()) {
    auto after = search::open_cursor(q.cursor, binding, *key, s.clock->now());
    if (!after.ok()) return error_response(after.error(), shape.pretty);
    if (after->values.size() != q.plan.sort.size()) {
      return error_response(core::bad_request(core::IssueType::kInvalid,
                                              "The paging cursor does not fit this search.")
                                .at("_cursor"));
    }
    q.plan.after = std::move(*after);
  }
  bool count_only = q.summary == "count" || q.plan.count == 0;
  q.plan.want_total = count_only || q.total == search::TotalMode::kAccurate ||
                      q.total == search::TotalMode::kEstimate;
  if (count_only) q.plan.count = 0;
  auto page = s.store.search(q.plan);
  if (!page.ok()) return error_response(page.error(), shape.pretty);
  std::vector<storage::StoredResource> extra;
  if (!count_only && (!q.includes.empty() || !q.revincludes.empty())) {
    auto inc = included(s, q, page->entries, caller,
                        !bound_patient.empty() ? bound_patient : compartment_patient);
    if (!inc.ok()) return error_response(inc.error(), shape.pretty);
    extra = std::move(*inc);
  }
  std::optional<int64_t> total = page->total;
  if (!total && q.total != search::TotalMode::kNone && !page->next && !q.plan.after) {
    total = static_cast<int64_t>(page->entries.size());  // cheap: everything is on this page
  }

  std::string out = R"({"resourceType":"Bundle","meta":{"lastUpdated":")";
  out += core::format_instant(s.clock->now());
  out += R"("},"type":"searchset")";
  if (total) out += R"(,"total":)" + std::to_string(*total);
  out += R"(,"link":[{"relation":"self","url":)";
  json::write_string(out, self_base + (self_query.empty() ? "" : "?" + self_query));
  out += "}";
  auto link = [&](const char* relation, const storage::Keyset& position) {
    std::string url = self_base + "?" + self_query + (self_query.empty() ? "" : "&") +
                      "_cursor=" + search::seal_cursor(position, binding, *key, s.clock->now());
    out += R"(,{"relation":")";
    out += relation;
    out += R"(","url":)";
    json::write_string(out, url);
    out += "}";
  };
  if (page->next) link("next", *page->next);
  if (page->previous) link("previous", *page->previous);
  out += R"(],"entry":[)";
  bool first = true;
  Shape entry_shape{
      .pretty = false, .summary = q.summary == "count" ? "" : q.summary, .elements = q.elements};
  for (const auto& r : page->entries) append_entry(out, s, r, "match", entry_shape, first);
  for (const auto& r : extra) append_entry(out, s, r, "include", entry_shape, first);
  if (!q.ignored.empty()) {
    std::vector<core::Error> issues;
    for (const std::string& why : q.ignored) {
      core::Error e;
      e.severity = core::Severity::kWarning;
      e.type = core::IssueType::kNotSupported;
      e.diagnostics = "Parameter ignored: " + why;
      issues.push_back(std::move(e));
    }
    if (!first) out += ',';
    first = false;
    out += R"({"resource":)";
    out += json::write(fhir::operation_outcome(issues));
    out += R"(,"search":{"mode":"outcome"}})";
  }
  out += "]}";
  if (first) {
    // No entries at all: FHIR JSON forbids an empty array (ele-1).
    out.erase(out.size() - std::string(R"(,"entry":[]})").size());
    out += "}";
  }
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

}  // namespace ipa::rest::internal
