#include "client/record.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "client/url.h"
#include "core/clock.h"
#include "core/percent.h"

namespace ipa::client {
namespace fs = std::filesystem;
namespace {

using json::Value;

// The supporting types resolved from references (IPA: must-support reference targets).
const std::set<std::string>& supporting_types() {
  static const std::set<std::string> kTypes = {"Practitioner", "PractitionerRole", "Medication",
                                               "Organization"};
  return kTypes;
}

// Top-level elements that carry a clinically relevant date, for the summary's date range.
const std::vector<std::string>& date_elements() {
  static const std::vector<std::string> kNames = {"effectiveDateTime",
                                                  "effectiveInstant",
                                                  "effectivePeriod",
                                                  "issued",
                                                  "onsetDateTime",
                                                  "onsetPeriod",
                                                  "recordedDate",
                                                  "occurrenceDateTime",
                                                  "authoredOn",
                                                  "dateAsserted",
                                                  "date",
                                                  "period"};
  return kNames;
}

bool safe_file_part(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
                     }) &&
         s != "." && s != "..";
}

std::string extension_for(std::string content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  static const std::map<std::string, std::string> kExt = {
      {"text/plain", ".txt"},        {"application/pdf", ".pdf"},
      {"text/html", ".html"},        {"image/png", ".png"},
      {"image/jpeg", ".jpg"},        {"application/xml", ".xml"},
      {"application/json", ".json"}, {"application/fhir+json", ".json"},
      {"text/xml", ".xml"}};
  auto it = kExt.find(content_type);
  return it == kExt.end() ? ".bin" : it->second;
}

core::Status write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) return core::internal("cannot write " + path);
  return {};
}

Value str(const std::string& s) { return Value::string(s); }

// The resources fetched so far, per type, in order, each once.
class Collection {
 public:
  // Adds `r` unless its type/id is known; returns whether it was added.
  bool add(const Value& r) {
    std::string type(r.get_string("resourceType"));
    std::string key = type + "/" + std::string(r.get_string("id"));
    if (type.empty() || !seen_.insert(key).second) return false;
    by_type_[type].push_back(r);
    return true;
  }
  bool has(const std::string& key) const { return seen_.contains(key); }
  const std::map<std::string, std::vector<Value>>& by_type() const { return by_type_; }

 private:
  std::set<std::string> seen_;
  std::map<std::string, std::vector<Value>> by_type_;
};

bool references_patient(const Value& r, const std::string& patient_id) {
  for (const char* element : {"patient", "subject"}) {
    const Value* ref = r.find(element);
    if (ref == nullptr) continue;
    std::string s(ref->get_string("reference"));
    std::string want = "Patient/" + patient_id;
    if (s == want || (s.size() > want.size() &&
                      s.compare(s.size() - want.size() - 1, want.size() + 1, "/" + want) == 0)) {
      return true;
    }
  }
  return false;
}

bool has_category(const Value& r, const std::string& token) {
  std::string system;
  std::string code = token;
  if (size_t bar = token.find('|'); bar != std::string::npos) {
    system = token.substr(0, bar);
    code = token.substr(bar + 1);
  }
  const Value* cats = r.find("category");
  if (cats == nullptr || !cats->is_array()) return false;
  for (const Value& c : cats->items()) {
    const Value* codings = c.find("coding");
    if (codings == nullptr || !codings->is_array()) continue;
    for (const Value& coding : codings->items()) {
      if (coding.get_string("code") == code &&
          (system.empty() || coding.get_string("system") == system)) {
        return true;
      }
    }
  }
  return false;
}

// Collects every Reference.reference string in `v`.
void collect_references(const Value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.members()) {
      if (k == "reference" && child.is_string()) {
        out.push_back(child.text());
      } else {
        collect_references(child, out);
      }
    }
  } else if (v.is_array()) {
    for (const Value& child : v.items()) collect_references(child, out);
  }
}

void widen_range(const Value& r, std::string& low, std::string& high) {
  auto consider = [&](const Value& v) {
    if (!v.is_string() || v.text().size() < 4) return;
    std::string d = v.text().substr(0, 10);
    if (low.empty() || d < low) low = d;
    if (high.empty() || d > high) high = d;
  };
  for (const std::string& name : date_elements()) {
    const Value* v = r.find(name);
    if (v == nullptr) continue;
    if (v->is_object()) {
      if (const Value* s = v->find("start")) consider(*s);
      if (const Value* e = v->find("end")) consider(*e);
    } else {
      consider(*v);
    }
  }
}

struct Problems {
  Value errors = Value::array();
  Value warnings = Value::array();
  void error(const std::string& type, int status, const std::string& detail) {
    Value e = Value::object();
    e.set("type", str(type));
    if (status != 0) e.set("status", Value::number(status));
    e.set("detail", str(detail));
    errors.push_back(std::move(e));
  }
  void warn(const std::string& detail) { warnings.push_back(str(detail)); }
};

std::string outcome_text(const Value& oo) {
  std::string out;
  if (const Value* issues = oo.find("issue"); issues && issues->is_array()) {
    for (const Value& i : issues->items()) {
      std::string d(i.get_string("diagnostics"));
      if (d.empty()) {
        if (const Value* details = i.find("details")) d = details->get_string("text");
      }
      out += (out.empty() ? "" : "; ") + (d.empty() ? std::string(i.get_string("code")) : d);
    }
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads every "<Type>.ndjson" of `dir` (a previous run's copy), in file order.
std::map<std::string, std::vector<Value>> read_copy(const std::string& dir) {
  std::map<std::string, std::vector<Value>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".ndjson") continue;
    std::istringstream lines(slurp(e.path().string()));
    for (std::string line; std::getline(lines, line);) {
      auto v = json::parse(line);
      if (v.ok() && v->is_object() && !v->get_string("id").empty()) {
        out[std::string(v->get_string("resourceType"))].push_back(std::move(v).value());
      }
    }
  }
  return out;
}

// The ids the server lists now for `searches` (IPA "Synchronization": records can disappear),
// asking only for ids (`_elements=id`); nullopt when a listing page fails.
std::optional<std::set<std::string>> list_ids(Session& session, const std::string& base,
                                              const std::string& type,
                                              const std::vector<Fields>& searches) {
  std::set<std::string> ids;
  for (Fields params : searches) {
    params.emplace_back("_elements", "id");
    std::string url = base + "/" + type + "?" + form_encode(params);
    std::set<std::string> visited;
    while (!url.empty() && visited.insert(url).second) {
      auto r = session.get(url);
      if (!r.ok() || r->status != 200) return std::nullopt;
      auto bundle = json::parse(r->body);
      if (!bundle.ok() || bundle->get_string("resourceType") != "Bundle") return std::nullopt;
      std::string next;
      if (const Value* links = bundle->find("link"); links && links->is_array()) {
        for (const Value& l : links->items()) {
          if (l.get_string("relation") == "next") next = l.get_string("url");
        }
      }
      if (const Value* entries = bundle->find("entry"); entries && entries->is_array()) {
        for (const Value& e : entries->items()) {
          const Value* res = e.find("resource");
          if (res != nullptr && res->get_string("resourceType") == type) {
            ids.insert(std::string(res->get_string("id")));
          }
        }
      }
      if (!next.empty() && origin_of(next) != origin_of(base)) return std::nullopt;
      url = next;
    }
  }
  return ids;
}

// The server's time of a response: its Date header (RFC 9110), else "".
std::string server_time_of(const ClientResponse& r) {
  core::TimePoint t;
  if (!core::parse_http_date(r.header("Date"), t)) return "";
  return core::format_instant(t);
}

}  // namespace

const std::vector<std::string>& ipa_search_types() {
  static const std::vector<std::string> kTypes = {
      "AllergyIntolerance", "Condition",           "DocumentReference", "Immunization",
      "MedicationRequest",  "MedicationStatement", "Observation"};
  return kTypes;
}

const std::vector<std::string>& observation_categories() {
  static const std::vector<std::string> kCodes = {"social-history", "vital-signs", "imaging",
                                                  "laboratory",     "procedure",   "survey",
                                                  "exam",           "therapy",     "activity"};
  return kCodes;
}

TypeAccess type_access(const std::string& granted_scope, const std::string& type) {
  TypeAccess a;
  bool unrestricted = false;
  for (const std::string& s : split_scopes(granted_scope)) {
    size_t slash = s.find('/');
    if (slash == std::string::npos) continue;
    std::string context = s.substr(0, slash);
    if (context != "patient" && context != "user" && context != "system") continue;
    std::string rest = s.substr(slash + 1);
    std::string query;
    if (size_t q = rest.find('?'); q != std::string::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    size_t dot = rest.find('.');
    if (dot == std::string::npos) continue;
    std::string scope_type = rest.substr(0, dot);
    std::string perms = rest.substr(dot + 1);
    if (scope_type != type && scope_type != "*") continue;
    // SMART scopes v1: read or *; v2: the letters cruds, "s" for search.
    bool can_search = perms == "read" || perms == "*" ||
                      (perms.find_first_not_of("cruds") == std::string::npos &&
                       perms.find('s') != std::string::npos);
    if (!can_search) continue;
    a.search = true;
    if (query.empty()) {
      unrestricted = true;
    } else {
      a.queries.push_back(query);
    }
  }
  if (unrestricted) a.queries.clear();
  return a;
}

// ---- Session ----------------------------------------------------------------------------------

Session::Session(Transport& transport, SmartConfig config, ClientCredentials creds,
                 Profile& profile, std::function<core::Status(const Profile&)> persist,
                 std::function<int64_t()> now)
    : transport_(transport),
      config_(std::move(config)),
      creds_(std::move(creds)),
      profile_(profile),
      persist_(std::move(persist)),
      now_(std::move(now)) {}

core::Result<ClientResponse> Session::get(const std::string& url, const std::string& accept) {
  // SMART App Launch "Access FHIR API" / C8: the token goes to this server's origin only.
  bool same_origin = !origin_of(url).empty() && origin_of(url) == origin_of(profile_.base);
  for (int attempt = 0;; ++attempt) {
    std::vector<Header> h = {{"Accept", accept}};
    if (same_origin) h.push_back({"Authorization", "Bearer " + profile_.access_token});
    (same_origin ? with_token_ : without_token_).push_back(url);
    auto r = transport_.send("GET", url, h, "");
    if (!r.ok() || r->status != 401 || !same_origin || attempt > 0) return r;
    if (profile_.refresh_token.empty()) {
      return core::unauthenticated(
          "The access token was refused and there is no refresh token: sign in again "
          "(ipa-client login).");
    }
    auto t = refresh_tokens(transport_, config_, creds_, profile_.refresh_token, now_());
    if (!t.ok()) {
      return core::unauthenticated("The token refresh failed (" + t.error().diagnostics +
                                   "): sign in again (ipa-client login).");
    }
    ++refreshes_;
    profile_.access_token = t->access_token;
    // RFC 6749 section 6: a new refresh token replaces the old one (rotation).
    if (!t->refresh_token.empty()) profile_.refresh_token = t->refresh_token;
    if (t->expires_in > 0) profile_.expires_at = now_() + t->expires_in;
    if (!t->scope.empty()) profile_.granted_scope = t->scope;
    if (persist_) IPA_RETURN_IF_ERROR(persist_(profile_));
  }
}

// ---- describe ---------------------------------------------------------------------------------

std::string describe_patient(const Value& p) {
  std::string name;
  if (const Value* names = p.find("name"); names && names->is_array() && !names->items().empty()) {
    const Value* chosen = &names->items()[0];
    for (const Value& n : names->items()) {
      if (n.get_string("use") == "official") {
        chosen = &n;
        break;
      }
    }
    name = chosen->get_string("text");
    if (name.empty()) {
      if (const Value* given = chosen->find("given"); given && given->is_array()) {
        for (const Value& g : given->items()) name += (name.empty() ? "" : " ") + g.text();
      }
      std::string family(chosen->get_string("family"));
      if (!family.empty()) name += (name.empty() ? "" : " ") + family;
    }
  }
  std::string out =
      "Patient " + std::string(p.get_string("id")) + ": " + (name.empty() ? "(no name)" : name);
  std::string birth(p.get_string("birthDate"));
  out += ", born " + (birth.empty() ? std::string("(unknown)") : birth);
  std::string gender(p.get_string("gender"));
  if (!gender.empty()) out += ", " + gender;
  if (const Value* ids = p.find("identifier"); ids && ids->is_array()) {
    for (const Value& i : ids->items()) {
      out += "\n  identifier " + std::string(i.get_string("system")) + "|" +
             std::string(i.get_string("value"));
    }
  }
  if (const Value* active = p.find("active"); active && active->is_bool() && !active->as_bool()) {
    out += "\n  this record is marked inactive";
  }
  return out;
}

// ---- fetch ------------------------------------------------------------------------------------

core::Result<FetchResult> fetch_record(Session& session, const Profile& profile,
                                       const std::vector<std::string>& supported_types,
                                       const std::string& out_dir, std::ostream& progress,
                                       const FetchOptions& options) {
  const std::string base = trim_base(profile.base);
  const std::string& patient_id = profile.patient;
  if (patient_id.empty()) {
    return core::bad_request(core::IssueType::kRequired,
                             "The sign-in has no patient in context: sign in again with "
                             "launch/patient.");
  }
  std::error_code ec;
  fs::create_directories(out_dir + "/attachments", ec);
  if (ec) return core::internal("cannot create " + out_dir + ": " + ec.message());

  // Sync: the previous run's server time and copy.
  std::string since;
  std::map<std::string, std::vector<Value>> previous;
  Value previous_summary;
  if (options.sync) {
    auto old = json::parse(slurp(out_dir + "/summary.json"));
    core::TimePoint last;
    if (!old.ok() || !core::parse_instant(old->get_string("server_time"), last)) {
      return core::bad_request(core::IssueType::kNotFound,
                               "No previous fetch in " + out_dir +
                                   " (summary.json with server_time): run ipa-client fetch first.");
    }
    previous_summary = std::move(old).value();
    since = core::format_instant(last - std::chrono::seconds(options.overlap_seconds));
    previous = read_copy(out_dir);
    progress << "Changes since " << since << " (server time)\n";
  }

  Collection all;
  std::set<std::string> fresh;  // type/id of the resources the searches returned in this run
  Problems problems;
  std::string server_time;
  Value not_granted = Value::array();
  Value not_supported = Value::array();

  // IPA "Initial Patient Identity Check" (C4): read the Patient first.
  auto pr = session.get(base + "/Patient/" + core::percent_encode(patient_id));
  if (!pr.ok()) return std::move(pr).error();
  if (pr->status != 200) {
    return core::not_found("The Patient " + patient_id + " cannot be read (HTTP " +
                           std::to_string(pr->status) + ").");
  }
  server_time = server_time_of(*pr);
  auto patient = json::parse(pr->body);
  if (!patient.ok() || patient->get_string("resourceType") != "Patient") {
    return core::not_found("The server did not return a Patient for " + patient_id + ".");
  }
  all.add(*patient);
  progress << describe_patient(*patient) << "\n";
  // C6: Patient.link names other records of the same person; the grant covers this one only.
  Value linked = Value::array();
  if (const Value* links = patient->find("link"); links && links->is_array()) {
    for (const Value& l : links->items()) {
      std::string ref =
          l.find("other") ? std::string(l.find("other")->get_string("reference")) : "";
      linked.push_back(str(ref + " (" + std::string(l.get_string("type")) + ")"));
      progress << "  linked record " << ref << " (" << l.get_string("type")
               << "): not covered by this sign-in\n";
    }
  }

  auto supported = [&](const std::string& type) {
    return supported_types.empty() ||
           std::find(supported_types.begin(), supported_types.end(), type) != supported_types.end();
  };

  std::map<std::string, std::vector<Fields>> listings;  // the full searches, per type searched
  for (const std::string& type : ipa_search_types()) {
    TypeAccess access = type_access(profile.granted_scope, type);
    if (!access.search) {
      not_granted.push_back(str(type));
      progress << "  " << type << ": not granted\n";
      continue;
    }
    if (!supported(type)) {
      not_supported.push_back(str(type));
      progress << "  " << type << ": not supported by the server\n";
      continue;
    }
    // Each search: the query parameters we send, for the self-link check (C7).
    std::vector<Fields> searches;
    if (type == "Observation") {
      std::vector<std::string> cats;
      for (const std::string& q : access.queries) {
        std::string c = field(parse_query(q), "category");
        if (!c.empty()) cats.push_back(c);
      }
      if (access.queries.empty()) {
        for (const std::string& code : observation_categories()) {
          cats.push_back(std::string(kObservationCategorySystem) + "|" + code);
        }
      }
      for (const std::string& c : cats)
        searches.push_back({{"patient", patient_id}, {"category", c}});
    } else {
      searches.push_back({{"patient", patient_id}});
    }
    listings[type] = searches;
    if (options.sync) {
      for (Fields& f : searches) f.emplace_back("_lastUpdated", "gt" + since);
    }
    int count_before =
        all.by_type().contains(type) ? static_cast<int>(all.by_type().at(type).size()) : 0;
    int pages = 0;
    bool failed = false;
    if (options.bar != nullptr) options.bar->start(type);
    for (const Fields& params : searches) {
      std::string url = base + "/" + type + "?" + form_encode(params);
      std::set<std::string> visited;
      while (!url.empty() && visited.insert(url).second) {
        auto r = session.get(url);
        if (!r.ok()) {
          if (r.error().http_status == 401) return std::move(r).error();
          problems.error(type, 0, r.error().diagnostics);
          failed = true;
          break;
        }
        if (r->status != 200) {
          auto oo = json::parse(r->body);
          std::string detail = oo.ok() ? outcome_text(*oo) : "";
          problems.error(type, r->status,
                         (pages == 0 ? "search refused" : "a next page failed") +
                             (detail.empty() ? "" : ": " + detail));
          progress << "  " << type << ": HTTP " << r->status << (pages ? " on a next page" : "")
                   << "\n";
          failed = true;
          break;
        }
        ++pages;
        auto bundle = json::parse(r->body);
        if (!bundle.ok() || bundle->get_string("resourceType") != "Bundle") {
          problems.error(type, r->status, "the answer is not a Bundle");
          failed = true;
          break;
        }
        if (server_time.empty()) {
          if (const Value* meta = bundle->find("meta"))
            server_time = meta->get_string("lastUpdated");
        }
        if (options.bar != nullptr && pages == 1 && searches.size() == 1) {
          if (const Value* total = bundle->find("total"); total && total->as_int()) {
            options.bar->set_total(*total->as_int());
          }
        }
        int page_matches = 0;
        // C7: a parameter missing from the self link was ignored by the server: filter here.
        std::string next;
        bool filter_patient = false;
        std::string filter_category;
        if (const Value* links = bundle->find("link"); links && links->is_array()) {
          for (const Value& l : links->items()) {
            std::string rel(l.get_string("relation"));
            if (rel == "next") next = l.get_string("url");
            if (rel == "self") {
              Fields applied = parse_query(query_of(l.get_string("url")));
              auto applied_has = [&](const std::string& k) {
                return std::any_of(applied.begin(), applied.end(),
                                   [&](const auto& kv) { return kv.first == k; });
              };
              for (const auto& [k, v] : params) {
                if (applied_has(k)) continue;
                if (k == "patient") filter_patient = true;
                if (k == "category") filter_category = v;
                if (pages == 1) {
                  problems.warn(type + ": the server ignored the parameter '" + k +
                                "'; filtered on the client side");
                }
              }
            }
          }
        }
        if (const Value* entries = bundle->find("entry"); entries && entries->is_array()) {
          for (const Value& e : entries->items()) {
            const Value* res = e.find("resource");
            if (res == nullptr) continue;
            std::string mode =
                e.find("search") ? std::string(e.find("search")->get_string("mode")) : "match";
            std::string rtype(res->get_string("resourceType"));
            if (rtype == "OperationOutcome") {
              std::string t = outcome_text(*res);
              if (!t.empty()) problems.warn(type + ": " + t);
              continue;
            }
            if (mode == "include") {
              if (supporting_types().contains(rtype)) all.add(*res);
              continue;
            }
            if (rtype != type) continue;
            if (filter_patient && !references_patient(*res, patient_id)) continue;
            if (!filter_category.empty() && !has_category(*res, filter_category)) continue;
            if (all.add(*res)) fresh.insert(rtype + "/" + std::string(res->get_string("id")));
            ++page_matches;
          }
        }
        if (options.bar != nullptr) options.bar->add(page_matches);
        if (!next.empty() && origin_of(next) != origin_of(base)) {
          problems.error(type, 0, "a next link points to another server; not followed");
          break;
        }
        url = next;
      }
    }
    int got = (all.by_type().contains(type) ? static_cast<int>(all.by_type().at(type).size()) : 0) -
              count_before;
    std::string what = options.sync ? " changed" : "";
    if (options.bar != nullptr && options.bar->enabled()) {
      options.bar->finish(failed ? "(incomplete)" : "");
    } else {
      progress << "  " << type << ": " << got << what << (failed ? " (incomplete)" : "") << "\n";
    }
  }

  // Sync: merge the previous copy; what a full id listing no longer shows goes to gone/.
  Value sync_report = Value::object();
  std::map<std::string, std::vector<Value>> newly_gone;
  if (options.sync) {
    int updated = 0;
    for (const std::string& key : fresh) {
      size_t slash = key.find('/');
      auto it = previous.find(key.substr(0, slash));
      if (it == previous.end()) continue;
      for (const Value& v : it->second) {
        if (v.get_string("id") == key.substr(slash + 1)) ++updated;
      }
    }
    std::map<std::string, std::optional<std::set<std::string>>> visible;
    for (const auto& [type, searches] : listings) {
      visible[type] = list_ids(session, base, type, searches);
      if (!visible[type]) {
        problems.warn(type + ": the id listing failed; nothing is reported as gone for it");
      }
    }
    for (const auto& [type, list] : previous) {
      auto v = visible.find(type);
      for (const Value& r : list) {
        std::string id(r.get_string("id"));
        if (all.has(type + "/" + id)) continue;
        if (v != visible.end() && v->second && !v->second->contains(id)) {
          newly_gone[type].push_back(r);
          continue;
        }
        all.add(r);
      }
    }
    int gone_count = 0;
    for (const auto& [type, list] : newly_gone) {
      gone_count += static_cast<int>(list.size());
      progress << "  " << type << ": " << list.size()
               << " no longer shown by the server (kept in gone/" << type << ".ndjson)\n";
    }
    sync_report.set("since", str(since));
    sync_report.set("fetched", Value::number(static_cast<int64_t>(fresh.size())));
    sync_report.set("updated", Value::number(updated));
    sync_report.set("new", Value::number(static_cast<int64_t>(fresh.size()) - updated));
    sync_report.set("gone", Value::number(gone_count));
  }

  // Supporting resources, once each (iteratively: a PractitionerRole names a Practitioner).
  Value external = Value::array();
  std::set<std::string> tried;
  for (bool grew = true; grew;) {
    grew = false;
    std::vector<std::string> refs;
    for (const auto& [type, list] : all.by_type()) {
      for (const Value& r : list) collect_references(r, refs);
    }
    for (std::string ref : refs) {
      if (ref.empty() || ref[0] == '#' || ref.rfind("urn:", 0) == 0) continue;
      if (ref.rfind(base + "/", 0) == 0) ref = ref.substr(base.size() + 1);
      if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0) {
        // C8: references to other servers are not followed with our token.
        if (tried.insert(ref).second) external.push_back(str(ref));
        continue;
      }
      ref = ref.substr(0, ref.find("/_history/"));
      size_t slash = ref.find('/');
      if (slash == std::string::npos) continue;
      std::string type = ref.substr(0, slash);
      if (!supporting_types().contains(type) || all.has(ref) || !tried.insert(ref).second) continue;
      auto r = session.get(base + "/" + ref);
      if (!r.ok()) {
        if (r.error().http_status == 401) return std::move(r).error();
        problems.error(type, 0, ref + ": " + r.error().diagnostics);
        continue;
      }
      if (r->status != 200) {
        problems.error(type, r->status, ref + " cannot be read");
        continue;
      }
      auto v = json::parse(r->body);
      if (v.ok() && v->get_string("resourceType") == type && all.add(*v)) grew = true;
    }
  }

  // DocumentReference attachments (IPA: the content may be a Binary or any URL).
  Value attachments = Value::array();
  if (all.by_type().contains("DocumentReference")) {
    for (const Value& doc : all.by_type().at("DocumentReference")) {
      if (options.sync &&
          !fresh.contains("DocumentReference/" + std::string(doc.get_string("id")))) {
        continue;  // unchanged since the last run: its attachments are on disk
      }
      const Value* content = doc.find("content");
      if (content == nullptr || !content->is_array()) continue;
      int n = 0;
      for (const Value& c : content->items()) {
        const Value* att = c.find("attachment");
        ++n;
        if (att == nullptr || att->get_string("url").empty()) continue;
        std::string url = resolve(base, att->get_string("url"));
        std::string content_type(att->get_string("contentType"));
        std::string doc_id(doc.get_string("id"));
        Value a = Value::object();
        a.set("document", str("DocumentReference/" + doc_id));
        a.set("url", str(url));
        bool with_token = origin_of(url) == origin_of(base);
        a.set("sent_token", Value::boolean(with_token));
        auto r = session.get(url, content_type.empty() ? "*/*" : content_type);
        if (!r.ok()) {
          if (r.error().http_status == 401) return std::move(r).error();
          a.set("error", str(r.error().diagnostics));
        } else if (r->status != 200) {
          a.set("status", Value::number(r->status));
        } else if (safe_file_part(doc_id)) {
          std::string name =
              "attachments/" + doc_id + "-" + std::to_string(n) +
              extension_for(content_type.empty() ? r->header("Content-Type") : content_type);
          IPA_RETURN_IF_ERROR(write_file(out_dir + "/" + name, r->body));
          a.set("status", Value::number(200));
          a.set("file", str(name));
          a.set("bytes", Value::number(static_cast<int64_t>(r->body.size())));
        }
        attachments.push_back(std::move(a));
      }
    }
  }
  fs::remove(out_dir + "/attachments", ec);  // only when empty

  if (options.sync) {
    // Attachments of unchanged documents stay as listed before.
    if (const Value* old = previous_summary.find("attachments"); old && old->is_array()) {
      for (const Value& a : old->items()) {
        if (!fresh.contains(std::string(a.get_string("document")))) attachments.push_back(a);
      }
    }
  }
  // gone/: what disappeared, now and in earlier runs, unless it came back.
  Value gone = Value::array();
  if (options.sync) {
    std::map<std::string, std::vector<Value>> kept = read_copy(out_dir + "/gone");
    for (auto& [type, list] : newly_gone) {
      for (Value& r : list) kept[type].push_back(std::move(r));
    }
    std::string stamp = server_time.empty() ? since : server_time;
    std::map<std::string, std::string> noticed;
    if (const Value* old = previous_summary.find("gone"); old && old->is_array()) {
      for (const Value& g : old->items()) {
        noticed[std::string(g.get_string("reference"))] = g.get_string("noticed");
      }
    }
    for (const auto& [type, list] : kept) {
      std::string lines;
      std::set<std::string> written;
      for (const Value& r : list) {
        std::string ref = type + "/" + std::string(r.get_string("id"));
        if (all.has(ref) || !written.insert(ref).second) continue;
        lines += json::write(r) + "\n";
        Value g = Value::object();
        g.set("reference", str(ref));
        g.set("noticed", str(noticed.contains(ref) ? noticed[ref] : stamp));
        gone.push_back(std::move(g));
      }
      fs::create_directories(out_dir + "/gone", ec);
      if (lines.empty()) {
        fs::remove(out_dir + "/gone/" + type + ".ndjson", ec);
      } else {
        IPA_RETURN_IF_ERROR(write_file(out_dir + "/gone/" + type + ".ndjson", lines));
      }
    }
    fs::remove(out_dir + "/gone", ec);  // only when empty
  }

  // Files: one NDJSON per type, a collection Bundle, the summary.
  FetchResult result;
  Value bundle = Value::object();
  bundle.set("resourceType", str("Bundle"));
  bundle.set("type", str("collection"));
  bundle.set("timestamp", str(core::format_instant(std::chrono::system_clock::now())));
  Value entries = Value::array();
  Value counts = Value::object();
  std::string low;
  std::string high;
  for (const auto& [type, list] : all.by_type()) {
    std::string lines;
    for (const Value& r : list) {
      lines += json::write(r) + "\n";
      Value e = Value::object();
      e.set("fullUrl", str(base + "/" + type + "/" + std::string(r.get_string("id"))));
      e.set("resource", r);
      entries.push_back(std::move(e));
      if (type != "Patient") widen_range(r, low, high);
    }
    IPA_RETURN_IF_ERROR(write_file(out_dir + "/" + type + ".ndjson", lines));
    counts.set(type, Value::number(static_cast<int64_t>(list.size())));
    result.counts[type] = static_cast<int>(list.size());
  }
  bundle.set("entry", std::move(entries));
  IPA_RETURN_IF_ERROR(write_file(out_dir + "/bundle.json", json::write(bundle) + "\n"));

  Value summary = Value::object();
  summary.set("server", str(base));
  Value who = Value::object();
  who.set("id", str(patient_id));
  who.set("description", str(describe_patient(*patient)));
  summary.set("patient", std::move(who));
  summary.set("fetched_at", str(core::format_instant(std::chrono::system_clock::now())));
  // The server's time at the start of this run: the next sync asks for what changed after it.
  if (server_time.empty()) {
    problems.warn(
        "the server sent no Date header nor Bundle meta.lastUpdated; the local clock "
        "stands in for the next sync");
    server_time = core::format_instant(std::chrono::system_clock::now());
  }
  summary.set("server_time", str(server_time));
  summary.set("counts", std::move(counts));
  Value range = Value::object();
  if (!low.empty()) {
    range.set("start", str(low));
    range.set("end", str(high));
  }
  summary.set("date_range", std::move(range));
  summary.set("granted_scope", str(profile.granted_scope));
  summary.set("not_granted", std::move(not_granted));
  summary.set("not_supported", std::move(not_supported));
  summary.set("errors", std::move(problems.errors));
  summary.set("warnings", std::move(problems.warnings));
  summary.set("attachments", std::move(attachments));
  summary.set("external_references", std::move(external));
  summary.set("linked_records", std::move(linked));
  summary.set("token_refreshes", Value::number(session.refreshes()));
  if (options.sync) {
    summary.set("sync", std::move(sync_report));
    summary.set("gone", std::move(gone));
  }
  IPA_RETURN_IF_ERROR(
      write_file(out_dir + "/summary.json", json::write(summary, {.pretty = true}) + "\n"));
  result.summary = std::move(summary);
  return result;
}

}  // namespace ipa::client
