#include "auth/scope.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "core/percent.h"

namespace ipa::auth {
namespace {

using core::Result;

core::Error invalid(std::string_view scope, std::string_view why) {
  return core::bad_request(core::IssueType::kValue,
                           "Invalid scope '" + std::string(scope) + "': " + std::string(why));
}

// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
bool valid_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
}

bool is_resource_type(std::string_view t) {
  if (t == "*") return true;
  if (t.empty() || t[0] < 'A' || t[0] > 'Z') return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

// v2 letters, each at most once, in c-r-u-d-s order (S63: `.sr`, `.dus` are not read loosely).
bool parse_v2_letters(std::string_view p, uint8_t& bits) {
  static constexpr std::string_view kOrder = "cruds";
  static constexpr std::array<uint8_t, 5> kBits = {kPermCreate, kPermRead, kPermUpdate, kPermDelete,
                                                   kPermSearch};
  if (p.empty()) return false;
  size_t next = 0;
  bits = 0;
  for (char c : p) {
    size_t at = kOrder.find(c, next);
    if (at == std::string_view::npos) return false;
    bits |= kBits[at];
    next = at + 1;
  }
  return true;
}

Result<std::vector<QueryConstraint>> parse_query(std::string_view scope, std::string_view q) {
  std::vector<QueryConstraint> out;
  if (q.empty()) return invalid(scope, "an empty query after '?'");
  size_t start = 0;
  while (start <= q.size()) {
    size_t amp = q.find('&', start);
    std::string_view part = q.substr(start, amp == std::string_view::npos ? q.npos : amp - start);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == part.size()) {
      return invalid(scope, "each query part must be param=value");
    }
    std::string_view param = part.substr(0, eq);
    // SMART App Launch: experimental features; modifiers, chains and _filter are unsupported
    // (S65, project decision).
    if (param == "_filter") return invalid(scope, "_filter is not supported");
    for (char c : param) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
      if (!ok) return invalid(scope, "search modifiers and chaining are not supported");
    }
    QueryConstraint qc;
    qc.param = std::string(param);
    // '+' stays a plus: a scope is not a form body.
    std::optional<std::string> value = core::percent_decode(part.substr(eq + 1));
    if (!value) return invalid(scope, "bad percent-encoding in the query");
    qc.value = std::move(*value);
    out.push_back(std::move(qc));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

Result<Scope> parse_clinical(std::string_view text, Level level, std::string_view rest) {
  Scope s;
  s.kind = ScopeKind::kClinical;
  s.text = std::string(text);
  s.level = level;
  size_t q = rest.find('?');
  std::string_view body = rest.substr(0, q);
  size_t dot = body.find('.');
  if (dot == std::string_view::npos) return invalid(text, "expected <type>.<permissions>");
  std::string_view type = body.substr(0, dot);
  std::string_view perms = body.substr(dot + 1);
  if (!is_resource_type(type)) return invalid(text, "not a resource type or '*'");
  s.resource_type = std::string(type);
  // S62: v1 names map onto v2 letters; v1 is tried first so `.read` is never r + d (S63).
  if (perms == "read") {
    s.v1 = true;
    s.permissions = kPermRead | kPermSearch;
  } else if (perms == "write") {
    s.v1 = true;
    s.permissions = kPermCreate | kPermUpdate | kPermDelete;
  } else if (perms == "*") {
    s.v1 = true;
    s.permissions = kPermCreate | kPermRead | kPermUpdate | kPermDelete | kPermSearch;
  } else if (!parse_v2_letters(perms, s.permissions)) {
    return invalid(text, "permissions must be read, write, * or letters of 'cruds' in order");
  }
  if (q != std::string_view::npos) {
    if (s.v1) return invalid(text, "a query needs v2 permissions");
    auto query = parse_query(text, rest.substr(q + 1));
    IPA_RETURN_IF_ERROR(query);
    s.query = std::move(query).value();
  }
  return s;
}

bool type_matches(const Scope& s, std::string_view type) {
  return s.resource_type == "*" || s.resource_type == type;
}

// Granted constraints are looser than (or equal to) requested ones when each is requested.
bool constraints_subset(const std::vector<QueryConstraint>& granted,
                        const std::vector<QueryConstraint>& requested) {
  return std::all_of(granted.begin(), granted.end(), [&](const QueryConstraint& g) {
    return std::find(requested.begin(), requested.end(), g) != requested.end();
  });
}

std::string humanize_type(std::string_view type) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"Observation", "lab results, vital signs and other observations"},
      {"Condition", "conditions and health problems"},
      {"AllergyIntolerance", "allergies and intolerances"},
      {"MedicationRequest", "medication prescriptions"},
      {"MedicationStatement", "medication records"},
      {"Medication", "medication details"},
      {"Immunization", "immunizations"},
      {"DocumentReference", "clinical documents"},
      {"Patient", "demographic details (name, birth date, contact details)"},
      {"Practitioner", "care provider details"},
      {"PractitionerRole", "care provider roles"},
      {"Encounter", "visits"},
      {"Procedure", "procedures"},
      {"DiagnosticReport", "test reports"},
  };
  for (const auto& [name, words] : kNames) {
    if (name == type) return std::string(words);
  }
  std::string out;  // CamelCase to lower-case words: "CarePlan" -> "care plan records"
  for (char c : type) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out += ' ';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out + " records";
}

}  // namespace

uint8_t permission_for(Interaction interaction) {
  switch (interaction) {
    case Interaction::kCreate:
      return kPermCreate;
    case Interaction::kRead:
      return kPermRead;
    case Interaction::kUpdate:
      return kPermUpdate;
    case Interaction::kDelete:
      return kPermDelete;
    case Interaction::kSearch:
      return kPermSearch;
  }
  return 0;
}

Result<Scope> parse_scope(std::string_view text) {
  if (text.empty()) return invalid(text, "empty");
  for (char c : text) {
    if (!valid_token_char(c)) return invalid(text, "a character outside the scope-token set");
  }
  Scope s;
  s.text = std::string(text);
  static const std::pair<std::string_view, ScopeKind> kFixed[] = {
      {"launch", ScopeKind::kLaunch},
      {"launch/patient", ScopeKind::kLaunchPatient},
      {"openid", ScopeKind::kOpenid},
      {"fhirUser", ScopeKind::kFhirUser},
      {"profile", ScopeKind::kProfile},
      {"offline_access", ScopeKind::kOfflineAccess},
      {"online_access", ScopeKind::kOnlineAccess},
  };
  for (const auto& [name, kind] : kFixed) {
    if (text == name) {
      s.kind = kind;
      return s;
    }
  }
  if (text.starts_with("launch/")) {
    s.kind = ScopeKind::kLaunchOther;  // launch/encounter and other launch/<type>
    return s;
  }
  static const std::pair<std::string_view, Level> kLevels[] = {
      {"patient/", Level::kPatient}, {"user/", Level::kUser}, {"system/", Level::kSystem}};
  for (const auto& [prefix, level] : kLevels) {
    if (text.starts_with(prefix)) return parse_clinical(text, level, text.substr(prefix.size()));
  }
  s.kind = ScopeKind::kOpaque;  // SMART: extension scopes; RFC 6749 allows ignoring them
  return s;
}

Result<ScopeSet> ScopeSet::parse(std::string_view text) {
  ScopeSet set;
  size_t start = 0;
  while (start < text.size()) {
    size_t sp = text.find(' ', start);
    size_t end = sp == std::string_view::npos ? text.size() : sp;
    if (end > start) {
      auto scope = parse_scope(text.substr(start, end - start));
      IPA_RETURN_IF_ERROR(scope);
      if (!set.has_text(scope->text)) set.scopes_->push_back(std::move(scope).value());
    }
    start = end + 1;
  }
  return set;
}

bool ScopeSet::has(ScopeKind kind) const {
  return std::any_of(scopes_->begin(), scopes_->end(),
                     [kind](const Scope& s) { return s.kind == kind; });
}

bool ScopeSet::has_text(std::string_view text) const {
  return std::any_of(scopes_->begin(), scopes_->end(),
                     [text](const Scope& s) { return s.text == text; });
}

bool ScopeSet::has_patient_level() const {
  return std::any_of(scopes_->begin(), scopes_->end(), [](const Scope& s) {
    return s.kind == ScopeKind::kClinical && s.level == Level::kPatient;
  });
}

std::string ScopeSet::str() const {
  std::string out;
  for (const Scope& s : *scopes_) {
    if (!out.empty()) out += ' ';
    out += s.text;
  }
  return out;
}

ScopeSet ScopeSet::subset(const std::vector<std::string>& keep) const {
  ScopeSet out;
  for (const Scope& s : *scopes_) {
    if (std::find(keep.begin(), keep.end(), s.text) != keep.end()) out.scopes_->push_back(s);
  }
  return out;
}

bool Access::unrestricted_for(std::string_view patient) const {
  return std::any_of(permits.begin(), permits.end(), [patient](const Permit& p) {
    return p.constraints.empty() &&
           std::find(p.patients.begin(), p.patients.end(), patient) != p.patients.end();
  });
}

Access ScopeSet::check(Interaction interaction, std::string_view resource_type,
                       const AccessContext& context) const {
  uint8_t bit = permission_for(interaction);
  Access access;
  for (const Scope& s : *scopes_) {
    if (s.kind != ScopeKind::kClinical || (s.permissions & bit) == 0) continue;
    if (!type_matches(s, resource_type)) continue;
    Permit p;
    p.level = s.level;
    if (s.level == Level::kPatient) {
      if (context.patient.empty()) continue;  // no patient in context: nothing to confine to
      p.patients = {context.patient};
    } else if (s.level == Level::kUser) {
      // No patients known for the user: nothing to confine to, so nothing is allowed.
      if (context.user_patients.empty()) continue;
      p.patients = context.user_patients;
    } else {
      // SMART Backend Services: system/ scopes reach every resource of the type (no patients).
      p.patients.clear();
    }
    p.constraints = s.query;
    access.permits.push_back(std::move(p));
  }
  // An unconstrained permit makes every constrained one of the same level redundant (S64).
  for (Level level : {Level::kPatient, Level::kUser, Level::kSystem}) {
    bool open = std::any_of(access.permits.begin(), access.permits.end(), [&](const Permit& p) {
      return p.level == level && p.constraints.empty();
    });
    if (!open) continue;
    bool kept_open = false;
    std::erase_if(access.permits, [&](const Permit& p) {
      if (p.level != level) return false;
      if (p.constraints.empty() && !kept_open) {
        kept_open = true;
        return false;
      }
      return true;
    });
  }
  return access;
}

bool ScopeSet::covers(const ScopeSet& requested) const {
  for (const Scope& r : *requested.scopes_) {
    if (r.kind != ScopeKind::kClinical) {
      if (!has_text(r.text)) return false;
      continue;
    }
    for (uint8_t bit = kPermCreate; bit <= kPermSearch; bit <<= 1) {
      if ((r.permissions & bit) == 0) continue;
      bool covered = std::any_of(scopes_->begin(), scopes_->end(), [&](const Scope& g) {
        return g.kind == ScopeKind::kClinical && g.level == r.level &&
               (g.resource_type == "*" || g.resource_type == r.resource_type) &&
               (g.permissions & bit) != 0 && constraints_subset(g.query, r.query);
      });
      if (!covered) return false;
    }
  }
  return true;
}

std::string describe(const Scope& scope) {
  switch (scope.kind) {
    case ScopeKind::kLaunch:
      return "Open from within the patient portal and receive its current context";
    case ScopeKind::kLaunchPatient:
      return "Know which patient record you choose to share";
    case ScopeKind::kLaunchOther:
      return "Know the " + scope.text.substr(7) + " you are working with";
    case ScopeKind::kOpenid:
      return "Confirm your identity (sign you in)";
    case ScopeKind::kFhirUser:
    case ScopeKind::kProfile:
      return "Know who you are: a link to your own record";
    case ScopeKind::kOfflineAccess:
      return "Keep access after you close the app, until you revoke it";
    case ScopeKind::kOnlineAccess:
      return "Keep access while you stay signed in";
    case ScopeKind::kOpaque:
      return "Other permission requested by the app: " + scope.text;
    case ScopeKind::kClinical:
      break;
  }
  static const std::pair<uint8_t, std::string_view> kVerbs[] = {{kPermRead, "read"},
                                                                {kPermSearch, "search"},
                                                                {kPermCreate, "add to"},
                                                                {kPermUpdate, "change"},
                                                                {kPermDelete, "delete"}};
  std::vector<std::string_view> verbs;
  for (const auto& [bit, verb] : kVerbs) {
    if (scope.permissions & bit) verbs.push_back(verb);
  }
  std::string out;
  for (size_t i = 0; i < verbs.size(); ++i) {
    if (i > 0) out += i + 1 == verbs.size() ? " and " : ", ";
    out += verbs[i];
  }
  if (!out.empty()) out[0] = static_cast<char>(out[0] - 'a' + 'A');
  if (scope.level == Level::kSystem) {
    out += " every patient's ";
  } else {
    out +=
        scope.level == Level::kPatient ? " the selected patient's " : " the records you can see: ";
  }
  if (scope.resource_type == "*") {
    out += "health data of every kind, including kinds of data added in the future";
  } else {
    out += humanize_type(scope.resource_type);
  }
  for (size_t i = 0; i < scope.query.size(); ++i) {
    const QueryConstraint& q = scope.query[i];
    std::string_view value = q.value;
    size_t bar = value.rfind('|');
    if (bar != std::string_view::npos) value = value.substr(bar + 1);  // system|code: the code
    out += i == 0 ? " (only those whose " : " and whose ";
    out += q.param + " is " + std::string(value);
  }
  if (!scope.query.empty()) out += ")";
  // Write access is spelled out: it changes the record itself, not only what the app sees.
  if (scope.permissions & (kPermCreate | kPermUpdate | kPermDelete)) {
    out +=
        ". The app can change this record: what it adds or changes becomes part of it, and "
        "what it deletes is removed";
  }
  return out;
}

}  // namespace ipa::auth
