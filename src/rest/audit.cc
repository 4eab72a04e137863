// The audit trail on the REST side (see internal/audit.h). AuditEvent resources are synthesised
// from the auth_audit rows on read: nothing is indexed or stored as a FHIR resource on the hot
// path, and the rows carry no token, code, password or search value. FHIR R4 auditevent.html.
#include "rest/internal/audit.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "audit/audit_log.h"
#include "core/percent.h"
#include "fhir/outcome.h"
#include "rest/internal/path.h"
#include "rest/internal/smart.h"
#include "search/values.h"

namespace ipa::rest::internal {
namespace {

using json::Value;

Value str(std::string s) { return Value::string(std::move(s)); }

Value coding(const char* system, const std::string& code, const std::string& display) {
  Value c = Value::object();
  c.set("system", str(system));
  c.set("code", str(code));
  if (!display.empty()) c.set("display", str(display));
  return c;
}

constexpr const char* kDcm = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* kEventType = "http://terminology.hl7.org/CodeSystem/audit-event-type";
constexpr const char* kInteraction = "http://hl7.org/fhir/restful-interaction";
// Subtypes of the authorization events that no standard code system names.
constexpr const char* kAuthSubtype = "urn:ipa-server:audit-subtype";

// The names of the parameters of a query (each once, in order); never their values.
std::string param_names(const Params& params) {
  std::vector<std::string> names;
  for (const auto& [k, v] : params) {
    if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  }
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

bool is_fhir_interaction(const std::string& type) {
  return type != "authorize" && type != "login" && type != "consent" && type != "token" &&
         type != "revoke" && type != "register";
}

// FHIR R4 AuditEventAction: C R U D E (search and operations are E, "execute").
const char* action_of(const std::string& type) {
  if (type == "create") return "C";
  if (type == "read" || type == "vread" || type == "history-instance" || type == "history-type")
    return "R";
  if (type == "update" || type == "patch") return "U";
  if (type == "delete") return "D";
  return "E";
}

// FHIR R4 AuditEventOutcome: 0 success, 4 minor failure (the client's), 8 serious (ours).
const char* outcome_code(const storage::AuditEvent& e) {
  if (e.status >= 500) return "8";
  if (e.status >= 400 || e.outcome == "failure") return "4";
  return "0";
}

Value to_fhir(const State& s, const storage::AuditEvent& e) {
  Value r = Value::object();
  r.set("resourceType", str("AuditEvent"));
  r.set("id", str(std::to_string(e.id)));
  Value meta = Value::object();
  meta.set("lastUpdated", str(core::format_instant(e.time)));
  r.set("meta", std::move(meta));
  Value subtype = Value::array();
  if (is_fhir_interaction(e.type)) {
    r.set("type", coding(kEventType, "rest", "RESTful Operation"));
    subtype.push_back(coding(kInteraction, e.type, ""));
  } else {
    r.set("type", coding(kDcm, "110114", "User Authentication"));
    if (e.type == "login") {
      subtype.push_back(coding(kDcm, "110122", "Login"));
    } else {
      subtype.push_back(coding(kAuthSubtype, e.type, ""));
    }
  }
  r.set("subtype", std::move(subtype));
  r.set("action", str(action_of(e.type)));
  if (e.count > 1) {
    // Folded reads (audit/audit_log.h): the period from the first request to the last.
    Value period = Value::object();
    period.set("start", str(core::format_instant(e.time)));
    period.set("end", str(core::format_instant(std::max(e.time, e.last_time))));
    r.set("period", std::move(period));
  }
  r.set("recorded", str(core::format_instant(e.time)));
  r.set("outcome", str(outcome_code(e)));
  std::string desc = e.outcome;
  if (e.status != 0) desc += " (HTTP " + std::to_string(e.status) + ")";
  if (e.count > 1) desc += ", " + std::to_string(e.count) + " requests";
  if (!e.detail.empty() && !is_fhir_interaction(e.type)) desc += ": " + e.detail;
  r.set("outcomeDesc", str(desc));

  Value agents = Value::array();
  if (!e.client_id.empty()) {
    Value app = Value::object();
    Value type = Value::object();
    type.set("coding", Value::array({coding(kDcm, "110150", "Application")}));
    app.set("type", std::move(type));
    Value who = Value::object();
    Value id = Value::object();
    id.set("system", str("urn:ietf:params:oauth:client-id"));
    id.set("value", str(e.client_id));
    who.set("identifier", std::move(id));
    who.set("display", str(e.client_id));
    app.set("who", std::move(who));
    app.set("requestor", Value::boolean(e.username.empty()));
    agents.push_back(std::move(app));
  }
  if (!e.username.empty()) {
    Value user = Value::object();
    Value who = Value::object();
    Value id = Value::object();
    id.set("system", str(s.auth->auth_base + "/users"));
    id.set("value", str(e.username));
    who.set("identifier", std::move(id));
    who.set("display", str(e.username));
    user.set("who", std::move(who));
    user.set("requestor", Value::boolean(true));
    agents.push_back(std::move(user));
  }
  if (agents.items().empty()) {  // agent is 1..*: the server acted on its own
    Value server = Value::object();
    Value who = Value::object();
    who.set("display", str("ipa-server"));
    server.set("who", std::move(who));
    server.set("requestor", Value::boolean(false));
    agents.push_back(std::move(server));
  }
  r.set("agent", std::move(agents));

  Value source = Value::object();
  source.set("site", str(e.node));
  Value observer = Value::object();
  observer.set("display", str("ipa-server " + e.node));
  source.set("observer", std::move(observer));
  source.set("type",
             Value::array({coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                                  "Application Server")}));
  r.set("source", std::move(source));

  Value entities = Value::array();
  if (!e.patient.empty()) {
    Value p = Value::object();
    Value what = Value::object();
    what.set("reference", str("Patient/" + e.patient));
    p.set("what", std::move(what));
    p.set("type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"));
    p.set("role", coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"));
    entities.push_back(std::move(p));
  }
  // One entity per resource id (several when reads were folded), or one naming only the type.
  std::vector<std::string_view> ids;
  for (size_t start = 0; start < e.resource_id.size();) {
    size_t end = e.resource_id.find(' ', start);
    if (end == std::string::npos) end = e.resource_id.size();
    if (end > start) ids.push_back(std::string_view(e.resource_id).substr(start, end - start));
    start = end + 1;
  }
  if (ids.empty()) ids.emplace_back();
  for (std::string_view id : e.resource_type.empty() ? std::vector<std::string_view>{} : ids) {
    Value t = Value::object();
    if (!id.empty()) {
      Value what = Value::object();
      what.set("reference", str(e.resource_type + "/" + std::string(id)));
      t.set("what", std::move(what));
    }
    t.set("type",
          coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"));
    bool query = e.type == "search-type" || e.type == "operation";
    t.set("role", query ? coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query")
                        : coding("http://terminology.hl7.org/CodeSystem/object-role", "4",
                                 "Domain Resource"));
    t.set("name", str(e.resource_type));
    if (!e.detail.empty()) {
      Value d = Value::object();
      d.set("type", str(query ? "parameters" : "detail"));
      d.set("valueString", str(e.detail));
      t.set("detail", Value::array({std::move(d)}));
    }
    entities.push_back(std::move(t));
  }
  if (!entities.items().empty()) r.set("entity", std::move(entities));
  return r;
}

// The patient a FHIR interaction concerns: the token's, else the Patient named by the path
// `Patient/[id]...` (not `Patient/_history`, `Patient/_search` or `Patient/$op`). `type` and
// `second` are the path's first two segments (empty when missing). Returns a view into `claims`
// or `second`; allocates nothing, as the read fast path of audit_fhir needs.
std::string_view patient_of(const auth::AccessTokenClaims& claims, std::string_view type,
                            std::string_view second) {
  if (!claims.patient.empty()) return claims.patient;
  if (type == "Patient" && !second.empty() && second[0] != '_' && second[0] != '$') return second;
  return {};
}

std::string basic_client_id(const http::Request& req) {
  std::string h = req.header("Authorization");
  if (h.size() < 6 || strncasecmp(h.c_str(), "Basic ", 6) != 0) return "";
  // RFC 7617: base64(user-id ":" password); only the part before ':' is kept.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : std::string_view(h).substr(6)) {
    size_t d = kAlphabet.find(c);
    if (d == std::string_view::npos) continue;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char ch = static_cast<char>((acc >> bits) & 0xff);
      if (ch == ':') return out;
      out.push_back(ch);
    }
  }
  return "";  // no ':' : not a client_id:secret pair
}

// The `error` member of an RFC 6749 section 5.2 error body, or "".
std::string oauth_error_code(const std::string& body) {
  auto v = json::parse(body);
  if (!v.ok() || !v->is_object()) return "";
  return std::string(v->get_string("error"));
}

Params form_params(const http::Request& req) {
  Params out;
  auto q = parse_query(req.query);
  if (q.ok()) out = std::move(*q);
  if (req.method == "POST") {
    auto b = parse_query(req.body);
    if (b.ok()) out.insert(out.end(), b->begin(), b->end());
  }
  return out;
}

}  // namespace

void record_audit(State& s, storage::AuditEvent event) {
  if (!s.auth || !s.auth->audit) return;
  if (event.time == core::TimePoint()) event.time = s.clock->now();
  s.auth->audit->record(std::move(event));
}

void audit_fhir(State& s, const http::Request& req, const auth::AccessTokenClaims& claims,
                int status) {
  if (!s.auth || !s.auth->audit) return;
  const std::string& bp = s.options.base_path;
  // The common case, GET [base]/[type]/[id] without a query, goes to the trail as views
  // (audit::AuditLog::record_read folds it into the previous read without building an event);
  // it is the same event the general path below records.
  if ((req.method == "GET" || req.method == "HEAD") && req.query.empty() &&
      req.path.size() > bp.size() && req.path[bp.size()] == '/') {
    std::string_view rest = std::string_view(req.path).substr(bp.size() + 1);
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0 && slash + 1 < rest.size() &&
        rest.find('/', slash + 1) == std::string_view::npos) {
      std::string_view type = rest.substr(0, slash);
      std::string_view id = rest.substr(slash + 1);
      if (id[0] != '_' && id[0] != '$') {
        audit::AuditLog::ReadView v;
        v.time = s.clock->now();
        v.type = "read";
        v.client_id = claims.client_id;
        v.username = claims.sub;
        v.patient = patient_of(claims, type, id);
        v.outcome = status < 400 ? "success" : "failure";
        v.resource_type = type;
        v.resource_id = id;
        v.status = status;
        s.auth->audit->record_read(v);
        return;
      }
    }
  }
  // Views into req.path: the vector is the only allocation.
  std::vector<std::string_view> p =
      split_path<std::string_view>(std::string_view(req.path).substr(bp.size()));
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  storage::AuditEvent e;
  e.client_id = claims.client_id;
  e.username = claims.sub;
  e.patient = p.size() >= 2 ? patient_of(claims, p[0], p[1]) : patient_of(claims, {}, {});
  e.status = status;
  e.outcome = status < 400 ? "success" : "failure";
  Params query;
  if (!req.query.empty()) {
    auto q = parse_query(req.query);
    if (q.ok()) query = std::move(*q);
  }
  if (p.empty()) {
    e.type = method == "POST" ? "batch" : "unknown";
  } else if (p.size() == 1) {
    e.resource_type = p[0];
    e.type = method == "POST" ? "create" : "search-type";
  } else if (p.size() == 2 && p[1] == "_search") {
    e.resource_type = p[0];
    e.type = "search-type";
    auto form = parse_query(req.body);
    if (form.ok()) query.insert(query.end(), form->begin(), form->end());
  } else if (p.size() == 2 && p[1] == "_history") {
    e.resource_type = p[0];
    e.type = "history-type";
  } else if (p.size() == 2 && p[1][0] == '$') {
    e.resource_type = p[0];
    e.type = "operation";
    e.detail = p[1];
  } else if (p.size() == 2) {
    e.resource_type = p[0];
    e.resource_id = p[1];
    e.type = method == "PUT"      ? "update"
             : method == "DELETE" ? "delete"
             : method == "PATCH"  ? "patch"
                                  : "read";
  } else if (p.size() == 3 && p[2][0] == '$') {
    e.resource_type = p[0];
    e.resource_id = p[1];
    e.type = "operation";
    e.detail = p[2];
  } else if (p.size() == 3 && p[2] == "_history") {
    e.resource_type = p[0];
    e.resource_id = p[1];
    e.type = "history-instance";
  } else if (p.size() == 4 && p[2] == "_history") {
    e.resource_type = p[0];
    e.resource_id = p[1];
    e.type = "vread";
  } else if (p.size() == 3 && p[0] == "Patient") {
    e.resource_type = p[2];  // compartment search Patient/[id]/[type]
    e.type = "search-type";
    query.insert(query.begin(), {"patient", ""});
  } else {
    e.type = "unknown";
  }
  if (!query.empty()) {
    std::string names = param_names(query);
    e.detail = e.detail.empty() ? names : e.detail + " " + names;
  }
  record_audit(s, std::move(e));
}

void audit_auth(State& s, const http::Request& req, const std::string& sub,
                const http::Response& r) {
  if (!s.auth || req.method == "OPTIONS") return;
  storage::AuditEvent e;
  e.status = r.status;
  if (sub == "authorize") {
    // Only errors sent back to a known client: an unknown client or redirect_uri gets an error
    // page (nothing to attribute), and a redirect to the login page is not a decision yet.
    std::string location;
    for (const http::Header& h : r.headers) {
      if (h.name == "Location") location = h.value;
    }
    if (r.status != 303 || location.rfind(s.auth->auth_base, 0) == 0) return;
    size_t at = location.find("error=");
    if (at == std::string::npos) return;
    e.type = "authorize";
    e.outcome = "failure";
    size_t end = location.find('&', at);
    e.detail = location.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
    e.client_id = std::string(param(form_params(req), "client_id"));
  } else if (sub == "login" || sub == "manage") {
    if (req.method != "POST") return;
    Params p = form_params(req);
    // The management page's form signs in when it carries a username (else it revokes a
    // grant, recorded in smart.cc).
    if (sub == "manage" && !has_param(p, "username")) return;
    e.type = "login";
    e.username = std::string(param(p, "username"));  // never the password
    e.outcome = r.status == 303 ? "success" : "failure";
    e.detail = r.status == 429 ? "throttled" : "";
    if (sub == "manage") e.detail += e.detail.empty() ? "management page" : " (management page)";
  } else if (sub == "token") {
    Params p = form_params(req);
    std::string grant_type(param(p, "grant_type"));
    // Successes are recorded in smart.cc, where the grant is known.
    if (r.status < 400) return;
    e.type = "token";
    e.outcome = "failure";
    e.client_id = std::string(param(p, "client_id"));
    if (e.client_id.empty()) e.client_id = basic_client_id(req);
    e.detail = grant_type.empty() ? std::string("no grant_type") : grant_type;
    e.detail += ": " + oauth_error_code(r.body);
  } else if (sub == "revoke") {
    e.type = "revoke";
    e.outcome = r.status < 400 ? "success" : "failure";
    Params p = form_params(req);
    e.client_id = std::string(param(p, "client_id"));
    if (e.client_id.empty()) e.client_id = basic_client_id(req);
    e.detail = r.status < 400 ? "RFC 7009" : "RFC 7009: " + oauth_error_code(r.body);
  } else if (sub == "register") {
    if (r.status < 400) return;  // recorded in smart.cc with the new client_id
    e.type = "register";
    e.outcome = "failure";
    e.detail = oauth_error_code(r.body);
  } else {
    return;
  }
  record_audit(s, std::move(e));
}

namespace {

// One event as FHIR, with _summary / _elements applied as on any resource (FHIR R4
// search.html#summary, #elements): the subset is marked SUBSETTED.
core::Result<Value> shaped_event(State& s, const storage::AuditEvent& e, const Shape& shape) {
  Value v = to_fhir(s, e);
  if (!shape.subsets()) return v;
  Shape subset = shape;
  subset.pretty = false;
  auto text = shaped(json::write(v), subset);
  if (!text.ok()) return std::move(text).error();
  return json::parse(*text);
}

http::Response bundle_response(State& s, const std::vector<storage::AuditEvent>& page,
                               const std::string& self, const std::string& next,
                               const Shape& shape) {
  Value b = Value::object();
  b.set("resourceType", str("Bundle"));
  Value meta = Value::object();
  meta.set("lastUpdated", str(core::format_instant(s.clock->now())));
  b.set("meta", std::move(meta));
  b.set("type", str("searchset"));
  Value links = Value::array();
  auto link = [&](const char* rel, const std::string& url) {
    Value l = Value::object();
    l.set("relation", str(rel));
    l.set("url", str(url));
    links.push_back(std::move(l));
  };
  link("self", self);
  if (!next.empty()) link("next", next);
  b.set("link", std::move(links));
  Value entries = Value::array();
  for (const storage::AuditEvent& e : page) {
    Value entry = Value::object();
    entry.set("fullUrl", str(s.options.base_url + "/AuditEvent/" + std::to_string(e.id)));
    auto resource = shaped_event(s, e, shape);
    if (!resource.ok()) return error_response(resource.error(), shape.pretty);
    entry.set("resource", std::move(*resource));
    Value search = Value::object();
    search.set("mode", str("match"));
    entry.set("search", std::move(search));
    entries.push_back(std::move(entry));
  }
  if (!entries.items().empty()) b.set("entry", std::move(entries));
  return json_response(200, json::write(b, json::WriteOptions{.pretty = shape.pretty}));
}

core::Error bad(std::string why) {
  return core::bad_request(core::IssueType::kInvalid, std::move(why));
}

// A `patient` search value: "id", "Patient/id" or an absolute URL ending in Patient/id.
std::string patient_value(std::string_view v) {
  size_t at = v.rfind("Patient/");
  if (at != std::string_view::npos) v = v.substr(at + 8);
  return std::string(v);
}

// Applies one `date` value (FHIR R4 search.html#prefix: eq ge gt le lt) to the query bounds.
core::Status apply_date(std::string_view value, storage::AuditQuery& q) {
  std::string prefix = "eq";
  if (value.size() > 2 && std::isalpha(static_cast<unsigned char>(value[0])) &&
      std::isalpha(static_cast<unsigned char>(value[1]))) {
    prefix = std::string(value.substr(0, 2));
    value = value.substr(2);
  }
  auto range = search::date_range(value);
  if (!range) return bad("date: '" + std::string(value) + "' is not a FHIR date or dateTime.");
  // TimePoint counts nanoseconds (years 1677-2262): clamp far dates instead of overflowing.
  auto at = [](int64_t ms) {
    constexpr int64_t kLimit = 9'000'000'000'000;  // ms, about the year 2255
    return core::TimePoint(std::chrono::milliseconds(std::clamp(ms, -kLimit, kLimit)));
  };
  auto raise = [&](int64_t ms) { q.since = q.since ? std::max(*q.since, at(ms)) : at(ms); };
  auto lower = [&](int64_t ms) { q.until = q.until ? std::min(*q.until, at(ms)) : at(ms); };
  if (prefix == "eq") {
    raise(range->low);
    lower(range->high - 1);
  } else if (prefix == "ge") {
    raise(range->low);
  } else if (prefix == "gt") {
    raise(range->high);
  } else if (prefix == "le") {
    lower(range->high - 1);
  } else if (prefix == "lt") {
    lower(range->low - 1);
  } else {
    return bad("date: the prefix '" + prefix + "' is not supported here (eq, ge, gt, le, lt).");
  }
  return {};
}

core::Result<int64_t> parse_int(std::string_view v, const char* name) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return bad(std::string(name) + ": '" + std::string(v) + "' is not a non-negative integer.");
  }
  return n;
}

http::Response refused_write() {
  return error_response(core::method_not_allowed(
      "AuditEvent resources are recorded by the server: the audit trail is append-only and "
      "cannot be created, changed or deleted through the API."));
}

}  // namespace

http::Response audit_events(State& s, const std::string& method,
                            const std::vector<std::string>& parts, const Params& query,
                            const std::string& body, const Shape& shape, bool strict,
                            const Caller* caller, const std::string& compartment_patient) {
  bool search_post = method == "POST" && parts.size() == 2 && parts[1] == "_search";
  if (method != "GET" && !search_post) return refused_write();
  Params params = query;
  if (search_post) {
    auto form = parse_query(body);
    if (!form.ok()) return error_response(form.error(), shape.pretty);
    params.insert(params.end(), form->begin(), form->end());
  }
  if (!s.auth || !s.auth->audit) {
    return error_response(core::not_found(
        "This server keeps an audit trail only when access control is on; there are no "
        "AuditEvent resources."));
  }
  bool read = parts.size() == 2 && !search_post && compartment_patient.empty();
  if (caller == nullptr || caller->patient.empty()) {
    return bearer_challenge(core::forbidden(
        "AuditEvent is available to a patient-context grant (patient/AuditEvent.rs or "
        "patient/*.rs): it shows who accessed that patient's record."));
  }
  auto allowed =
      allow(*caller, read ? auth::Interaction::kRead : auth::Interaction::kSearch, "AuditEvent");
  if (!allowed.ok()) return bearer_challenge(allowed.error());

  if (read) {
    auto id = parse_int(parts[1], "id");
    auto hidden = [&] {
      return error_response(core::not_found("Resource AuditEvent/" + parts[1] + " is not known."));
    };
    if (!id.ok() || *id == 0) return hidden();
    auto e = s.auth->store->get_audit(*id);
    if (!e.ok() && e.error().http_status == 404) return hidden();
    if (!e.ok()) return error_response(e.error(), shape.pretty);
    // Another patient's event looks like one that does not exist (R30).
    if (e->patient != caller->patient) return hidden();
    auto resource = shaped_event(s, *e, shape);
    if (!resource.ok()) return error_response(resource.error(), shape.pretty);
    return json_response(200, json::write(*resource, json::WriteOptions{.pretty = shape.pretty}));
  }
  if (parts.size() > 2 || (parts.size() == 2 && !search_post)) {
    return error_response(core::not_found("No such AuditEvent endpoint."));
  }

  storage::AuditQuery q;
  q.patient = caller->patient;
  q.limit = s.options.default_count;
  bool other_patient = !compartment_patient.empty() && compartment_patient != caller->patient;
  std::string self_query;
  for (const auto& [name, value] : params) {
    bool kept = true;
    if (name == "patient" || name == "patient:Patient" || name == "entity" ||
        name == "entity:Patient") {
      // Several values are OR-ed: the grant's patient must be one of them, else nothing (R30).
      bool mine = false;
      size_t start = 0;
      std::string_view all(value);
      while (start <= all.size()) {
        size_t comma = all.find(',', start);
        std::string_view one =
            all.substr(start, comma == std::string_view::npos ? all.npos : comma - start);
        mine |= patient_value(one) == caller->patient;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      other_patient |= !mine;
    } else if (name == "date") {
      if (auto st = apply_date(value, q); !st.ok()) return error_response(st.error(), shape.pretty);
    } else if (name == "_count") {
      auto n = parse_int(value, "_count");
      if (!n.ok()) return error_response(n.error(), shape.pretty);
      q.limit = static_cast<int>(std::min<int64_t>(*n, s.options.max_count));
    } else if (name == "_cursor") {
      auto n = parse_int(value, "_cursor");
      if (!n.ok() || *n == 0) {
        return error_response(bad("_cursor: not a cursor of this AuditEvent search."),
                              shape.pretty);
      }
      q.before_id = *n;
      kept = false;  // the next link sets its own
    } else if (name == "_summary" && value == "count") {
      // The trail is paged by id and never counted: say so rather than answer a wrong total.
      return error_response(bad("_summary=count is not supported for AuditEvent: page through "
                                "the results instead."),
                            shape.pretty);
    } else if (name == "_format" || name == "_pretty" || name == "_summary" ||
               name == "_elements") {
      // Applied to each event (shaped_event) and kept in the links.
    } else if (strict) {
      return error_response(bad("The parameter '" + name +
                                "' is not supported for AuditEvent (patient, date, "
                                "_count)."),
                            shape.pretty);
    } else {
      kept = false;  // ignored (FHIR R4 search.html#errors, lenient handling)
    }
    if (kept) {
      // The same encoding as the resource searches' self links (rest/search.cc).
      self_query += (self_query.empty() ? "" : "&") +
                    core::percent_encode(name, core::PercentSet::kFhirSearch) + "=" +
                    core::percent_encode(value, core::PercentSet::kFhirSearch);
    }
  }
  std::string self_base = s.options.base_url + "/AuditEvent";
  if (!compartment_patient.empty()) {
    self_base = s.options.base_url + "/Patient/" + compartment_patient + "/AuditEvent";
  }
  std::string self = self_base + (self_query.empty() ? "" : "?" + self_query);
  if (q.before_id > 0)
    self += std::string(self_query.empty() ? "?" : "&") + "_cursor=" + std::to_string(q.before_id);
  if (other_patient || q.limit == 0) return bundle_response(s, {}, self, "", shape);
  int want = q.limit;
  q.limit = want + 1;  // one more tells whether there is a next page
  auto found = s.auth->store->find_audit(q);
  if (!found.ok()) return error_response(found.error(), shape.pretty);
  std::string next;
  if (static_cast<int>(found->size()) > want) {
    found->resize(static_cast<size_t>(want));
    next = self_base + "?" + self_query + (self_query.empty() ? "" : "&") +
           "_cursor=" + std::to_string(found->back().id);
  }
  return bundle_response(s, *found, self, next, shape);
}

json::Value audit_event_capability(bool on) {
  Value r = Value::object();
  r.set("type", str("AuditEvent"));
  if (!on) {
    r.set("documentation",
          str("The audit trail is kept only when access control is on; none is served now."));
    return r;
  }
  r.set("documentation",
        str("Synthesised from the server's audit trail (read-only: writes are refused). A "
            "patient-context grant sees the events about its own patient only, newest first."));
  Value interactions = Value::array();
  for (const char* code : {"read", "search-type"}) {
    Value i = Value::object();
    i.set("code", str(code));
    interactions.push_back(std::move(i));
  }
  r.set("interaction", std::move(interactions));
  Value params = Value::array();
  auto param = [&](const char* name, const char* type, const char* doc) {
    Value p = Value::object();
    p.set("name", str(name));
    p.set("definition", str(std::string("http://hl7.org/fhir/SearchParameter/AuditEvent-") + name));
    p.set("type", str(type));
    p.set("documentation", str(doc));
    params.push_back(std::move(p));
  };
  param("patient", "reference", "Only the patient of the access token.");
  param("date", "date", "Prefixes eq, ge, gt, le, lt.");
  r.set("searchParam", std::move(params));
  return r;
}

}  // namespace ipa::rest::internal
