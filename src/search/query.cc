#include "search/query.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "fhir/model.h"
#include "search/extract.h"
#include "search/text.h"
#include "search/values.h"

namespace ipa::search {
namespace {

using storage::Clause;
using storage::Condition;
using storage::IndexKind;
using storage::Prefix;

core::Error bad(const std::string& name, const std::string& why) {
  return core::bad_request(core::IssueType::kInvalid, "Search parameter '" + name + "': " + why)
      .at(name);
}

struct Name {
  std::string code;      // e.g. "subject"
  std::string modifier;  // e.g. "Patient", "exact", "missing"
  std::string chain;     // e.g. "name" in subject:Patient.name
};

Name split_name(const std::string& raw) {
  Name n;
  std::string head = raw;
  size_t dot = raw.find('.');
  if (dot != std::string::npos) {
    head = raw.substr(0, dot);
    n.chain = raw.substr(dot + 1);
  }
  size_t colon = head.find(':');
  n.code = head.substr(0, colon);
  if (colon != std::string::npos) n.modifier = head.substr(colon + 1);
  return n;
}

// The two-letter prefix of a date/number/quantity value (FHIR R4 search.html#prefix).
Prefix take_prefix(std::string& v) {
  static const std::pair<const char*, Prefix> kPrefixes[] = {
      {"eq", Prefix::kEq}, {"ne", Prefix::kNe}, {"gt", Prefix::kGt},
      {"lt", Prefix::kLt}, {"ge", Prefix::kGe}, {"le", Prefix::kLe},
      {"sa", Prefix::kSa}, {"eb", Prefix::kEb}, {"ap", Prefix::kAp}};
  if (v.size() > 2 && std::isalpha(static_cast<unsigned char>(v[0])) &&
      std::isalpha(static_cast<unsigned char>(v[1]))) {
    for (const auto& [text, p] : kPrefixes) {
      if (v.compare(0, 2, text) == 0) {
        v.erase(0, 2);
        return p;
      }
    }
  }
  return Prefix::kEq;
}

IndexKind kind_of(fhir::SearchParamType t) {
  switch (t) {
    case fhir::SearchParamType::kToken:
      return IndexKind::kToken;
    case fhir::SearchParamType::kString:
      return IndexKind::kString;
    case fhir::SearchParamType::kDate:
      return IndexKind::kDate;
    case fhir::SearchParamType::kReference:
      return IndexKind::kReference;
    case fhir::SearchParamType::kQuantity:
      return IndexKind::kQuantity;
    case fhir::SearchParamType::kNumber:
      return IndexKind::kNumber;
    case fhir::SearchParamType::kUri:
      return IndexKind::kUri;
    case fhir::SearchParamType::kComposite:
      return IndexKind::kComposite;
    case fhir::SearchParamType::kSpecial:
      return IndexKind::kPosition;
    default:
      return IndexKind::kToken;
  }
}

class Parser {
 public:
  Parser(const std::string& type, const QueryOptions& o) : type_(type), o_(o) {}

  // Parses one `name=value` into a clause. Returns false (with ignored_ set) for parameters to
  // skip; errors for malformed values.
  core::Result<std::optional<Clause>> clause(const std::string& raw_name, const std::string& value,
                                             const std::string& type);

  std::vector<std::string> ignored;

 private:
  core::Result<Condition> value_condition(const std::string& name, const Name& n,
                                          const fhir::SearchParamInfo& p, const std::string& v,
                                          const std::string& type);
  core::Result<Condition> reference(const std::string& name, const Name& n,
                                    const fhir::SearchParamInfo& p, const std::string& v);
  core::Result<Condition> near(const std::string& name, const std::string& v);

  const std::string& type_;
  const QueryOptions& o_;
};

core::Result<std::optional<Clause>> Parser::clause(const std::string& raw_name,
                                                   const std::string& value,
                                                   const std::string& type) {
  Name n = split_name(raw_name);
  const fhir::SearchParamInfo* p = fhir::find_search_param(type, n.code);
  auto skip = [&](const std::string& why) -> core::Result<std::optional<Clause>> {
    if (o_.strict) return bad(raw_name, why);
    ignored.push_back(raw_name + ": " + why);
    return std::optional<Clause>();
  };
  if (p == nullptr) return skip("not a search parameter of " + type);
  if (n.code != "_id" && n.code != "_lastUpdated" && !is_supported(type, n.code)) {
    return skip("not supported by this server");
  }
  IndexKind kind = kind_of(p->type);
  if (n.code == "_id") kind = IndexKind::kId;
  if (n.code == "_lastUpdated") kind = IndexKind::kLastUpdated;

  Clause c;
  if (n.modifier == "missing") {
    if (value != "true" && value != "false") return bad(raw_name, "must be true or false");
    Condition m;
    m.kind = kind;
    m.param = n.code;
    m.missing = value == "true";
    c.any_of.push_back(std::move(m));
    return std::optional<Clause>(std::move(c));
  }
  if (!n.chain.empty() && kind != IndexKind::kReference) {
    return bad(raw_name, "only reference parameters can be chained");
  }
  // Modifiers this server understands, per type (FHIR R4 search.html#modifiers).
  bool known = n.modifier.empty();
  switch (kind) {
    case IndexKind::kToken:
      if (n.modifier == "not") {
        c.negate = true;
        known = true;
      }
      known |= n.modifier == "text" || (n.modifier == "of-type" && p->code == "identifier");
      break;
    case IndexKind::kString:
      known |= n.modifier == "exact" || n.modifier == "contains";
      break;
    case IndexKind::kUri:
      known |= n.modifier == "below" || n.modifier == "above";
      break;
    case IndexKind::kReference:
      known |= !n.modifier.empty() && fhir::is_resource_type(n.modifier);
      break;
    case IndexKind::kId:
      if (n.modifier == "not") {
        c.negate = true;
        known = true;
      }
      break;
    default:
      break;
  }
  if (!known) {
    if (n.modifier == "above" || n.modifier == "below" || n.modifier == "in" ||
        n.modifier == "not-in" || n.modifier == "identifier" || n.modifier == "iterate") {
      return skip("modifier :" + n.modifier + " is not supported");
    }
    return bad(raw_name, "unknown modifier :" + n.modifier);
  }
  for (const std::string& part : split_unescaped(value, ',')) {
    if (part.empty()) return bad(raw_name, "empty value");
    auto cond = value_condition(raw_name, n, *p, part, type);
    if (!cond.ok()) return std::move(cond).error();
    cond->param = n.code;
    // `ne` is a negation of the whole value (FHIR R4 search.html#prefix).
    c.any_of.push_back(std::move(*cond));
  }
  return std::optional<Clause>(std::move(c));
}

core::Result<Condition> Parser::reference(const std::string& name, const Name& n,
                                          const fhir::SearchParamInfo& p, const std::string& raw) {
  Condition c;
  c.kind = IndexKind::kReference;
  std::string v = unescape(raw);
  std::string base = o_.base_url + "/";
  if (!o_.base_url.empty() && v.compare(0, base.size(), base) == 0) v = v.substr(base.size());
  if (v.find("://") != std::string::npos || v.rfind("urn:", 0) == 0) {
    c.url = v;
    return c;
  }
  size_t slash = v.find('/');
  if (slash != std::string::npos) {
    c.target_type = v.substr(0, slash);
    c.target_id = v.substr(slash + 1);
    if (size_t h = c.target_id.find("/_history/"); h != std::string::npos) c.target_id.resize(h);
    if (!fhir::is_resource_type(c.target_type)) {
      return bad(name, "'" + c.target_type + "' is not a resource type");
    }
  } else {
    c.target_id = v;
    if (!n.modifier.empty()) {
      c.target_type = n.modifier;
    } else if (p.targets.size() == 1) {
      c.target_type = std::string(p.targets[0]);
    }
  }
  if (!n.modifier.empty() && c.target_type != n.modifier) {
    return bad(name, "the value's type differs from the :" + n.modifier + " modifier");
  }
  if (c.target_id.empty()) return bad(name, "the reference has no id");
  return c;
}

// FHIR R4 search.html#special: Location near=latitude|longitude|distance|units. The distance
// defaults to kNearDefaultKm, the units to km; km, m and [mi_i] (UCUM) are understood.
constexpr double kNearDefaultKm = 10;
constexpr double kEarthRadiusKm = 6371.0088;  // the mean radius (IUGG)

core::Result<Condition> Parser::near(const std::string& name, const std::string& raw) {
  constexpr double kPi = 3.14159265358979323846;
  constexpr double kRadians = kPi / 180;
  auto pieces = split_unescaped(raw, '|');
  if (pieces.size() < 2 || pieces.size() > 4) {
    return bad(name, "expects latitude|longitude|distance|units, e.g. 42.2565|-83.6948|10|km");
  }
  auto number = [&](size_t i) -> std::optional<double> {
    const std::string text = unescape(pieces[i]);
    if (!decimal_range(text)) return std::nullopt;
    return std::stod(text);
  };
  const auto lat = number(0);
  const auto lon = number(1);
  if (!lat || std::abs(*lat) > 90) return bad(name, "the latitude must be a number in [-90, 90]");
  if (!lon || std::abs(*lon) > 180) {
    return bad(name, "the longitude must be a number in [-180, 180]");
  }
  double km = kNearDefaultKm;
  if (pieces.size() > 2 && !pieces[2].empty()) {
    const auto d = number(2);
    if (!d || *d < 0) return bad(name, "the distance must be a non-negative number");
    const std::string units = pieces.size() > 3 ? unescape(pieces[3]) : "";
    if (units.empty() || units == "km") {
      km = *d;
    } else if (units == "m") {
      km = *d / 1000;
    } else if (units == "[mi_i]" || units == "mi") {
      km = *d * 1.609344;
    } else {
      return bad(name, "units '" + units + "' are not km, m or [mi_i]");
    }
  } else if (pieces.size() > 3 && !pieces[3].empty()) {
    return bad(name, "units without a distance");
  }
  // The angle at the earth's center; beyond half the circumference every point is near.
  const double angle = std::min(km / kEarthRadiusKm, kPi);
  Condition c;
  c.kind = IndexKind::kPosition;
  c.x = std::cos(*lat * kRadians) * std::cos(*lon * kRadians);
  c.y = std::cos(*lat * kRadians) * std::sin(*lon * kRadians);
  c.z = std::sin(*lat * kRadians);
  // A point at exactly the distance passes despite rounding in the dot product.
  c.min_dot = std::cos(angle) - 1e-15;
  // The bounding box, a little wider than the circle; the dot product decides.
  const double margin = 1e-9;
  const double dlat = angle / kRadians + margin;
  c.lat_min = std::max(-90.0, *lat - dlat);
  c.lat_max = std::min(90.0, *lat + dlat);
  c.lon_min = -180;
  c.lon_max = 180;
  if (c.lat_min > -90 && c.lat_max < 90) {
    // The widest longitude span of the circle, at latitude asin(sin(lat) / cos(angle)).
    const double dlon =
        std::asin(std::min(1.0, std::sin(angle) / std::cos(*lat * kRadians))) / kRadians + margin;
    if (*lon - dlon >= -180 && *lon + dlon <= 180) {
      c.lon_min = *lon - dlon;
      c.lon_max = *lon + dlon;
    }
  }
  return c;
}

core::Result<Condition> Parser::value_condition(const std::string& name, const Name& n,
                                                const fhir::SearchParamInfo& p,
                                                const std::string& part, const std::string& type) {
  Condition c;
  switch (p.type) {
    case fhir::SearchParamType::kToken: {
      if (n.code == "_id") {
        c.kind = IndexKind::kId;
        c.text = unescape(part);
        return c;
      }
      c.kind = IndexKind::kToken;
      if (n.modifier == "text") {
        c.text_search = true;
        c.text = fold(unescape(part));
        return c;
      }
      auto pieces = split_unescaped(part, '|');
      if (n.modifier == "of-type") {
        // identifier:of-type=system|code|value (FHIR R4 search.html#token)
        if (pieces.size() != 3) return bad(name, "expects system|code|value");
        c.param = n.code + ":of-type";
        c.system = unescape(pieces[0]);
        c.code = unescape(pieces[1]) + "|" + unescape(pieces[2]);
        return c;
      }
      if (pieces.size() == 1) {
        c.code = unescape(pieces[0]);
      } else if (pieces.size() == 2) {
        c.system = unescape(pieces[0]);
        std::string code = unescape(pieces[1]);
        if (!code.empty()) c.code = code;
        if (c.system->empty() && !c.code) return bad(name, "'|' alone is not a token");
      } else {
        return bad(name, "a token is code, system|code, |code or system|");
      }
      return c;
    }
    case fhir::SearchParamType::kString:
      c.kind = IndexKind::kString;
      if (n.modifier == "exact") {
        c.string_mode = storage::StringMode::kExact;
        c.text = unescape(part);
      } else {
        c.string_mode = n.modifier == "contains" ? storage::StringMode::kContains
                                                 : storage::StringMode::kStartsWith;
        c.text = fold(unescape(part));
      }
      return c;
    case fhir::SearchParamType::kUri:
      c.kind = IndexKind::kUri;
      c.text = unescape(part);
      c.uri_mode = n.modifier == "below"   ? storage::UriMode::kBelow
                   : n.modifier == "above" ? storage::UriMode::kAbove
                                           : storage::UriMode::kExact;
      return c;
    case fhir::SearchParamType::kDate: {
      std::string v = unescape(part);
      c.prefix = take_prefix(v);
      auto r = date_range(v);
      if (!r) {
        return bad(name, "'" + v + "' is not a date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)");
      }
      c.kind = n.code == "_lastUpdated" ? IndexKind::kLastUpdated : IndexKind::kDate;
      c.low = r->low;
      c.high = r->high;
      if (c.prefix == Prefix::kAp) {
        // Approximately: within 10 % of the distance from now (FHIR R4 search.html#prefix).
        int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        int64_t gap = std::llabs(now - c.low) / 10;
        c.low -= gap;
        c.high += gap;
        c.prefix = Prefix::kAp;
      }
      return c;
    }
    case fhir::SearchParamType::kNumber:
    case fhir::SearchParamType::kQuantity: {
      std::string v = unescape(part);
      auto pieces = split_unescaped(part, '|');
      std::string number = unescape(pieces[0]);
      c.prefix = take_prefix(number);
      auto r = decimal_range(number);
      if (!r) return bad(name, "'" + number + "' is not a number");
      c.kind = p.type == fhir::SearchParamType::kNumber ? IndexKind::kNumber : IndexKind::kQuantity;
      c.dlow = r->first;
      c.dhigh = r->second;
      if (c.kind == IndexKind::kQuantity) {
        if (pieces.size() == 3) {
          c.unit_system = unescape(pieces[1]);
          c.unit_code = unescape(pieces[2]);
        } else if (pieces.size() != 1) {
          return bad(name, "a quantity is number, or number|system|code");
        }
      } else if (pieces.size() != 1) {
        return bad(name, "'" + v + "' is not a number");
      }
      return c;
    }
    case fhir::SearchParamType::kReference: {
      if (!n.chain.empty()) {
        // One level of chaining: subject:Patient.name=x (FHIR R4 search.html#chaining).
        std::vector<std::string> targets;
        if (!n.modifier.empty()) {
          targets.push_back(n.modifier);
        } else {
          for (auto t : p.targets) targets.emplace_back(t);
        }
        if (targets.size() != 1) {
          return bad(name, "the chain is ambiguous; name the target type, e.g. " + n.code +
                               ":Patient." + n.chain);
        }
        if (n.chain.find('.') != std::string::npos) {
          return bad(name, "only one level of chaining is supported");
        }
        Parser inner(targets[0], o_);
        auto cl = inner.clause(n.chain, part, targets[0]);
        if (!cl.ok()) return std::move(cl).error();
        if (!*cl) return bad(name, inner.ignored.empty() ? "unsupported chain" : inner.ignored[0]);
        c.kind = IndexKind::kReference;
        c.chain = std::make_shared<storage::SearchPlan>();
        c.chain->resource_type = targets[0];
        c.chain->all_of.push_back(std::move(**cl));
        c.chain->count = 10000;
        return c;
      }
      return reference(name, n, p, part);
    }
    case fhir::SearchParamType::kComposite: {
      // FHIR R4 search.html#composite: the components' values joined by '$', each in its
      // component's own syntax (prefixes apply to numbers, quantities and dates; references take
      // id, Type/id or an absolute URL); `\$` is a literal dollar.
      const auto components = composite_components(type, n.code);
      const size_t key = composite_key(type, n.code);
      auto pieces = split_unescaped(part, '$');
      if (components.empty() || pieces.size() != components.size()) {
        std::string form;
        for (const fhir::SearchParamInfo* ci : components) {
          form += (form.empty() ? "" : "$") + std::string(ci->code);
        }
        return bad(name, "a value is " + form + ": " + std::to_string(components.size()) +
                             " parts separated by '$'");
      }
      std::vector<Condition> parts;
      for (size_t i = 0; i < components.size(); ++i) {
        if (pieces[i].empty()) return bad(name, "every part of a composite value must be given");
        const Name component{std::string(components[i]->code), "", ""};
        auto v = value_condition(name, component, *components[i], pieces[i], type);
        if (!v.ok()) return std::move(v).error();
        v->param = component.code;
        parts.push_back(std::move(*v));
      }
      c = std::move(parts[key]);
      c.kind = IndexKind::kComposite;
      c.value = std::make_shared<const Condition>(std::move(parts[1 - key]));
      if (parts.size() > 2) c.value2 = std::make_shared<const Condition>(std::move(parts[2]));
      return c;
    }
    case fhir::SearchParamType::kSpecial:
      return near(name, part);
    default:
      break;
  }
  return bad(name, "parameters of this type are not supported");
}

// The path of a reference parameter's expression without its Patient filter, so that `patient`
// (Observation.subject.where(resolve() is Patient)) and `subject` (Observation.subject) compare
// equal.
std::string without_patient_filter(std::string_view expression) {
  std::string out(expression);
  const std::string filter = ".where(resolve() is Patient)";
  for (size_t at = out.find(filter); at != std::string::npos; at = out.find(filter, at)) {
    out.erase(at, filter.size());
  }
  return out;
}

// Whether a reference to Patient/[id] through `param` puts the resource in that patient's
// compartment (FHIR R4 compartmentdefinition-patient): `param` is one of the type's compartment
// parameters, or names the same element (Observation `patient` is `subject` restricted to
// Patient).
bool implies_compartment(const std::string& type, const std::string& param) {
  const auto compartment = fhir::patient_compartment_params(type);
  if (std::find(compartment.begin(), compartment.end(), param) != compartment.end()) return true;
  const fhir::SearchParamInfo* p = fhir::find_search_param(type, param);
  if (p == nullptr || p->expression.empty()) return false;
  const std::string path = without_patient_filter(p->expression);
  for (std::string_view c : compartment) {
    const fhir::SearchParamInfo* q = fhir::find_search_param(type, c);
    if (q != nullptr && without_patient_filter(q->expression) == path) return true;
  }
  return false;
}

// SearchPlan::routing_patient: the patient of a clause that requires one reference to
// Patient/[id] on a parameter that implies compartment membership (patient=, subject=Patient/..),
// or of Patient?_id=[id].
std::optional<std::string> named_patient(const std::string& type,
                                         const std::vector<storage::Clause>& all_of) {
  for (const storage::Clause& c : all_of) {
    if (c.negate || c.any_of.size() != 1) continue;
    const storage::Condition& d = c.any_of[0];
    // Patient?_id=x: a Patient is in its own compartment.
    if (type == "Patient" && d.kind == IndexKind::kId && !d.missing && !d.text.empty()) {
      return d.text;
    }
    if (d.kind != IndexKind::kReference || d.missing || d.chain || !d.url.empty() ||
        d.target_type != "Patient" || d.target_id.empty()) {
      continue;
    }
    if (implies_compartment(type, d.param)) return d.target_id;
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> split_unescaped(const std::string& value, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      out.back().push_back(c);
      out.back().push_back(value[++i]);
    } else if (c == sep) {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

std::string unescape(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() &&
        (value[i + 1] == ',' || value[i + 1] == '|' || value[i + 1] == '$' ||
         value[i + 1] == '\\')) {
      ++i;
    }
    out.push_back(value[i]);
  }
  return out;
}

core::Result<ParsedSearch> parse_search(const std::string& type, const Params& params,
                                        const QueryOptions& o) {
  ParsedSearch out;
  out.plan.resource_type = type;
  out.plan.count = o.default_count;
  Parser parser(type, o);
  auto skip = [&](const std::string& name, const std::string& why) -> core::Status {
    if (o.strict) return bad(name, why);
    out.ignored.push_back(name + ": " + why);
    return {};
  };
  for (const auto& [name, value] : params) {
    if (name == "_format" || name == "_pretty") continue;  // handled by the REST layer
    if (name == "_cursor") {
      out.cursor = value;
      continue;
    }
    if (name == "_count") {
      if (value.empty() || value.size() > 9 ||
          !std::all_of(value.begin(), value.end(),
                       [](char ch) { return ch >= '0' && ch <= '9'; })) {
        return bad(name, "must be a non-negative integer");
      }
      out.plan.count = std::min(std::stoi(value), o.max_count);
      out.applied.emplace_back(name, std::to_string(out.plan.count));
      continue;
    }
    if (name == "_total") {
      if (value == "none") {
        out.total = TotalMode::kNone;
      } else if (value == "estimate") {
        out.total = TotalMode::kEstimate;
      } else if (value == "accurate") {
        out.total = TotalMode::kAccurate;
      } else {
        return bad(name, "must be none, estimate or accurate");
      }
      out.applied.emplace_back(name, value);
      continue;
    }
    if (name == "_summary") {
      if (value != "true" && value != "false" && value != "text" && value != "data" &&
          value != "count") {
        return bad(name, "must be true, false, text, data or count");
      }
      out.summary = value;
      out.applied.emplace_back(name, value);
      continue;
    }
    if (name == "_elements") {
      for (const std::string& e : split_unescaped(value, ',')) {
        if (!e.empty()) out.elements.push_back(e);
      }
      out.applied.emplace_back(name, value);
      continue;
    }
    if (name == "_sort") {
      for (const std::string& key : split_unescaped(value, ',')) {
        storage::SortKey k;
        std::string code = key;
        if (!code.empty() && code[0] == '-') {
          k.descending = true;
          code.erase(0, 1);
        }
        if (code == "_id") {
          k.kind = IndexKind::kId;
        } else if (code == "_lastUpdated") {
          k.kind = IndexKind::kLastUpdated;
        } else {
          const fhir::SearchParamInfo* p = fhir::find_search_param(type, code);
          if (p == nullptr || !is_supported(type, code) ||
              p->type == fhir::SearchParamType::kComposite ||
              p->type == fhir::SearchParamType::kSpecial) {
            IPA_RETURN_IF_ERROR(skip(name, "cannot sort on '" + code + "'"));
            continue;
          }
          k.kind = kind_of(p->type);
          k.param = code;
        }
        if (k.kind == IndexKind::kId) {
          if (k.descending) {
            return bad(name, "_id sorts ascending only (it is the final tie-break)");
          }
          continue;
        }
        out.plan.sort.push_back(std::move(k));
      }
      out.applied.emplace_back(name, value);
      continue;
    }
    if (name == "_include" || name == "_revinclude" || name == "_include:iterate" ||
        name == "_revinclude:iterate") {
      bool rev = name.rfind("_revinclude", 0) == 0;
      Include inc;
      inc.iterate = name.find(":iterate") != std::string::npos;
      auto pieces = split_unescaped(value, ':');
      if (value == "*" && !rev) {
        inc.source_type = type;
        inc.param = "*";
      } else if (pieces.size() == 2 || pieces.size() == 3) {
        inc.source_type = pieces[0];
        inc.param = pieces[1];
        if (pieces.size() == 3) inc.target_type = pieces[2];
      } else {
        return bad(name, "expects Type:parameter or Type:parameter:TargetType");
      }
      if (!fhir::is_resource_type(inc.source_type)) {
        return bad(name, "'" + inc.source_type + "' is not a resource type");
      }
      if (inc.param != "*") {
        const fhir::SearchParamInfo* p = fhir::find_search_param(inc.source_type, inc.param);
        if (p == nullptr || p->type != fhir::SearchParamType::kReference) {
          return bad(name,
                     "'" + inc.param + "' is not a reference parameter of " + inc.source_type);
        }
      }
      if (!rev && !inc.iterate && inc.source_type != type) {
        IPA_RETURN_IF_ERROR(skip(name, "_include source type differs from " + type));
        continue;
      }
      (rev ? out.revincludes : out.includes).push_back(std::move(inc));
      out.applied.emplace_back(name, value);
      continue;
    }
    if (name == "_contained" || name == "_containedType" || name == "_text" || name == "_content" ||
        name == "_list" || name == "_has" || name == "_query" || name == "_filter" ||
        name == "_type") {
      IPA_RETURN_IF_ERROR(skip(name, "not supported by this server"));
      continue;
    }
    auto c = parser.clause(name, value, type);
    if (!c.ok()) return std::move(c).error();
    if (!*c) continue;
    out.plan.all_of.push_back(std::move(**c));
    out.applied.emplace_back(name, value);
  }
  for (std::string& s : parser.ignored) out.ignored.push_back(std::move(s));
  out.plan.routing_patient = named_patient(type, out.plan.all_of);
  return out;
}

}  // namespace ipa::search
