// Operations: DocumentReference/$docref (IPA OperationDefinition docref, R51-R60),
// Patient/[id]/$summary (the International Patient Summary document the $docref result points
// to, generated on each read without storing anything) and Patient/[id]/$everything.
#include <set>

#include "fhir/model.h"
#include "fhir/outcome.h"
#include "rest/internal/common.h"
#include "rest/internal/smart.h"
#include "search/cursor.h"
#include "search/values.h"

namespace ipa::rest::internal {
namespace {

using json::Value;

Value str(std::string s) { return Value::string(std::move(s)); }

Value coding(const char* system, const char* code, const char* display) {
  Value c = Value::object();
  c.set("system", str(system));
  c.set("code", str(code));
  c.set("display", str(display));
  return c;
}

Value concept_of(Value c, const char* text = nullptr) {
  Value cc = Value::object();
  cc.set("coding", Value::array({std::move(c)}));
  if (text) cc.set("text", str(text));
  return cc;
}

struct DocrefParams {
  std::string patient;
  std::optional<search::DateRange> start;
  std::optional<search::DateRange> end;
  std::vector<std::pair<std::string, std::string>> types;  // system, code
  bool on_demand = false;
};

core::Error bad(const std::string& name, const std::string& why) {
  return core::bad_request(core::IssueType::kInvalid, "$docref parameter '" + name + "': " + why)
      .at(name);
}

core::Result<DocrefParams> docref_params(const Params& params) {
  DocrefParams p;
  for (const auto& [k, v] : params) {
    if (k == "patient") {
      p.patient = v;
      if (size_t slash = v.rfind('/'); slash != std::string::npos) p.patient = v.substr(slash + 1);
    } else if (k == "start" || k == "end") {
      auto r = search::date_range(v);
      if (!r) return bad(k, "'" + v + "' is not a dateTime");
      (k == "start" ? p.start : p.end) = *r;
    } else if (k == "type") {
      size_t bar = v.find('|');
      p.types.emplace_back(bar == std::string::npos ? "" : v.substr(0, bar),
                           bar == std::string::npos ? v : v.substr(bar + 1));
    } else if (k == "on-demand") {
      if (v != "true" && v != "false") return bad(k, "must be true or false");
      p.on_demand = v == "true";
    } else if (k == "profile" || k == "_format" || k == "_pretty") {
      // profile: server's discretion (IPA-OD); this server offers one document kind.
    } else {
      return bad(k, "is not a parameter of $docref");
    }
  }
  if (p.patient.empty()) return bad("patient", "is required");
  return p;
}

// The Parameters body of POST $docref, as name/value pairs (valueId, valueDateTime, valueCoding,
// valueBoolean, valueCanonical; IPA-OD).
core::Result<Params> parameters_body(const json::Value& body) {
  Params out;
  const json::Value* list = body.find("parameter");
  if (list == nullptr) return out;
  for (const auto& p : list->items()) {
    std::string name(p.get_string("name"));
    if (const auto* v = p.find("valueId")) {
      out.emplace_back(name, v->text());
    } else if (const auto* d = p.find("valueDateTime")) {
      out.emplace_back(name, d->text());
    } else if (const auto* c = p.find("valueCoding")) {
      std::string sys(c->get_string("system"));
      out.emplace_back(name, sys + "|" + std::string(c->get_string("code")));
    } else if (const auto* b = p.find("valueBoolean")) {
      out.emplace_back(name, b->as_bool() ? "true" : "false");
    } else if (const auto* u = p.find("valueCanonical")) {
      out.emplace_back(name, u->text());
    } else if (const auto* r = p.find("valueReference")) {
      out.emplace_back(name, std::string(r->get_string("reference")));
    } else {
      return bad(name, "has no supported value[x]");
    }
  }
  return out;
}

// Every current resource of `type` in the patient's compartment (bounded).
core::Result<std::vector<storage::StoredResource>> compartment_all(State& s, const std::string& pid,
                                                                   const std::string& type,
                                                                   size_t limit = 5000) {
  storage::SearchPlan plan;
  plan.resource_type = type;
  plan.count = 500;
  if (type == "Patient") {
    storage::Condition c;
    c.kind = storage::IndexKind::kId;
    c.text = pid;
    plan.all_of.push_back(storage::Clause{{c}, false});
  } else {
    plan.compartment_patient = pid;
  }
  std::vector<storage::StoredResource> out;
  while (out.size() < limit) {
    auto page = s.store.search(plan);
    if (!page.ok()) return std::move(page).error();
    for (auto& r : page->entries) out.push_back(std::move(r));
    if (!page->next) break;
    plan.after = page->next;
  }
  return out;
}

std::string summary_id(const std::string& pid) { return "ips-" + pid; }

// The on-demand DocumentReference pointing at the patient's current summary (R52, R56).
Value summary_docref(State& s, const std::string& pid) {
  Value d = Value::object();
  d.set("resourceType", str("DocumentReference"));
  d.set("id", str(summary_id(pid)));
  Value meta = Value::object();
  meta.set(
      "profile",
      Value::array({str("http://hl7.org/fhir/uv/ipa/StructureDefinition/ipa-documentreference")}));
  d.set("meta", std::move(meta));
  d.set("status", str("current"));
  d.set("type", concept_of(coding("http://loinc.org", "60591-5", "Patient summary Document"),
                           "International Patient Summary"));
  Value subject = Value::object();
  subject.set("reference", str("Patient/" + pid));
  d.set("subject", std::move(subject));
  d.set("date", str(core::format_instant(s.clock->now())));
  Value att = Value::object();
  att.set("contentType", str("application/fhir+json"));
  att.set("url", str(s.options.base_url + "/Patient/" + pid + "/$summary"));
  att.set("title", str("International Patient Summary (generated when read)"));
  Value content = Value::object();
  content.set("attachment", std::move(att));
  Value format = Value::object();
  format.set("system", str("http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"));
  format.set("code", str("urn:hl7-org:sdwg:ips:1.0"));
  content.set("format", std::move(format));
  d.set("content", Value::array({std::move(content)}));
  return d;
}

// Whether the DocumentReference's care dates (context.period, else date) meet [start, end].
bool in_window(const json::Value& doc, const DocrefParams& p) {
  std::optional<search::DateRange> range;
  if (const auto* ctx = doc.find("context")) {
    if (const auto* per = ctx->find("period")) {
      auto a = search::date_range(per->get_string("start"));
      auto b = search::date_range(per->get_string("end"));
      if (a || b) {
        range = search::DateRange{a ? a->low : INT64_MIN, b ? b->high : INT64_MAX};
      }
    }
  }
  if (!range) range = search::date_range(doc.get_string("date"));
  if (!range) return !p.start && !p.end;
  if (p.start && range->high <= p.start->low) return false;
  if (p.end && range->low >= p.end->high) return false;
  return true;
}

bool type_matches(const json::Value& doc, const DocrefParams& p) {
  if (p.types.empty()) return true;
  const auto* type = doc.find("type");
  if (type == nullptr || type->find("coding") == nullptr) return false;
  for (const auto& c : type->find("coding")->items()) {
    for (const auto& [sys, code] : p.types) {
      if (c.get_string("code") == code && (sys.empty() || c.get_string("system") == sys)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

http::Response docref(State& s, const Params& query, const std::string& body, const Shape& shape,
                      const Caller* caller) {
  Params params = query;
  if (!body.empty()) {
    auto v = parse_resource(body, "Parameters");
    if (!v.ok()) return error_response(v.error(), shape.pretty);
    auto p = parameters_body(*v);
    if (!p.ok()) return error_response(p.error(), shape.pretty);
    params.insert(params.end(), p->begin(), p->end());
  }
  auto p = docref_params(params);
  if (!p.ok()) return error_response(p.error(), shape.pretty);
  if (caller != nullptr) {
    // R57 / S70: the operation needs DocumentReference search for the patient in context.
    if (auto st = allow(*caller, auth::Interaction::kSearch, "DocumentReference"); !st.ok()) {
      return bearer_challenge(st.error());
    }
    if (p->patient != caller->patient && !is_system(*caller)) {
      return bearer_challenge(
          core::forbidden("$docref is only available for the patient in context."));
    }
  }
  std::string out = R"({"resourceType":"Bundle","type":"searchset")";
  std::vector<std::string> entries;
  auto patient = s.store.read("Patient", p->patient);
  if (patient.ok()) {
    // The current summary: always offered when no window is given (R52), and on-demand.
    bool summary_type_ok =
        p->types.empty() || std::any_of(p->types.begin(), p->types.end(), [](const auto& t) {
          return t.second == "60591-5" && (t.first.empty() || t.first == "http://loinc.org");
        });
    if (!p->start && !p->end && summary_type_ok) {
      std::string e = R"({"fullUrl":)";
      json::write_string(e, s.options.base_url + "/DocumentReference/" + summary_id(p->patient));
      e += R"(,"resource":)" + json::write(summary_docref(s, p->patient)) +
           R"(,"search":{"mode":"match"}})";
      entries.push_back(std::move(e));
    }
    if (!p->on_demand) {
      auto docs = compartment_all(s, p->patient, "DocumentReference");
      if (!docs.ok()) return error_response(docs.error(), shape.pretty);
      for (const auto& d : *docs) {
        auto v = json::parse(d.json, json::ParseOptions{.max_depth = 1000});
        if (!v.ok()) continue;
        if (v->get_string("status") == "entered-in-error") continue;
        if (!in_window(*v, *p) || !type_matches(*v, *p)) continue;
        if (caller != nullptr && !visible(s, *caller, d)) continue;
        std::string e = R"({"fullUrl":)";
        json::write_string(e, s.options.base_url + "/DocumentReference/" + d.id);
        e += R"(,"resource":)" + d.json + R"(,"search":{"mode":"match"}})";
        entries.push_back(std::move(e));
      }
    }
  }
  // An unknown patient, or nothing to offer, is an empty Bundle (R54).
  out += R"(,"total":)" + std::to_string(entries.size());
  out += R"(,"link":[{"relation":"self","url":)";
  json::write_string(out, s.options.base_url + "/DocumentReference/$docref?patient=" + p->patient);
  out += "}]";
  if (!entries.empty()) {
    out += R"(,"entry":[)";
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += ',';
      out += entries[i];
    }
    out += "]";
  }
  out += "}";
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

http::Response ips_summary(State& s, const std::string& pid, const Shape& shape) {
  auto patient = s.store.read("Patient", pid);
  if (!patient.ok()) return error_response(patient.error(), shape.pretty);
  struct Section {
    const char* title;
    const char* loinc;
    const char* display;
    const char* type;
  };
  // IPS sections (HL7 IPS: required allergies, problems, medications; recommended immunizations
  // and results).
  static const Section kSections[] = {
      {"Allergies and Intolerances", "48765-2", "Allergies and adverse reactions Document",
       "AllergyIntolerance"},
      {"Problem List", "11450-4", "Problem list - Reported", "Condition"},
      {"Medication Summary", "10160-0", "History of Medication use Narrative",
       "MedicationStatement"},
      {"Medication Requests", "10160-0", "History of Medication use Narrative",
       "MedicationRequest"},
      {"Immunizations", "11369-6", "History of Immunization Narrative", "Immunization"},
      {"Results", "30954-2", "Relevant diagnostic tests/laboratory data Narrative", "Observation"},
  };
  std::string now = core::format_instant(s.clock->now());
  Value composition = Value::object();
  composition.set("resourceType", str("Composition"));
  composition.set("id", str("ips-composition-" + pid));
  composition.set("status", str("final"));
  composition.set("type",
                  concept_of(coding("http://loinc.org", "60591-5", "Patient summary Document")));
  Value subject = Value::object();
  subject.set("reference", str("Patient/" + pid));
  composition.set("subject", subject);
  composition.set("date", str(now));
  Value author = Value::object();
  author.set("display", str("ipa-server"));
  composition.set("author", Value::array({std::move(author)}));
  composition.set("title", str("International Patient Summary"));
  Value sections = Value::array();
  std::vector<storage::StoredResource> included;
  std::set<storage::ResourceKey> seen;
  for (const Section& sec : kSections) {
    auto rs = compartment_all(s, pid, sec.type, 1000);
    if (!rs.ok()) return error_response(rs.error(), shape.pretty);
    Value section = Value::object();
    section.set("title", str(sec.title));
    section.set("code", concept_of(coding("http://loinc.org", sec.loinc, sec.display)));
    Value entries = Value::array();
    for (auto& r : *rs) {
      if (std::string(sec.type) == "Observation" &&
          r.json.find("\"laboratory\"") == std::string::npos) {
        continue;  // the Results section holds laboratory results
      }
      Value ref = Value::object();
      ref.set("reference", str(r.resource_type + "/" + r.id));
      entries.push_back(std::move(ref));
      if (seen.insert({r.resource_type, r.id}).second) included.push_back(std::move(r));
    }
    Value text = Value::object();
    text.set("status", str("generated"));
    std::string div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">" +
                      std::to_string(entries.items().size()) + " " + sec.title + "</div>";
    text.set("div", str(div));
    section.set("text", std::move(text));
    if (entries.items().empty()) {
      section.set("emptyReason",
                  concept_of(coding("http://terminology.hl7.org/CodeSystem/list-empty-reason",
                                    "unavailable", "Unavailable")));
    } else {
      section.set("entry", std::move(entries));
    }
    sections.push_back(std::move(section));
  }
  composition.set("section", std::move(sections));

  std::string out =
      R"({"resourceType":"Bundle","identifier":{"system":"urn:ietf:rfc:3986","value":")";
  out += "urn:ipa-server:ips:" + pid + R"("},"type":"document","timestamp":")" + now +
         R"(","entry":[{"fullUrl":)";
  json::write_string(out, s.options.base_url + "/Composition/ips-composition-" + pid);
  out += R"(,"resource":)" + json::write(composition) + R"(},{"fullUrl":)";
  json::write_string(out, s.options.base_url + "/Patient/" + pid);
  out += R"(,"resource":)" + patient->json + "}";
  for (const auto& r : included) {
    out += R"(,{"fullUrl":)";
    json::write_string(out, s.options.base_url + "/" + r.resource_type + "/" + r.id);
    out += R"(,"resource":)" + r.json + "}";
  }
  out += "]}";
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

http::Response everything(State& s, const std::string& pid, const Params& params,
                          const Shape& shape, const Caller* caller) {
  auto patient = s.store.read("Patient", pid);
  if (!patient.ok()) return error_response(patient.error(), shape.pretty);
  std::optional<int64_t> since;
  std::set<std::string> types;
  int count = s.options.default_count;
  std::string cursor;
  for (const auto& [k, v] : params) {
    if (k == "_since") {
      auto r = search::date_range(v);
      if (!r) {
        return error_response(
            core::bad_request(core::IssueType::kInvalid, "_since must be an instant.")
                .at("_since"));
      }
      since = r->low;
    } else if (k == "_type") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string t =
            v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!fhir::is_resource_type(t)) {
          return error_response(core::bad_request(core::IssueType::kInvalid,
                                                  "_type '" + t + "' is not a resource type.")
                                    .at("_type"));
        }
        types.insert(t);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (k == "_count") {
      try {
        count = std::clamp(std::stoi(v), 1, s.options.max_count);
      } catch (...) {
        return error_response(
            core::bad_request(core::IssueType::kInvalid, "_count must be a positive integer.")
                .at("_count"));
      }
    } else if (k == "_cursor") {
      cursor = v;
    }
  }
  // The compartment, type by type, then the supporting resources it references.
  std::vector<storage::StoredResource> all;
  std::set<storage::ResourceKey> seen;
  all.push_back(*patient);
  seen.insert({"Patient", pid});
  for (std::string_view t : fhir::resource_types()) {
    std::string type(t);
    if (type == "Patient" || fhir::patient_compartment_params(type).empty()) continue;
    auto rs = compartment_all(s, pid, type);
    if (!rs.ok()) return error_response(rs.error(), shape.pretty);
    for (auto& r : *rs) {
      if (seen.insert({r.resource_type, r.id}).second) all.push_back(std::move(r));
    }
  }
  std::vector<storage::ResourceKey> sources;
  for (const auto& r : all) sources.push_back({r.resource_type, r.id});
  auto refs = s.store.references_of(sources, "*");
  if (!refs.ok()) return error_response(refs.error(), shape.pretty);
  std::vector<storage::ResourceKey> supporting;
  for (auto& k : *refs) {
    if (!seen.count(k) && fhir::patient_compartment_params(k.resource_type).empty() &&
        k.resource_type != "Patient") {
      supporting.push_back(k);
    }
  }
  auto extra = s.store.read_many(supporting);
  if (!extra.ok()) return error_response(extra.error(), shape.pretty);
  for (auto& r : *extra) {
    if (seen.insert({r.resource_type, r.id}).second) all.push_back(std::move(r));
  }
  std::vector<storage::StoredResource> kept;
  for (auto& r : all) {
    if (!types.empty() && !types.count(r.resource_type)) continue;
    if (caller != nullptr && !visible(s, *caller, r)) continue;
    if (since &&
        std::chrono::duration_cast<std::chrono::milliseconds>(r.last_updated.time_since_epoch())
                .count() < *since) {
      continue;
    }
    kept.push_back(std::move(r));
  }
  // Pages by position in this deterministic order, with a sealed cursor bound to the request.
  std::string self = s.options.base_url + "/Patient/" + pid + "/$everything";
  std::string binding = self;
  for (const auto& [k, v] : params) {
    if (k != "_cursor") binding += "&" + k + "=" + v;
  }
  auto key = s.store.secret("cursor-key", search::kCursorKeyBytes);
  if (!key.ok()) return error_response(key.error(), shape.pretty);
  size_t offset = 0;
  if (!cursor.empty()) {
    auto pos = search::open_cursor(cursor, binding, *key, s.clock->now());
    if (!pos.ok()) return error_response(pos.error(), shape.pretty);
    offset = static_cast<size_t>(std::strtoull(pos->id.c_str(), nullptr, 10));
  }
  size_t end = std::min(kept.size(), offset + static_cast<size_t>(count));
  std::string out = R"({"resourceType":"Bundle","type":"searchset","total":)" +
                    std::to_string(kept.size()) + R"(,"link":[{"relation":"self","url":)";
  json::write_string(out, self);
  out += "}";
  if (end < kept.size()) {
    std::string q;
    for (const auto& [k, v] : params) {
      if (k != "_cursor") q += k + "=" + v + "&";
    }
    out += R"(,{"relation":"next","url":)";
    json::write_string(out, self + "?" + q + "_cursor=" +
                                search::seal_cursor(storage::Keyset{{}, std::to_string(end)},
                                                    binding, *key, s.clock->now()));
    out += "}";
  }
  out += "]";
  if (offset < end) {
    out += R"(,"entry":[)";
    for (size_t i = offset; i < end; ++i) {
      if (i > offset) out += ',';
      out += R"({"fullUrl":)";
      json::write_string(out, s.options.base_url + "/" + kept[i].resource_type + "/" + kept[i].id);
      out += R"(,"resource":)" + kept[i].json + R"(,"search":{"mode":"match"}})";
    }
    out += "]";
  }
  out += "}";
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

}  // namespace ipa::rest::internal
