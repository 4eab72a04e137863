#include "demo/testing/profile_checker.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

namespace ipa::demo::testing {
namespace {

using json::Value;

constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kDarExtension =
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

std::vector<Segment> parse_path(std::string_view id) {
  std::vector<Segment> out;
  size_t start = id.find('.');
  if (start == std::string_view::npos) return out;
  ++start;
  while (start <= id.size()) {
    size_t end = id.find('.', start);
    if (end == std::string_view::npos) end = id.size();
    std::string_view part = id.substr(start, end - start);
    Segment seg;
    const size_t colon = part.find(':');
    seg.name = std::string(part.substr(0, colon));
    if (colon != std::string_view::npos) seg.slice = std::string(part.substr(colon + 1));
    out.push_back(std::move(seg));
    start = end + 1;
  }
  return out;
}

std::string strip_version(std::string_view canonical) {
  return std::string(canonical.substr(0, canonical.find('|')));
}

// FHIR pattern semantics: every member of `pattern` is present in `v` with a matching value;
// each item of a pattern array matches some item of the value array.
bool pattern_match(const Value& v, const Value& pattern) {
  if (pattern.is_object()) {
    if (!v.is_object()) return false;
    for (const auto& [k, p] : pattern.members()) {
      const Value* c = v.find(k);
      if (c == nullptr || !pattern_match(*c, p)) return false;
    }
    return true;
  }
  if (pattern.is_array()) {
    if (!v.is_array()) return false;
    for (const Value& p : pattern.items()) {
      if (std::none_of(v.items().begin(), v.items().end(),
                       [&](const Value& item) { return pattern_match(item, p); })) {
        return false;
      }
    }
    return true;
  }
  return v == pattern;
}

void collect_path(const Value& v, const std::vector<std::string>& parts, size_t i,
                  std::vector<const Value*>& out) {
  if (v.is_array()) {
    for (const Value& item : v.items()) collect_path(item, parts, i, out);
    return;
  }
  if (i == parts.size()) {
    out.push_back(&v);
    return;
  }
  if (const Value* c = v.find(parts[i])) collect_path(*c, parts, i + 1, out);
}

std::vector<std::string> split_dots(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    parts.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool is_choice(const std::string& name) { return name.ends_with("[x]"); }

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

struct KnownValueSet {
  std::string_view system;  // empty: codes only (the element is a `code`)
  std::vector<std::string_view> codes;
};

const std::map<std::string, KnownValueSet, std::less<>>& known_value_sets() {
  static const auto* sets = new std::map<std::string, KnownValueSet, std::less<>>{
      {"http://hl7.org/fhir/ValueSet/administrative-gender",
       {"", {"male", "female", "other", "unknown"}}},
      {"http://hl7.org/fhir/ValueSet/allergyintolerance-clinical",
       {"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        {"active", "inactive", "resolved"}}},
      {"http://hl7.org/fhir/ValueSet/allergyintolerance-verification",
       {"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        {"unconfirmed", "confirmed", "refuted", "entered-in-error"}}},
      {"http://hl7.org/fhir/ValueSet/allergy-intolerance-type", {"", {"allergy", "intolerance"}}},
      {"http://hl7.org/fhir/ValueSet/allergy-intolerance-category",
       {"", {"food", "medication", "environment", "biologic"}}},
      {"http://hl7.org/fhir/ValueSet/allergy-intolerance-criticality",
       {"", {"low", "high", "unable-to-assess"}}},
      {"http://hl7.org/fhir/ValueSet/reaction-event-severity",
       {"", {"mild", "moderate", "severe"}}},
      {"http://hl7.org/fhir/ValueSet/condition-clinical",
       {"http://terminology.hl7.org/CodeSystem/condition-clinical",
        {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}}},
      {"http://hl7.org/fhir/ValueSet/condition-ver-status",
       {"http://terminology.hl7.org/CodeSystem/condition-ver-status",
        {"unconfirmed", "provisional", "differential", "confirmed", "refuted",
         "entered-in-error"}}},
      {"http://hl7.org/fhir/ValueSet/observation-status",
       {"",
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
         "entered-in-error", "unknown"}}},
      {"http://hl7.org/fhir/ValueSet/medicationrequest-status",
       {"",
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
         "unknown"}}},
      {"http://hl7.org/fhir/ValueSet/medicationrequest-intent",
       {"",
        {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
         "instance-order", "option"}}},
      {"http://hl7.org/fhir/ValueSet/request-priority",
       {"", {"routine", "urgent", "asap", "stat"}}},
      {"http://hl7.org/fhir/ValueSet/medication-statement-status",
       {"",
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
         "not-taken"}}},
      {"http://hl7.org/fhir/ValueSet/medication-status",
       {"", {"active", "inactive", "entered-in-error"}}},
      {"http://hl7.org/fhir/ValueSet/immunization-status",
       {"", {"completed", "entered-in-error", "not-done"}}},
      {"http://hl7.org/fhir/ValueSet/document-reference-status",
       {"", {"current", "superseded", "entered-in-error"}}},
      {"http://hl7.org/fhir/ValueSet/composition-status",
       {"", {"preliminary", "final", "amended", "entered-in-error"}}},
      {"http://hl7.org/fhir/ValueSet/document-relationship-type",
       {"", {"replaces", "transforms", "signs", "appends"}}},
      {"http://hl7.org/fhir/ValueSet/identifier-use",
       {"", {"usual", "official", "temp", "secondary", "old"}}},
      {"http://hl7.org/fhir/ValueSet/link-type",
       {"", {"replaced-by", "replaces", "refer", "seealso"}}},
      {"http://hl7.org/fhir/ValueSet/days-of-week",
       {"", {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}},
      {"http://hl7.org/fhir/ValueSet/ucum-vitals-common",
       {kUcum,
        {"%", "cm", "[in_i]", "kg", "g", "[lb_av]", "[oz_av]", "Cel", "[degF]", "mm[Hg]", "/min",
         "kg/m2", "m2"}}},
  };
  return *sets;
}

bool primitive_format_ok(const std::string& type, const std::string& s) {
  static const std::regex kDate(R"(\d{4}(-\d{2}(-\d{2})?)?)");
  static const std::regex kDateTime(
      R"(\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?)");
  static const std::regex kInstant(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))");
  static const std::regex kCode(R"([^\s]+( [^\s]+)*)");
  static const std::regex kId(R"([A-Za-z0-9\-\.]{1,64})");
  if (type == "date") return std::regex_match(s, kDate);
  if (type == "dateTime") return std::regex_match(s, kDateTime);
  if (type == "instant") return std::regex_match(s, kInstant);
  if (type == "code") return std::regex_match(s, kCode);
  if (type == "id") return std::regex_match(s, kId);
  return !s.empty();
}

}  // namespace

core::Result<ProfileSet> ProfileSet::load(const std::filesystem::path& dir) {
  ProfileSet set;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("StructureDefinition-") && name.ends_with(".json")) {
      files.push_back(entry.path());
    }
  }
  if (files.empty()) return core::not_found("no StructureDefinition-*.json in " + dir.string());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    core::Result<Value> parsed = json::parse(text.str());
    if (!parsed.ok()) {
      return core::bad_request(core::IssueType::kStructure,
                               file.string() + ": " + parsed.error().diagnostics);
    }
    const std::string url(parsed->get_string("url"));
    StructureDefinition& sd = set.profiles_[url];
    sd.source = std::move(parsed).value();
    sd.url = url;
    sd.type = std::string(sd.source.get_string("type"));
    set.type_of_profile_[url] = sd.type;
    const Value* snapshot = sd.source.find("snapshot");
    if (snapshot == nullptr) continue;
    for (const Value& ev : snapshot->find("element")->items()) {
      Element e;
      e.id = std::string(ev.get_string("id"));
      e.path = parse_path(e.id);
      if (const Value* min = ev.find("min")) e.min = static_cast<int>(min->as_int().value_or(0));
      e.max = std::string(ev.get_string("max"));
      if (const Value* base = ev.find("base")) e.base_max = std::string(base->get_string("max"));
      if (const Value* ms = ev.find("mustSupport")) e.must_support = ms->as_bool();
      if (const Value* types = ev.find("type")) {
        for (const Value& t : types->items()) {
          e.types.emplace_back(t.get_string("code"));
          if (const Value* targets = t.find("targetProfile")) {
            for (const Value& p : targets->items()) e.target_profiles.push_back(p.text());
          }
        }
      }
      for (const auto& [k, v] : ev.members()) {
        if (k.starts_with("fixed")) e.fixed = &v;
        if (k.starts_with("pattern")) e.pattern = &v;
      }
      if (const Value* b = ev.find("binding");
          b != nullptr && b->get_string("strength") == "required") {
        e.required_value_set = strip_version(b->get_string("valueSet"));
      }
      if (const Value* slicing = ev.find("slicing")) {
        if (const Value* ds = slicing->find("discriminator")) {
          for (const Value& d : ds->items()) {
            e.discriminators.emplace_back(d.get_string("type"), d.get_string("path"));
          }
        }
      }
      sd.by_id[e.id] = sd.elements.size();
      sd.elements.push_back(std::move(e));
    }
  }
  return set;
}

bool ProfileSet::in_slice(const StructureDefinition& sd, const std::string& base_id,
                          const std::string& slice_id, const Value& item) const {
  const auto base = sd.by_id.find(base_id);
  const auto slice = sd.by_id.find(slice_id);
  if (base == sd.by_id.end() || slice == sd.by_id.end()) return false;
  const Element& b = sd.elements[base->second];
  const Element& s = sd.elements[slice->second];
  for (const auto& [type, path] : b.discriminators) {
    if (type == "pattern" && path == "$this") {
      const Value* p = s.pattern != nullptr ? s.pattern : s.fixed;
      if (p == nullptr || !pattern_match(item, *p)) return false;
    } else if (type == "value" || type == "pattern") {
      const auto target = sd.by_id.find(slice_id + "." + path);
      if (target == sd.by_id.end()) return false;
      const Element& t = sd.elements[target->second];
      const Value* want = t.fixed != nullptr ? t.fixed : t.pattern;
      if (want == nullptr) return false;
      std::vector<const Value*> found;
      collect_path(item, split_dots(path), 0, found);
      if (std::none_of(found.begin(), found.end(),
                       [&](const Value* v) { return pattern_match(*v, *want); })) {
        return false;
      }
    } else {
      return false;  // type, profile and exists discriminators are not followed here
    }
  }
  return true;
}

void ProfileSet::children(const StructureDefinition& sd, const Value& parent, const Segment& seg,
                          const std::string& base_id, std::vector<Node>& out) const {
  if (!parent.is_object()) return;
  const size_t first = out.size();
  const auto add = [&](const std::string& key, const Value& v) {
    if (v.is_array()) {
      for (const Value& item : v.items()) out.push_back(Node{&item, key});
    } else {
      out.push_back(Node{&v, key});
    }
  };
  if (is_choice(seg.name)) {
    const std::string prefix = seg.name.substr(0, seg.name.size() - 3);
    for (const auto& [k, v] : parent.members()) {
      if (k.size() > prefix.size() && k.starts_with(prefix) &&
          std::isupper(static_cast<unsigned char>(k[prefix.size()]))) {
        add(k, v);
      }
    }
  } else if (const Value* v = parent.find(seg.name)) {
    add(seg.name, *v);
  } else if (const Value* ext = parent.find("_" + seg.name)) {
    add("_" + seg.name, *ext);
  }
  if (seg.slice.empty()) return;
  const std::string slice_id = base_id + ":" + seg.slice;
  out.erase(
      std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                     [&](const Node& n) { return !in_slice(sd, base_id, slice_id, *n.value); }),
      out.end());
}

std::vector<ProfileSet::Node> ProfileSet::select(const StructureDefinition& sd,
                                                 const Value& resource,
                                                 const std::vector<Segment>& path,
                                                 size_t count) const {
  std::vector<Node> current{Node{&resource, sd.type}};
  std::string id = sd.type;
  for (size_t i = 0; i < count; ++i) {
    const std::string base_id = id + "." + path[i].name;
    std::vector<Node> next;
    for (const Node& n : current) children(sd, *n.value, path[i], base_id, next);
    id = path[i].slice.empty() ? base_id : base_id + ":" + path[i].slice;
    current = std::move(next);
  }
  return current;
}

void ProfileSet::check_binding(const Element& e, const Value& v,
                               std::vector<std::string>& problems) const {
  if (e.required_value_set.empty()) return;
  if (e.required_value_set == "http://hl7.org/fhir/ValueSet/mimetypes") {
    static const std::regex kMime(R"([a-z]+/[A-Za-z0-9.+\-]+(;.*)?)");
    if (!v.is_string() || !std::regex_match(v.text(), kMime)) {
      problems.push_back(e.id + ": not a MIME type");
    }
    return;
  }
  const auto& sets = known_value_sets();
  const auto it = sets.find(e.required_value_set);
  if (it == sets.end()) {
    unknown_value_sets_.insert(e.required_value_set);
    return;
  }
  const KnownValueSet& vs = it->second;
  const auto coding_ok = [&](const Value& c) {
    const std::string_view code = c.get_string("code");
    if (!vs.system.empty() && c.get_string("system") != vs.system) return false;
    return std::find(vs.codes.begin(), vs.codes.end(), code) != vs.codes.end();
  };
  bool ok = false;
  if (v.is_string()) {
    ok = std::find(vs.codes.begin(), vs.codes.end(), v.text()) != vs.codes.end();
  } else if (const Value* codings = v.find("coding")) {
    ok = std::any_of(codings->items().begin(), codings->items().end(), coding_ok);
  } else if (v.is_object()) {
    ok = coding_ok(v);  // Coding or Quantity
  }
  if (!ok) problems.push_back(e.id + ": value not in required value set " + e.required_value_set);
}

void ProfileSet::check_value(const Element& e, const Node& n,
                             std::vector<std::string>& problems) const {
  const Value& v = *n.value;
  if (n.key.starts_with("_")) return;  // primitive extension only
  std::string type;
  if (is_choice(e.path.back().name)) {
    const std::string suffix = n.key.substr(e.path.back().name.size() - 3);
    for (const std::string& t : e.types) {
      if (lower_first(t) == lower_first(suffix)) type = t;
    }
    if (type.empty()) {
      problems.push_back(e.id + ": type " + suffix + " is not allowed");
      return;
    }
  } else if (e.types.size() == 1) {
    type = e.types[0];
  }
  if (!type.empty()) {
    bool kind_ok = true;
    if (type == "boolean") {
      kind_ok = v.is_bool();
    } else if (type == "integer" || type == "positiveInt" || type == "unsignedInt" ||
               type == "decimal") {
      kind_ok = v.is_number() && (type == "decimal" || v.as_int().has_value());
      if (kind_ok && type == "positiveInt") kind_ok = *v.as_int() > 0;
      if (kind_ok && type == "unsignedInt") kind_ok = *v.as_int() >= 0;
    } else if (std::islower(static_cast<unsigned char>(type[0]))) {
      kind_ok = v.is_string() && primitive_format_ok(type, v.text());
    } else if (type != "Resource") {
      kind_ok = v.is_object();
    }
    if (!kind_ok) problems.push_back(e.id + ": not a valid " + type + ": " + json::write(v));
  }
  if (e.fixed != nullptr && !(v == *e.fixed)) {
    problems.push_back(e.id + ": differs from fixed value " + json::write(*e.fixed));
  }
  if (e.pattern != nullptr && !pattern_match(v, *e.pattern)) {
    problems.push_back(e.id + ": does not match pattern " + json::write(*e.pattern));
  }
  check_binding(e, v, problems);
  if (type == "Reference" && !e.target_profiles.empty()) {
    const std::string_view ref = v.get_string("reference");
    if (!ref.empty()) {
      const std::string target_type(ref.substr(0, ref.find('/')));
      bool allowed = false;
      for (const std::string& p : e.target_profiles) {
        const auto known = type_of_profile_.find(p);
        const std::string t =
            known != type_of_profile_.end() ? known->second : p.substr(p.rfind('/') + 1);
        if (t == target_type || t == "Resource") allowed = true;
      }
      if (!allowed) problems.push_back(e.id + ": reference to " + target_type + " not allowed");
    }
  }
}

std::vector<std::string> ProfileSet::check(const Value& resource, std::string_view url) const {
  std::vector<std::string> problems;
  const auto it = profiles_.find(std::string(url));
  if (it == profiles_.end()) return {"unknown profile " + std::string(url)};
  const StructureDefinition& sd = it->second;
  if (resource.get_string("resourceType") != sd.type) {
    return {"resource type " + std::string(resource.get_string("resourceType")) + " is not " +
            sd.type};
  }
  for (const Element& e : sd.elements) {
    if (e.path.empty()) continue;
    const std::vector<Node> parents = select(sd, resource, e.path, e.path.size() - 1);
    std::string base_id = sd.type;
    for (size_t i = 0; i + 1 < e.path.size(); ++i) {
      base_id += "." + e.path[i].name;
      if (!e.path[i].slice.empty()) base_id += ":" + e.path[i].slice;
    }
    base_id += "." + e.path.back().name;
    for (const Node& parent : parents) {
      std::vector<Node> values;
      children(sd, *parent.value, e.path.back(), base_id, values);
      const int count = static_cast<int>(values.size());
      if (count < e.min) {
        problems.push_back(e.id + ": min " + std::to_string(e.min) + ", found " +
                           std::to_string(count));
      }
      if (e.max != "*" && !e.max.empty() && count > std::stoi(e.max)) {
        problems.push_back(e.id + ": max " + e.max + ", found " + std::to_string(count));
      }
      // JSON shape follows the base cardinality (FHIR R4 json.html): arrays for max > 1.
      if (e.path.back().slice.empty() && !is_choice(e.path.back().name) &&
          parent.value->is_object()) {
        if (const Value* raw = parent.value->find(e.path.back().name)) {
          const bool repeats = !e.base_max.empty() && e.base_max != "1" && e.base_max != "0";
          if (repeats != raw->is_array()) {
            problems.push_back(e.id + (repeats ? ": must be an array" : ": must not be an array"));
          }
          if (raw->is_array() && raw->items().empty()) problems.push_back(e.id + ": empty array");
        }
      }
      for (const Node& n : values) check_value(e, n, problems);
    }
  }
  return problems;
}

std::vector<std::string> ProfileSet::must_support(std::string_view url) const {
  std::vector<std::string> ids;
  const auto it = profiles_.find(std::string(url));
  if (it == profiles_.end()) return ids;
  for (const Element& e : it->second.elements) {
    if (e.must_support && !e.path.empty()) ids.push_back(e.id);
  }
  return ids;
}

std::vector<std::string> ProfileSet::populated_must_support(const Value& resource,
                                                            std::string_view url) const {
  std::vector<std::string> ids;
  const auto it = profiles_.find(std::string(url));
  if (it == profiles_.end()) return ids;
  const StructureDefinition& sd = it->second;
  for (const Element& e : sd.elements) {
    if (!e.must_support || e.path.empty()) continue;
    const std::vector<Node> found = select(sd, resource, e.path, e.path.size());
    // An element that only carries a data-absent-reason does not count (IPA-KIT must-support).
    const bool real = std::any_of(found.begin(), found.end(), [](const Node& n) {
      if (n.key.starts_with("_")) return false;
      if (const Value* ext = n.value->find("extension")) {
        for (const Value& x : ext->items()) {
          if (x.get_string("url") == kDarExtension) return false;
        }
      }
      return true;
    });
    if (real) ids.push_back(e.id);
  }
  return ids;
}

bool is_vital_sign(const Value& resource) {
  if (resource.get_string("resourceType") != "Observation") return false;
  const Value* categories = resource.find("category");
  if (categories == nullptr) return false;
  for (const Value& c : categories->items()) {
    if (const Value* codings = c.find("coding")) {
      for (const Value& coding : codings->items()) {
        if (coding.get_string("code") == "vital-signs") return true;
      }
    }
  }
  return false;
}

std::vector<std::string> check_invariants(const Value& r) {
  std::vector<std::string> problems;
  const std::string_view type = r.get_string("resourceType");
  const auto has_value = [](const Value& v) {
    return std::any_of(v.members().begin(), v.members().end(),
                       [](const json::Member& m) { return m.first.starts_with("value"); });
  };
  const auto first_code = [](const Value* cc) -> std::string_view {
    if (cc == nullptr) return {};
    const Value* codings = cc->find("coding");
    if (codings == nullptr || codings->items().empty()) return {};
    return codings->items()[0].get_string("code");
  };
  if (type == "Patient") {
    if (const Value* ids = r.find("identifier")) {
      for (const Value& id : ids->items()) {
        if (!id.find("system") && !id.find("type") && !id.find("assigner")) {
          problems.push_back("ipa-pat-1: identifier without system, type or assigner");
        }
      }
    }
    if (const Value* names = r.find("name")) {
      for (const Value& n : names->items()) {
        const bool parts = n.find("family") || n.find("given") || n.find("text");
        bool dar = false;
        if (const Value* ext = n.find("extension")) {
          for (const Value& x : ext->items()) dar = dar || x.get_string("url") == kDarExtension;
        }
        if (parts == dar) problems.push_back("ipa-pat-2: name parts xor data-absent-reason");
      }
    }
    if (r.find("link") && !r.find("active")) problems.push_back("ipa-pat-4: link without active");
  }
  if (type == "Observation") {
    const bool value = has_value(r);
    const bool dar = r.find("dataAbsentReason") != nullptr;
    if (!r.find("component") && !r.find("hasMember") && !value && !dar) {
      problems.push_back("ipa-obs-1/vs-2: neither value nor dataAbsentReason");
    }
    if (value && dar) problems.push_back("obs-6: both value and dataAbsentReason");
    if (is_vital_sign(r)) {
      const std::string_view effective = r.get_string("effectiveDateTime");
      if (!r.find("effectiveDateTime") && !r.find("effectivePeriod")) {
        problems.push_back("vitalsigns: effective[x] missing");
      }
      if (r.find("effectiveDateTime") && effective.size() < 8) {
        problems.push_back("vs-1: effectiveDateTime below day precision");
      }
      // Units of the FHIR core vital-sign profiles (UCUM).
      static const std::map<std::string, std::vector<std::string>, std::less<>> kUnits = {
          {"8867-4", {"/min"}},
          {"9279-1", {"/min"}},
          {"8310-5", {"Cel", "[degF]"}},
          {"29463-7", {"kg", "g", "[lb_av]"}},
          {"8302-2", {"cm", "[in_i]"}},
          {"39156-5", {"kg/m2"}},
          {"2708-6", {"%"}},
          {"8480-6", {"mm[Hg]"}},
          {"8462-4", {"mm[Hg]"}}};
      const auto check_unit = [&](std::string_view code, const Value& holder) {
        const auto u = kUnits.find(code);
        const Value* q = holder.find("valueQuantity");
        if (u == kUnits.end() || q == nullptr) return;
        if (q->get_string("system") != kUcum ||
            std::find(u->second.begin(), u->second.end(), q->get_string("code")) ==
                u->second.end()) {
          problems.push_back("vitalsigns: unit of " + std::string(code) + " is not UCUM " +
                             u->second[0]);
        }
      };
      check_unit(first_code(r.find("code")), r);
      if (const Value* components = r.find("component")) {
        for (const Value& c : components->items()) {
          if (!has_value(c) && !c.find("dataAbsentReason")) {
            problems.push_back("vs-3: component without value or dataAbsentReason");
          }
          check_unit(first_code(c.find("code")), c);
        }
      }
    }
  }
  if (type == "DocumentReference") {
    for (const Value& c : r.find("content")->items()) {
      const Value* a = c.find("attachment");
      if (a == nullptr || (!a->find("url") && !a->find("data"))) {
        problems.push_back("ipa-doc-1: attachment without url or data");
      }
    }
  }
  if (type == "Condition") {
    const std::string_view verification = first_code(r.find("verificationStatus"));
    const std::string_view clinical = first_code(r.find("clinicalStatus"));
    if (verification != "entered-in-error" && clinical.empty()) {
      problems.push_back("con-3: clinicalStatus missing");
    }
    if (r.find("abatementDateTime") && clinical != "inactive" && clinical != "remission" &&
        clinical != "resolved") {
      problems.push_back("con-4: abated but clinicalStatus is " + std::string(clinical));
    }
    if (verification == "entered-in-error" && !clinical.empty()) {
      problems.push_back("con-5: clinicalStatus with entered-in-error");
    }
  }
  if (type == "AllergyIntolerance") {
    const std::string_view verification = first_code(r.find("verificationStatus"));
    const bool clinical = r.find("clinicalStatus") != nullptr;
    if (verification != "entered-in-error" && !clinical) {
      problems.push_back("ait-1: clinicalStatus missing");
    }
    if (verification == "entered-in-error" && clinical) {
      problems.push_back("ait-2: clinicalStatus with entered-in-error");
    }
  }
  return problems;
}

}  // namespace ipa::demo::testing
