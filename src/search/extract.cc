#include "search/extract.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/model.h"
#include "search/fhirpath.h"
#include "search/text.h"
#include "search/values.h"

namespace ipa::search {
namespace {

using fhir::SearchParamType;

// The value shapes extraction knows, from the FHIR type of an expression's result.
enum class Shape : uint8_t {
  kOther,
  kCoding,
  kCodeableConcept,
  kIdentifier,
  kContactPoint,
  kHumanName,
  kAddress,
  kPeriod,
  kTiming,
  kReference,
  kQuantity,  // Quantity, Age, Duration, Distance, Count
  kMoney,
  kRange,
  kSampledData,
  kDate,  // date, dateTime, instant
  kBoolean,
  kInteger,  // integer, positiveInt, unsignedInt
  kDecimal,
  kUri,     // uri, url, canonical, oid, uuid
  kString,  // string, markdown, code, id
  kResource,
};

Shape shape_of_name(std::string_view n) {
  static const std::pair<std::string_view, Shape> kShapes[] = {
      {"Coding", Shape::kCoding},
      {"CodeableConcept", Shape::kCodeableConcept},
      {"Identifier", Shape::kIdentifier},
      {"ContactPoint", Shape::kContactPoint},
      {"HumanName", Shape::kHumanName},
      {"Address", Shape::kAddress},
      {"Period", Shape::kPeriod},
      {"Timing", Shape::kTiming},
      {"Reference", Shape::kReference},
      {"Quantity", Shape::kQuantity},
      {"Money", Shape::kMoney},
      {"Range", Shape::kRange},
      {"SampledData", Shape::kSampledData},
      {"date", Shape::kDate},
      {"dateTime", Shape::kDate},
      {"instant", Shape::kDate},
      {"boolean", Shape::kBoolean},
      {"integer", Shape::kInteger},
      {"decimal", Shape::kDecimal},
      {"uri", Shape::kUri},
      {"string", Shape::kString},
      {"Resource", Shape::kResource},
  };
  for (const auto& [name, shape] : kShapes) {
    if (n == name) return shape;
  }
  return Shape::kOther;
}

// The shape of `t`: its own name or the nearest base's (Age is a Quantity, code a string).
Shape shape_of(const fhir::TypeInfo* t) {
  for (; t != nullptr; t = t->base) {
    if (const Shape s = shape_of_name(t->name); s != Shape::kOther) return s;
  }
  return Shape::kOther;
}

// Which shapes each parameter type indexes.
bool handles(SearchParamType type, Shape s) {
  switch (type) {
    case SearchParamType::kToken:
      return s == Shape::kCoding || s == Shape::kCodeableConcept || s == Shape::kIdentifier ||
             s == Shape::kContactPoint || s == Shape::kBoolean || s == Shape::kString ||
             s == Shape::kUri || s == Shape::kInteger || s == Shape::kDecimal;
    case SearchParamType::kString:
      return s == Shape::kString || s == Shape::kUri || s == Shape::kHumanName ||
             s == Shape::kAddress || s == Shape::kCodeableConcept || s == Shape::kCoding ||
             s == Shape::kIdentifier || s == Shape::kContactPoint;
    case SearchParamType::kDate:
      return s == Shape::kDate || s == Shape::kPeriod || s == Shape::kTiming;
    case SearchParamType::kReference:
      return s == Shape::kReference || s == Shape::kUri || s == Shape::kResource;
    case SearchParamType::kQuantity:
      return s == Shape::kQuantity || s == Shape::kMoney || s == Shape::kRange;
    case SearchParamType::kNumber:
      return s == Shape::kInteger || s == Shape::kDecimal || s == Shape::kRange ||
             s == Shape::kQuantity;
    case SearchParamType::kUri:
      return s == Shape::kUri || s == Shape::kString;
    default:
      return false;
  }
}

struct Param {
  const fhir::SearchParamInfo* info = nullptr;
  std::shared_ptr<const FhirPath> path;  // null when unsupported
  bool supported = false;
  std::string note;
  // For a `code` element with a required binding to one code system (Patient.gender): that
  // system, so that `gender=http://hl7.org/fhir/administrative-gender|male` matches too.
  std::string implicit_system;
  // A supported composite: its components in definition order, each with `info` the
  // component's own SearchParameter and `path` its expression relative to the composite's
  // elements (`path` above). `key` is the index of the token component stored as the row's
  // system and code (the first token of the first two); the other of the first two is the
  // row's value, and a third component, a number, the row's second value.
  std::vector<Param> components;
  size_t key = 0;
};

// The code system of a plain path's `code` element bound (required) to a single system, or "".
std::string implicit_system_of(const fhir::TypeInfo& type, std::string_view expression) {
  std::string_view expr = expression;
  std::string prefix = std::string(type.name) + ".";
  size_t start = 0;
  while (start <= expr.size()) {
    size_t bar = expr.find('|', start);
    std::string_view part =
        expr.substr(start, bar == std::string_view::npos ? expr.size() - start : bar - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.substr(0, prefix.size()) == prefix) {
      std::string_view rest = part.substr(prefix.size());
      const fhir::TypeInfo* t = &type;
      const fhir::ElementInfo* e = nullptr;
      while (!rest.empty()) {
        size_t dot = rest.find('.');
        std::string_view seg = rest.substr(0, dot);
        for (char c : seg) {
          if (!std::isalnum(static_cast<unsigned char>(c))) return "";
        }
        e = t->find_element(seg);
        if (e == nullptr) return "";
        t = e->type;
        rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      }
      if (e != nullptr && e->binding != nullptr && e->binding->systems.size() == 1 &&
          t->primitive == fhir::PrimitiveKind::kCode) {
        return std::string(e->binding->systems[0]);
      }
      return "";
    }
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return "";
}

struct TypeParams {
  std::vector<Param> params;  // sorted by code, as fhir::search_params()
  std::vector<const Param*> extracted;
  // The compartment parameters in owner preference order: patient, subject, then as listed.
  std::vector<std::string_view> owner_order;
};

struct Registry {
  std::unordered_map<std::string_view, TypeParams> types;
  std::unordered_map<const fhir::TypeInfo*, Shape> shapes;
};

// The SearchParameter a composite's component names: by its canonical URL, else by its code.
const fhir::SearchParamInfo* component_info(std::string_view resource_type,
                                            const fhir::SearchParamComponent& c) {
  for (const fhir::SearchParamInfo& q : fhir::search_params(resource_type)) {
    if (!c.definition.empty() && q.url == c.definition) return &q;
  }
  return fhir::find_search_param(resource_type, c.code);
}

// Whether a composite component can be indexed as the value beside its token component.
bool is_composite_value(SearchParamType t) {
  return t == SearchParamType::kToken || t == SearchParamType::kQuantity ||
         t == SearchParamType::kNumber || t == SearchParamType::kDate ||
         t == SearchParamType::kString || t == SearchParamType::kUri ||
         t == SearchParamType::kReference;
}

// The types a component's expression yields on the composite's element `e`. A path from
// %resource (MolecularSequence's `%resource.referenceSeq.chromosome`) is typed from the
// resource itself, as the evaluator resolves it.
core::Result<std::vector<const fhir::TypeInfo*>> component_types(const fhir::TypeInfo& type,
                                                                 const fhir::TypeInfo& e,
                                                                 std::string_view expression,
                                                                 const FhirPath& path) {
  constexpr std::string_view kFromResource = "%resource.";
  if (!expression.starts_with(kFromResource)) return path.result_types(e);
  auto rooted = FhirPath::compile(std::string(type.name) + "." +
                                  std::string(expression.substr(kFromResource.size())));
  if (!rooted.ok()) return std::move(rooted).error();
  return (*rooted)->result_types(type);
}

// FHIR R4 search.html#composite: supported when the first two components are a token and a
// token, quantity, number, date, string, uri or reference (in either order), and a third, if
// any, is a number, and their relative expressions yield indexable values on the composite's
// elements.
Param make_composite(const fhir::TypeInfo& type, const fhir::SearchParamInfo& info) {
  Param p;
  p.info = &info;
  if (info.components.size() != 2 && info.components.size() != 3) {
    p.note = "composite of " + std::to_string(info.components.size()) +
             " components: only two or three are indexed";
    return p;
  }
  auto path = FhirPath::compile(info.expression);
  if (!path.ok()) {
    p.note = path.error().diagnostics;
    return p;
  }
  auto elements = (*path)->result_types(type);
  if (!elements.ok()) {
    p.note = elements.error().diagnostics;
    return p;
  }
  std::vector<Param> components;
  for (size_t i = 0; i < info.components.size(); ++i) {
    const fhir::SearchParamComponent& c = info.components[i];
    const fhir::SearchParamInfo* ci = component_info(type.name, c);
    if (ci == nullptr) {
      p.note = "component '" + std::string(c.code) + "' is not a search parameter of " +
               std::string(type.name);
      return p;
    }
    const std::string kind(fhir::search_param_type_name(ci->type));
    if (i < 2 ? !is_composite_value(ci->type) : ci->type != SearchParamType::kNumber) {
      p.note = "component '" + std::string(ci->code) + "' is a " + kind +
               (i < 2 ? ": not indexed in a composite" : ": a third component must be a number");
      return p;
    }
    auto cpath = FhirPath::compile(c.expression);
    if (!cpath.ok()) {
      p.note = cpath.error().diagnostics;
      return p;
    }
    bool any = false;
    std::string why;
    for (const fhir::TypeInfo* e : *elements) {
      auto types = component_types(type, *e, c.expression, **cpath);
      if (!types.ok()) {
        why = types.error().diagnostics;
        continue;
      }
      for (const fhir::TypeInfo* t : *types) any |= handles(ci->type, shape_of(t));
    }
    if (!any) {
      p.note = "component '" + std::string(ci->code) + "' (" + std::string(c.expression) +
               ") yields no " + kind + " values" + (why.empty() ? "" : ": " + why);
      return p;
    }
    Param cp;
    cp.info = ci;
    // As the component parameter on its own (relation: document-relationship-type).
    if (ci->type == SearchParamType::kToken)
      cp.implicit_system = implicit_system_of(type, ci->expression);
    cp.path = std::move(*cpath);
    cp.supported = true;
    components.push_back(std::move(cp));
  }
  if (components[0].info->type == SearchParamType::kToken) {
    p.key = 0;
  } else if (components[1].info->type == SearchParamType::kToken) {
    p.key = 1;
  } else {
    p.note = "neither of the first two components is a token";
    return p;
  }
  p.supported = true;
  p.path = std::move(*path);
  p.components = std::move(components);
  return p;
}

// FHIR R4 search.html#special: Location `near` indexes Location.position (latitude and
// longitude); no other special parameter has an index row type.
Param make_position(const fhir::TypeInfo& type, const fhir::SearchParamInfo& info) {
  Param p;
  p.info = &info;
  p.note = "special parameter (" + std::string(info.expression) + "): no index row type";
  if (info.code != "near") return p;
  auto path = FhirPath::compile(info.expression);
  if (!path.ok()) return p;
  auto types = (*path)->result_types(type);
  if (!types.ok() || types->size() != 1) return p;
  const fhir::TypeInfo* t = types->front();
  if (t->find_element("latitude") == nullptr || t->find_element("longitude") == nullptr) return p;
  p.note.clear();
  p.supported = true;
  p.path = std::move(*path);
  return p;
}

Param make_param(const fhir::TypeInfo& type, const fhir::SearchParamInfo& info) {
  Param p;
  p.info = &info;
  if (info.type == SearchParamType::kToken) {
    p.implicit_system = implicit_system_of(type, info.expression);
  }
  if (info.code == "_lastUpdated") {
    p.note = "kept by the store from meta.lastUpdated, not extracted";
    return p;
  }
  if (info.type == SearchParamType::kComposite) return make_composite(type, info);
  if (info.type == SearchParamType::kSpecial) return make_position(type, info);
  if (info.expression.empty()) {
    p.note = info.code == "_query" ? "named query, not an indexed value"
                                   : "full-text search: no FHIRPath expression to index";
    return p;
  }
  auto path = FhirPath::compile(info.expression);
  if (!path.ok()) {
    p.note = path.error().diagnostics;
    return p;
  }
  auto types = (*path)->result_types(type);
  if (!types.ok()) {
    p.note = types.error().diagnostics;
    return p;
  }
  std::string unhandled;
  bool any = false;
  for (const fhir::TypeInfo* t : *types) {
    if (handles(info.type, shape_of(t))) {
      any = true;
    } else {
      unhandled += (unhandled.empty() ? "" : ", ") + std::string(t->name);
    }
  }
  if (!any) {
    p.note = unhandled.empty() ? "the expression yields no values"
                               : unhandled + " values are not indexable as " +
                                     std::string(fhir::search_param_type_name(info.type));
    return p;
  }
  p.supported = true;
  p.path = std::move(*path);
  if (!unhandled.empty()) p.note = unhandled + " values are not indexed";
  return p;
}

const Registry& registry() {
  static const Registry* const kRegistry = [] {
    auto* r = new Registry();
    for (const fhir::TypeInfo& t : fhir::all_types()) r->shapes.emplace(&t, shape_of(&t));
    for (std::string_view name : fhir::resource_types()) {
      const fhir::TypeInfo* type = fhir::find_type(name);
      if (type == nullptr) continue;
      TypeParams& tp = r->types[name];
      const auto params = fhir::search_params(name);
      tp.params.reserve(params.size());
      for (const fhir::SearchParamInfo& info : params) tp.params.push_back(make_param(*type, info));
      for (const Param& p : tp.params) {
        if (p.supported) tp.extracted.push_back(&p);
      }
      const auto compartment = fhir::patient_compartment_params(name);
      for (std::string_view preferred : {"patient", "subject"}) {
        if (std::find(compartment.begin(), compartment.end(), preferred) != compartment.end()) {
          tp.owner_order.push_back(preferred);
        }
      }
      for (std::string_view c : compartment) {
        if (c != "patient" && c != "subject") tp.owner_order.push_back(c);
      }
    }
    return r;
  }();
  return *kRegistry;
}

const Param* find_param(std::string_view resource_type, std::string_view code) {
  const Registry& r = registry();
  auto it = r.types.find(resource_type);
  if (it == r.types.end()) return nullptr;
  const auto& params = it->second.params;
  auto p = std::lower_bound(params.begin(), params.end(), code,
                            [](const Param& a, std::string_view c) { return a.info->code < c; });
  if (p == params.end() || p->info->code != code) return nullptr;
  return &*p;
}

// ---------------------------------------------------------------------------------------------

constexpr std::string_view kIso4217 = "urn:iso:std:iso:4217";

std::string_view str(const json::Value& node, std::string_view key) { return node.get_string(key); }

// Emits the rows of one parameter.
class Emitter {
 public:
  Emitter(std::string_view base_url, storage::IndexRows& rows) : base_url_(base_url), rows_(rows) {}

  core::Status emit(const Param& p, const FhirPathItem& item, Shape shape) {
    param_ = p.info->code;
    switch (p.info->type) {
      case SearchParamType::kToken:
        token(item, shape, p.implicit_system);
        return {};
      case SearchParamType::kString:
        string(item, shape);
        return {};
      case SearchParamType::kDate:
        return date(p, item, shape);
      case SearchParamType::kReference:
        reference(item, shape);
        return {};
      case SearchParamType::kQuantity:
        quantity(item, shape);
        return {};
      case SearchParamType::kNumber:
        number(item, shape);
        return {};
      case SearchParamType::kUri:
        if (item.node->is_string() && !item.node->text().empty()) {
          rows_.uris.push_back({std::string(param_), item.node->text()});
        }
        return {};
      default:
        return {};
    }
  }

 private:
  void add_token(std::string_view system, std::string_view code, std::string_view text) {
    if (system.empty() && code.empty() && text.empty()) return;
    rows_.tokens.push_back({std::string(param_), std::string(system), std::string(code),
                            text.empty() ? "" : fold(text)});
  }

  void add_coding(const json::Value& coding) {
    add_token(str(coding, "system"), str(coding, "code"), str(coding, "display"));
  }

  // FHIR R4 search.html#token: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean.
  void token(const FhirPathItem& item, Shape shape, const std::string& implicit_system) {
    const json::Value& v = *item.node;
    switch (shape) {
      case Shape::kCoding:
        add_coding(v);
        return;
      case Shape::kCodeableConcept: {
        if (const json::Value* codings = v.find("coding"); codings && codings->is_array()) {
          for (const json::Value& c : codings->items()) add_coding(c);
        }
        // The text alone still gives a row, so that :text finds it.
        if (const std::string_view text = str(v, "text"); !text.empty()) add_token("", "", text);
        return;
      }
      case Shape::kIdentifier: {
        const std::string_view value = str(v, "value");
        const json::Value* type = v.find("type");
        std::string_view type_text = type != nullptr ? str(*type, "text") : std::string_view();
        add_token(str(v, "system"), value, type_text);
        // FHIR R4 search.html#token: the :of-type modifier searches [type system]|[type
        // code]|value.
        if (type == nullptr || value.empty()) return;
        const json::Value* codings = type->find("coding");
        if (codings == nullptr || !codings->is_array()) return;
        for (const json::Value& c : codings->items()) {
          const std::string_view code = str(c, "code");
          if (code.empty()) continue;
          std::string joined;
          joined.reserve(code.size() + 1 + value.size());
          joined.append(code).append("|").append(value);
          rows_.tokens.push_back({std::string(param_) + ":of-type", std::string(str(c, "system")),
                                  std::move(joined), std::string()});
        }
        return;
      }
      case Shape::kContactPoint:
        if (const std::string_view value = str(v, "value"); !value.empty()) {
          add_token(str(v, "system"), value, "");
        }
        return;
      case Shape::kBoolean:
        if (v.is_bool()) add_token("", v.as_bool() ? "true" : "false", "");
        return;
      default:
        if ((v.is_string() || v.is_number()) && !v.text().empty()) {
          add_token("", v.text(), "");
          if (!implicit_system.empty()) add_token(implicit_system, v.text(), "");
        }
        return;
    }
  }

  void add_string(std::string_view s) {
    if (s.empty()) return;
    rows_.strings.push_back({std::string(param_), fold(s), std::string(s)});
  }
  void add_string_member(const json::Value& v, std::string_view key) {
    const json::Value* m = v.find(key);
    if (m == nullptr) return;
    if (m->is_string()) {
      add_string(m->text());
    } else if (m->is_array()) {
      for (const json::Value& i : m->items()) {
        if (i.is_string()) add_string(i.text());
      }
    }
  }

  // FHIR R4 search.html#string: HumanName and Address search all their parts.
  void string(const FhirPathItem& item, Shape shape) {
    const json::Value& v = *item.node;
    switch (shape) {
      case Shape::kHumanName:
        for (std::string_view k : {"text", "family", "given", "prefix", "suffix"}) {
          add_string_member(v, k);
        }
        return;
      case Shape::kAddress:
        for (std::string_view k :
             {"text", "line", "city", "district", "state", "postalCode", "country"}) {
          add_string_member(v, k);
        }
        return;
      case Shape::kCodeableConcept:
        add_string_member(v, "text");
        if (const json::Value* codings = v.find("coding"); codings && codings->is_array()) {
          for (const json::Value& c : codings->items()) add_string_member(c, "display");
        }
        return;
      case Shape::kCoding:
        add_string_member(v, "display");
        return;
      case Shape::kIdentifier:
      case Shape::kContactPoint:
        add_string_member(v, "value");
        return;
      default:
        if (v.is_string()) add_string(v.text());
        return;
    }
  }

  core::Error bad_date(const Param& p, std::string_view text) const {
    return core::bad_request(core::IssueType::kValue, "invalid date '" + std::string(text) +
                                                          "' in the value of search "
                                                          "parameter '" +
                                                          std::string(p.info->code) + "'")
        .at(std::string(p.info->expression));
  }

  // Adds the range of `text` (may be absent); for Period ends only one side is kept.
  core::Status add_date(const Param& p, const json::Value* text, int64_t* low, int64_t* high) {
    if (text == nullptr || !text->is_string()) return {};
    const std::optional<DateRange> r = date_range(text->text());
    if (!r) return bad_date(p, text->text());
    if (low != nullptr) *low = r->low;
    if (high != nullptr) *high = r->high;
    return {};
  }

  core::Status date(const Param& p, const FhirPathItem& item, Shape shape) {
    const json::Value& v = *item.node;
    switch (shape) {
      case Shape::kDate: {
        int64_t low = 0;
        int64_t high = 0;
        if (!v.is_string()) return {};
        IPA_RETURN_IF_ERROR(add_date(p, &v, &low, &high));
        rows_.dates.push_back({std::string(param_), low, high});
        return {};
      }
      case Shape::kPeriod: {
        // FHIR R4 search.html#date: a Period's range runs from its start to its end; a missing
        // end is open.
        const json::Value* start = v.find("start");
        const json::Value* end = v.find("end");
        if (start == nullptr && end == nullptr) return {};
        int64_t low = std::numeric_limits<int64_t>::min();
        int64_t high = std::numeric_limits<int64_t>::max();
        IPA_RETURN_IF_ERROR(add_date(p, start, &low, nullptr));
        IPA_RETURN_IF_ERROR(add_date(p, end, nullptr, &high));
        rows_.dates.push_back({std::string(param_), low, high});
        return {};
      }
      case Shape::kTiming: {
        const json::Value* events = v.find("event");
        if (events == nullptr || !events->is_array()) return {};
        for (const json::Value& e : events->items()) {
          int64_t low = 0;
          int64_t high = 0;
          if (!e.is_string()) continue;
          IPA_RETURN_IF_ERROR(add_date(p, &e, &low, &high));
          rows_.dates.push_back({std::string(param_), low, high});
        }
        return {};
      }
      default:
        return {};
    }
  }

  // A reference text: "Type/id" (with or without _history), an absolute URL on this server, an
  // absolute URL elsewhere or a urn (url rows), "#id" (contained: not indexed).
  void add_reference(std::string_view ref, bool canonical) {
    if (ref.empty() || ref[0] == '#') return;
    std::string_view local = ref;
    const bool absolute = ref.find("://") != std::string_view::npos || ref.starts_with("urn:");
    if (absolute) {
      if (base_url_.empty() || !ref.starts_with(base_url_) || ref.size() <= base_url_.size() ||
          ref[base_url_.size()] != '/') {
        rows_.references.push_back({std::string(param_), "", "", std::string(ref)});
        return;
      }
      local = ref.substr(base_url_.size() + 1);
    }
    if (canonical) local = local.substr(0, local.find('|'));
    if (const size_t h = local.find("/_history/"); h != std::string_view::npos) {
      local = local.substr(0, h);
    }
    const size_t slash = local.find('/');
    if (slash != std::string_view::npos && slash > 0 && slash + 1 < local.size() &&
        local.find('/', slash + 1) == std::string_view::npos &&
        fhir::is_resource_type(local.substr(0, slash))) {
      rows_.references.push_back({std::string(param_), std::string(local.substr(0, slash)),
                                  std::string(local.substr(slash + 1)), ""});
      return;
    }
    rows_.references.push_back({std::string(param_), "", "", std::string(ref)});
  }

  void reference(const FhirPathItem& item, Shape shape) {
    const json::Value& v = *item.node;
    switch (shape) {
      case Shape::kReference:
        add_reference(str(v, "reference"), false);
        return;
      case Shape::kUri:
        if (v.is_string()) add_reference(v.text(), item.type->name == "canonical");
        return;
      case Shape::kResource: {
        const std::string_view id = str(v, "id");
        const std::string_view type = str(v, "resourceType");
        if (!id.empty() && !type.empty()) {
          rows_.references.push_back({std::string(param_), std::string(type), std::string(id), ""});
        }
        return;
      }
      default:
        return;
    }
  }

  static std::optional<std::pair<double, double>> number_range(const json::Value* n) {
    if (n == nullptr || !n->is_number()) return std::nullopt;
    return decimal_range(n->text());
  }

  // A Range [low, high]: each bound widened by its precision; a missing bound is open.
  static std::optional<std::pair<double, double>> range_bounds(const json::Value& v) {
    const json::Value* low = v.find("low");
    const json::Value* high = v.find("high");
    const auto l = low != nullptr ? number_range(low->find("value")) : std::nullopt;
    const auto h = high != nullptr ? number_range(high->find("value")) : std::nullopt;
    if (!l && !h) return std::nullopt;
    return std::pair{l ? l->first : std::numeric_limits<double>::lowest(),
                     h ? h->second : std::numeric_limits<double>::max()};
  }

  void add_quantity(const json::Value& q, std::pair<double, double> range) {
    std::string_view code = str(q, "code");
    if (code.empty()) code = str(q, "unit");
    rows_.quantities.push_back({std::string(param_), std::string(str(q, "system")),
                                std::string(code), range.first, range.second});
  }

  void quantity(const FhirPathItem& item, Shape shape) {
    const json::Value& v = *item.node;
    switch (shape) {
      case Shape::kQuantity:
        if (const auto r = number_range(v.find("value"))) add_quantity(v, *r);
        return;
      case Shape::kMoney:
        if (const auto r = number_range(v.find("value"))) {
          rows_.quantities.push_back({std::string(param_), std::string(kIso4217),
                                      std::string(str(v, "currency")), r->first, r->second});
        }
        return;
      case Shape::kRange:
        if (const auto r = range_bounds(v)) {
          const json::Value* bound = v.find("low");
          if (bound == nullptr) bound = v.find("high");
          add_quantity(*bound, *r);
        }
        return;
      default:
        return;
    }
  }

  void number(const FhirPathItem& item, Shape shape) {
    const json::Value& v = *item.node;
    std::optional<std::pair<double, double>> r;
    if (shape == Shape::kInteger || shape == Shape::kDecimal) {
      r = number_range(&v);
    } else if (shape == Shape::kRange) {
      r = range_bounds(v);
    } else if (shape == Shape::kQuantity) {
      r = number_range(v.find("value"));
    }
    if (r) rows_.numbers.push_back({std::string(param_), r->first, r->second});
  }

  std::string_view base_url_;
  storage::IndexRows& rows_;
  std::string_view param_;
};

Shape shape_of_item(const FhirPathItem& item) {
  const Registry& r = registry();
  auto known = r.shapes.find(item.type);
  return known != r.shapes.end() ? known->second : shape_of(item.type);
}

// The rows of one parameter for one focus item (the resource, or a composite's element).
core::Status emit_param(const Param& p, const json::Value& resource, const FhirPathItem& focus,
                        Emitter& emitter) {
  for (const FhirPathItem& item : p.path->evaluate(resource, focus)) {
    const Shape shape = shape_of_item(item);
    if (!handles(p.info->type, shape)) continue;
    IPA_RETURN_IF_ERROR(emitter.emit(p, item, shape));
  }
  return {};
}

// The composite values of one component's rows (a component other than the token key).
std::vector<storage::CompositeRow> composite_values(const Param& c, const storage::IndexRows& b) {
  std::vector<storage::CompositeRow> values;
  const std::string_view code = c.info->code;
  auto value = [&](storage::IndexKind kind) {
    storage::CompositeRow v;
    v.value_kind = kind;
    return v;
  };
  switch (c.info->type) {
    case SearchParamType::kToken:
      for (const storage::TokenRow& t : b.tokens) {
        if (t.param != code || t.code.empty()) continue;
        storage::CompositeRow v = value(storage::IndexKind::kToken);
        v.v_system = t.system;
        v.v_code = t.code;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kQuantity:
      for (const storage::QuantityRow& q : b.quantities) {
        storage::CompositeRow v = value(storage::IndexKind::kQuantity);
        v.v_system = q.system;
        v.v_code = q.code;
        v.v_low = q.low;
        v.v_high = q.high;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kNumber:
      for (const storage::NumberRow& n : b.numbers) {
        storage::CompositeRow v = value(storage::IndexKind::kNumber);
        v.v_low = n.low;
        v.v_high = n.high;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kDate:
      for (const storage::DateRow& d : b.dates) {
        storage::CompositeRow v = value(storage::IndexKind::kDate);
        v.v_ilow = d.low;
        v.v_ihigh = d.high;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kString:
      for (const storage::StringRow& t : b.strings) {
        storage::CompositeRow v = value(storage::IndexKind::kString);
        v.v_text = t.normalized;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kUri:
      for (const storage::UriRow& u : b.uris) {
        storage::CompositeRow v = value(storage::IndexKind::kUri);
        v.v_text = u.uri;
        values.push_back(std::move(v));
      }
      break;
    case SearchParamType::kReference:
      for (const storage::ReferenceRow& r : b.references) {
        if (r.param != code) continue;
        storage::CompositeRow v = value(storage::IndexKind::kReference);
        v.v_system = r.target_type;
        v.v_code = r.target_id;
        v.v_text = r.url;
        values.push_back(std::move(v));
      }
      break;
    default:
      break;
  }
  return values;
}

// FHIR R4 search.html#composite: for each element of the composite's expression, every coding
// of its token component paired with every value of its other component (and, for a third
// component, every number of it), so that a search matches all on the same element (the same
// Observation.component, DocumentReference.relatesTo), never across elements.
core::Status emit_composite(const Param& p, const json::Value& resource, const FhirPathItem& root,
                            std::string_view base_url, storage::IndexRows& rows) {
  const Param& key = p.components[p.key];
  const Param& other = p.components[1 - p.key];
  const Param* third = p.components.size() > 2 ? &p.components[2] : nullptr;
  const std::string_view key_code = key.info->code;
  for (const FhirPathItem& element : p.path->evaluate(resource, root)) {
    storage::IndexRows a;
    Emitter ea(base_url, a);
    IPA_RETURN_IF_ERROR(emit_param(key, resource, element, ea));
    if (a.tokens.empty()) continue;
    storage::IndexRows b;
    Emitter eb(base_url, b);
    IPA_RETURN_IF_ERROR(emit_param(other, resource, element, eb));
    std::vector<storage::CompositeRow> values = composite_values(other, b);
    if (third != nullptr) {
      storage::IndexRows n;
      Emitter en(base_url, n);
      IPA_RETURN_IF_ERROR(emit_param(*third, resource, element, en));
      std::vector<storage::CompositeRow> with_third;
      for (const storage::CompositeRow& v : values) {
        for (const storage::NumberRow& r : n.numbers) {
          storage::CompositeRow w = v;
          w.v2_low = r.low;
          w.v2_high = r.high;
          with_third.push_back(std::move(w));
        }
      }
      values = std::move(with_third);
    }
    for (const storage::TokenRow& t : a.tokens) {
      // Text-only rows (a CodeableConcept's text) and :of-type rows name no code to pair.
      if (t.param != key_code || t.code.empty()) continue;
      for (const storage::CompositeRow& v : values) {
        storage::CompositeRow row = v;
        row.param = std::string(p.info->code);
        row.system = t.system;
        row.code = t.code;
        rows.composites.push_back(std::move(row));
      }
    }
  }
  return {};
}

// FHIR R4 search.html#special: a Location.position in range as a point and its unit vector.
// Positions outside [-90, 90] x [-180, 180] are not indexed.
void emit_position(const Param& p, const json::Value& resource, const FhirPathItem& root,
                   storage::IndexRows& rows) {
  constexpr double kRadians = 3.14159265358979323846 / 180;
  auto degrees = [](const json::Value* v) -> std::optional<double> {
    if (v == nullptr || !v->is_number()) return std::nullopt;
    const std::string_view text = v->text();
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return d;
  };
  for (const FhirPathItem& item : p.path->evaluate(resource, root)) {
    const auto lat = degrees(item.node->find("latitude"));
    const auto lon = degrees(item.node->find("longitude"));
    if (!lat || !lon || std::abs(*lat) > 90 || std::abs(*lon) > 180) continue;
    storage::PositionRow r;
    r.param = std::string(p.info->code);
    r.latitude = *lat;
    r.longitude = *lon;
    r.x = std::cos(*lat * kRadians) * std::cos(*lon * kRadians);
    r.y = std::cos(*lat * kRadians) * std::sin(*lon * kRadians);
    r.z = std::sin(*lat * kRadians);
    rows.positions.push_back(std::move(r));
  }
}

// A reference to a resource on this server as its type and id (an absolute one under
// `base_url` included); nullopt for a contained (#id), versioned, urn: or foreign reference.
std::optional<std::pair<std::string_view, std::string_view>> local_reference(
    std::string_view ref, std::string_view base_url) {
  if (!base_url.empty() && ref.size() > base_url.size() + 1 &&
      ref.substr(0, base_url.size()) == base_url && ref[base_url.size()] == '/') {
    ref.remove_prefix(base_url.size() + 1);
  }
  size_t slash = ref.find('/');
  if (slash == std::string_view::npos || slash == 0 || ref.find("://") != std::string_view::npos ||
      ref.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{ref.substr(0, slash), ref.substr(slash + 1)};
}

void fill_compartment(std::string_view type, const json::Value& resource, const TypeParams& tp,
                      std::string_view base_url, storage::IndexRows& rows) {
  const auto compartment = fhir::patient_compartment_params(type);
  if (type == "Patient") {
    if (const std::string_view id = resource.get_string("id"); !id.empty()) {
      rows.owner_patient = std::string(id);
      rows.compartment_patients.push_back(rows.owner_patient);
    }
  }
  if (type == "Binary") {
    // Binary is outside every compartment, but a securityContext naming a Patient makes it that
    // patient's (FHIR R4 binary.html#security): owned by the patient, so its rows stay with the
    // patient's under a store sharded by owner, and listed as a member, as every owner is
    // (docs/scale-out.md). A securityContext naming another resource (a DocumentReference)
    // leaves it unowned: finding that resource's owner would need the store.
    const json::Value* sc = resource.find("securityContext");
    if (sc != nullptr && sc->is_object()) {
      auto target = local_reference(sc->get_string("reference"), base_url);
      if (target && target->first == "Patient" && !target->second.empty()) {
        rows.owner_patient = std::string(target->second);
        rows.compartment_patients.push_back(rows.owner_patient);
      }
    }
    return;
  }
  if (compartment.empty()) return;
  for (const storage::ReferenceRow& r : rows.references) {
    if (r.target_type != "Patient" || r.target_id.empty()) continue;
    if (std::find(compartment.begin(), compartment.end(), r.param) == compartment.end()) continue;
    rows.compartment_patients.push_back(r.target_id);
  }
  std::sort(rows.compartment_patients.begin(), rows.compartment_patients.end());
  rows.compartment_patients.erase(
      std::unique(rows.compartment_patients.begin(), rows.compartment_patients.end()),
      rows.compartment_patients.end());
  if (!rows.owner_patient.empty()) return;
  for (std::string_view param : tp.owner_order) {
    for (const storage::ReferenceRow& r : rows.references) {
      if (r.param == param && r.target_type == "Patient" && !r.target_id.empty()) {
        rows.owner_patient = r.target_id;
        return;
      }
    }
  }
}

}  // namespace

namespace {

// Every local reference of the resource, whether or not a search parameter covers its element
// (e.g. DocumentReference.custodian), under the pseudo-parameter kAllReferences: access control
// uses them to decide which supporting resources a patient's record reaches (R39).
void add_all_references(const json::Value& v, std::string_view base_url, storage::IndexRows& rows) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.members()) {
      if (k == "reference" && child.is_string()) {
        auto target = local_reference(child.text(), base_url);
        if (!target) continue;  // contained (#id), absolute elsewhere, urn:, or versioned
        rows.references.push_back({std::string(kAllReferences), std::string(target->first),
                                   std::string(target->second), ""});
      } else if (k != "contained") {
        add_all_references(child, base_url, rows);
      }
    }
  } else if (v.is_array()) {
    for (const auto& item : v.items()) add_all_references(item, base_url, rows);
  }
}

}  // namespace

core::Result<storage::IndexRows> extract(const json::Value& resource,
                                         const ExtractOptions& options) {
  const std::string_view type = resource.is_object() ? resource.get_string("resourceType") : "";
  const Registry& r = registry();
  auto it = type.empty() ? r.types.end() : r.types.find(type);
  if (it == r.types.end()) {
    return core::bad_request(core::IssueType::kStructure, "the resource has no known resourceType")
        .at("resourceType");
  }
  const TypeParams& tp = it->second;
  std::string_view base_url = options.base_url;
  while (base_url.ends_with('/')) base_url.remove_suffix(1);

  storage::IndexRows rows;
  Emitter emitter(base_url, rows);
  const fhir::TypeInfo* resource_type = fhir::find_type(type);
  const FhirPathItem root{&resource, resource_type};
  for (const Param* p : tp.extracted) {
    if (p->info->type == SearchParamType::kComposite) {
      IPA_RETURN_IF_ERROR(emit_composite(*p, resource, root, base_url, rows));
    } else if (p->info->type == SearchParamType::kSpecial) {
      emit_position(*p, resource, root, rows);
    } else {
      IPA_RETURN_IF_ERROR(emit_param(*p, resource, root, emitter));
    }
  }
  fill_compartment(type, resource, tp, base_url, rows);
  add_all_references(resource, base_url, rows);
  return rows;
}

bool is_supported(std::string_view resource_type, std::string_view code) {
  const Param* p = find_param(resource_type, code);
  return p != nullptr && p->supported;
}

std::vector<const fhir::SearchParamInfo*> composite_components(std::string_view resource_type,
                                                               std::string_view code) {
  std::vector<const fhir::SearchParamInfo*> out;
  const Param* p = find_param(resource_type, code);
  if (p == nullptr || !p->supported) return out;
  for (const Param& c : p->components) out.push_back(c.info);
  return out;
}

size_t composite_key(std::string_view resource_type, std::string_view code) {
  const Param* p = find_param(resource_type, code);
  return p != nullptr && p->supported ? p->key : 0;
}

ParamSupport param_support(std::string_view resource_type, std::string_view code) {
  const Param* p = find_param(resource_type, code);
  if (p == nullptr) return ParamSupport{false, "unknown search parameter"};
  return ParamSupport{p->supported, p->note};
}

}  // namespace ipa::search
