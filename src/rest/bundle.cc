// Batch and transaction Bundles (FHIR R4 http.html#transaction): a batch runs each entry on its
// own; a transaction runs all entries in one store transaction (all or nothing), in the order
// DELETE, POST, PUT, GET, with urn:uuid fullUrls rewritten in references and in GET urls to the
// ids assigned (or, for a conditional create that matched, to the existing resource); its GET
// entries see what its writes made.
#include <map>
#include <set>

#include "fhir/model.h"
#include "fhir/outcome.h"
#include "fhir/validate.h"
#include "rest/internal/common.h"
#include "rest/internal/path.h"
#include "rest/internal/smart.h"

namespace ipa::rest::internal {
namespace {

std::string status_line(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    case 400:
      return "400 Bad Request";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 409:
      return "409 Conflict";
    case 410:
      return "410 Gone";
    case 412:
      return "412 Precondition Failed";
    case 422:
      return "422 Unprocessable Entity";
    default:
      return std::to_string(status);
  }
}

struct EntryRequest {
  std::string method;
  std::string type;
  std::string id;
  int64_t version = 0;
  std::string query;
  std::string if_none_exist;
  std::optional<int64_t> if_match;
  std::optional<json::Value> resource;
  std::string full_url;
  // A GET whose url is the fullUrl of another entry (urn:uuid: or urn:oid:): resolved to that
  // entry's resource in a transaction (bundle.html#references); `type` and `id` are empty until
  // then.
  std::string url_reference;
  std::string assigned_id;
  bool matched = false;  // conditional create: assigned_id is the existing match's
};

core::Error at_entry(core::Error e, size_t i) {
  e.diagnostics = "Bundle.entry[" + std::to_string(i) + "]: " + e.diagnostics;
  if (e.expression.empty()) e.expression = "Bundle.entry[" + std::to_string(i) + "]";
  return e;
}

core::Result<EntryRequest> parse_entry(const json::Value& entry, size_t i) {
  EntryRequest out;
  const json::Value* req = entry.find("request");
  std::string base = "Bundle.entry[" + std::to_string(i) + "]";
  if (req == nullptr) {
    return core::bad_request(core::IssueType::kRequired,
                             base + " has no request (method and url are needed).")
        .at(base + ".request");
  }
  out.method = std::string(req->get_string("method"));
  std::string url = std::string(req->get_string("url"));
  out.full_url = std::string(entry.get_string("fullUrl"));
  if (!req->get_string("ifNoneExist").empty()) {
    out.if_none_exist = std::string(req->get_string("ifNoneExist"));
  }
  if (!req->get_string("ifMatch").empty()) {
    auto m = parse_etag(req->get_string("ifMatch"));
    if (!m.ok()) return std::move(m).error().at(base + ".request.ifMatch");
    out.if_match = *m;
  }
  if (const json::Value* r = entry.find("resource")) out.resource = *r;
  // FHIR R4 http.html#transaction: the server replaces every matching urn:uuid / urn:oid in the
  // Bundle with the resource's new identity, request.url (a uri) included, so a GET may name a
  // resource this Bundle creates by its fullUrl.
  if (out.method == "GET" && (url.rfind("urn:uuid:", 0) == 0 || url.rfind("urn:oid:", 0) == 0)) {
    out.url_reference = url;
    return out;
  }
  size_t qm = url.find('?');
  if (qm != std::string::npos) {
    out.query = url.substr(qm + 1);
    url.resize(qm);
  }
  std::vector<std::string> parts = split_path(url);
  if (parts.empty() || !fhir::is_resource_type(parts[0])) {
    return core::bad_request(core::IssueType::kInvalid, base + ".request.url '" +
                                                            std::string(req->get_string("url")) +
                                                            "' does not name a resource type.")
        .at(base + ".request.url");
  }
  out.type = parts[0];
  // The audit trail is append-only and made by the server (rest/audit.cc): a write to it inside a
  // Bundle is refused as a direct one is (405); in a transaction that fails the whole Bundle.
  if (out.type == "AuditEvent" && out.method != "GET") {
    return core::method_not_allowed(base +
                                    ": AuditEvent resources are recorded by the server: the audit "
                                    "trail is append-only and cannot be created, changed or "
                                    "deleted through the API.")
        .at(base + ".request.method");
  }
  if (parts.size() >= 2) out.id = parts[1];
  if (parts.size() == 4 && parts[2] == "_history") {
    for (char c : parts[3]) {
      if (c < '0' || c > '9') {
        return core::bad_request(core::IssueType::kInvalid, base + ": bad version in url.")
            .at(base + ".request.url");
      }
      out.version = out.version * 10 + (c - '0');
    }
  } else if (parts.size() > 2) {
    return core::bad_request(core::IssueType::kNotSupported,
                             base + ".request.url is not a supported interaction.")
        .at(base + ".request.url");
  }
  if (!out.id.empty() && !fhir::is_valid_id(out.id)) {
    return core::bad_request(core::IssueType::kInvalid,
                             base + ": '" + out.id + "' is not a valid id.")
        .at(base + ".request.url");
  }
  bool needs_resource = out.method == "POST" || out.method == "PUT";
  if (needs_resource && !out.resource) {
    return core::bad_request(core::IssueType::kRequired, base + " has no resource.")
        .at(base + ".resource");
  }
  if (needs_resource) {
    if (out.resource->get_string("resourceType") != out.type) {
      return core::bad_request(core::IssueType::kInvalid,
                               base + ".resource is not a " + out.type + ".")
          .at(base + ".resource");
    }
  }
  if (out.method == "POST" && (!out.id.empty() || !out.query.empty())) {
    return core::bad_request(core::IssueType::kInvalid,
                             base + ": POST goes to [type]; use ifNoneExist for conditions.")
        .at(base + ".request.url");
  }
  if ((out.method == "PUT" || out.method == "DELETE") && out.id.empty()) {
    return core::bad_request(core::IssueType::kNotSupported, base + ": conditional " + out.method +
                                                                 " is not supported; name the id.")
        .at(base + ".request.url");
  }
  if (out.method == "GET" && (out.id.empty() || !out.query.empty())) {
    return core::bad_request(core::IssueType::kNotSupported,
                             base + ": only read and vread are supported inside a Bundle.")
        .at(base + ".request.url");
  }
  if (out.method != "GET" && out.method != "POST" && out.method != "PUT" &&
      out.method != "DELETE") {
    return core::bad_request(core::IssueType::kNotSupported,
                             base + ".request.method '" + out.method + "' is not supported.")
        .at(base + ".request.method");
  }
  return out;
}

// Rewrites every Reference.reference equal to a key of `map` (FHIR R4 bundle.html#references).
void rewrite_references(json::Value& v, const std::map<std::string, std::string>& map) {
  if (v.is_object()) {
    for (auto& [k, child] : v.members()) {
      if (k == "reference" && child.is_string()) {
        auto it = map.find(child.text());
        if (it != map.end()) child = json::Value::string(it->second);
      } else {
        rewrite_references(child, map);
      }
    }
  } else if (v.is_array()) {
    for (auto& item : v.items()) rewrite_references(item, map);
  }
}

// `written_here`: an earlier entry of the same transaction wrote the resource a GET reads.
core::Result<Outcome> run_entry(State& s, storage::Writer& w, EntryRequest& e, const Caller* caller,
                                bool written_here = false) {
  if (!e.url_reference.empty()) {
    return core::bad_request(core::IssueType::kNotSupported,
                             "request.url '" + e.url_reference +
                                 "' names another entry's fullUrl, which only a transaction "
                                 "resolves; read the resource by type and id.")
        .at("request.url");
  }
  if (e.method == "POST") {
    return guarded_create(s, w, caller, e.type, std::move(*e.resource), e.if_none_exist,
                          e.assigned_id);
  }
  if (e.method == "PUT") {
    return guarded_update(s, w, caller, e.type, e.id, std::move(*e.resource), e.if_match);
  }
  if (e.method == "DELETE") return guarded_delete(s, w, caller, e.type, e.id, e.if_match);
  if (caller != nullptr) IPA_RETURN_IF_ERROR(allow(*caller, auth::Interaction::kRead, e.type));
  auto r = w.read(e.type, e.id);
  if (!r.ok()) return std::move(r).error();
  // The store's own visibility queries run outside this transaction: what an earlier entry
  // wrote is judged on its content instead.
  if (caller != nullptr &&
      !(written_here ? visible_in_transaction(s, *caller, *r) : visible(s, *caller, *r))) {
    return core::not_found(e.type + "/" + e.id + " is not known to this server.");
  }
  if (e.version != 0 && e.version != r->version_id) {
    return core::not_implemented("vread of an older version inside a Bundle is not supported.");
  }
  return Outcome{200, std::move(*r), {}};
}

void append_entry(std::string& out, State& s, const core::Result<Outcome>& r) {
  out += '{';
  if (r.ok() && r->resource) {
    const storage::StoredResource& res = *r->resource;
    out += R"("fullUrl":)";
    json::write_string(out, s.options.base_url + "/" + res.resource_type + "/" + res.id);
    out += R"(,"resource":)";
    out += res.json;
    out += ',';
  }
  out += R"("response":{"status":)";
  json::write_string(out, status_line(r.ok() ? r->status : r.error().http_status));
  if (r.ok() && r->resource) {
    if (!r->location.empty()) {
      out += R"(,"location":)";
      json::write_string(out, r->location);
    }
    out += R"(,"etag":"W/\")" + std::to_string(r->resource->version_id) + R"(\"")";
    out += R"(,"lastModified":")" + core::format_instant(r->resource->last_updated) + '"';
  }
  if (!r.ok()) {
    out += R"(,"outcome":)";
    out += json::write(fhir::operation_outcome(r.error()));
  }
  out += "}}";
}

// A transaction's entries in one store transaction, in the order DELETE, POST, PUT, GET (FHIR R4
// http.html#trules). Conditional creates are resolved after the deletions and before any
// reference is rewritten, so that a `fullUrl` whose entry matched an existing resource is
// rewritten to that resource (bundle.html#references); the store holds the match to the end of
// the transaction, as for a single conditional create. A matched entry still runs as a create
// (with the caller's checks), which finds the same match. Errors: the first failing entry's.
core::Status run_transaction(State& s, storage::Writer& w, const Caller* caller,
                             std::vector<EntryRequest>& entries,
                             std::vector<std::optional<core::Result<Outcome>>>& slots) {
  const size_t n = entries.size();
  std::set<std::pair<std::string, std::string>> written;  // (type, id) of POST and PUT results
  auto run_method = [&](const char* method) -> core::Status {
    for (size_t i = 0; i < n; ++i) {
      if (entries[i].method != method || slots[i]) continue;
      bool written_here =
          entries[i].method == "GET" && written.count({entries[i].type, entries[i].id}) > 0;
      auto r = run_entry(s, w, entries[i], caller, written_here);
      if (!r.ok()) return at_entry(std::move(r).error(), i);
      const EntryRequest& e = entries[i];
      bool as_resolved = e.matched
                             ? r->status == 200 && r->resource && r->resource->id == e.assigned_id
                             : r->status == 201;
      if (!e.if_none_exist.empty() && !as_resolved) {
        // Another entry of this transaction created a resource these criteria match, after
        // this entry's fullUrl was rewritten: refuse rather than leave dangling references or
        // make a duplicate.
        return at_entry(core::precondition_failed(
                            "its ifNoneExist matches a resource that another entry of this "
                            "transaction creates; conditional creates in one transaction must "
                            "not match each other."),
                        i);
      }
      if ((e.method == "POST" || e.method == "PUT") && r->resource) {
        written.insert({r->resource->resource_type, r->resource->id});
      }
      slots[i] = std::move(r);
    }
    return {};
  };
  IPA_RETURN_IF_ERROR(run_method("DELETE"));

  std::map<std::string, std::string> ids;
  for (size_t i = 0; i < n; ++i) {
    EntryRequest& e = entries[i];
    if (e.method == "POST" && !e.if_none_exist.empty()) {
      auto criteria = parse_criteria(s, e.type, e.if_none_exist);
      if (!criteria.ok()) return at_entry(std::move(criteria).error(), i);
      // As guarded_create searches: an app acting for a patient sees only that compartment.
      if (caller != nullptr && !is_system(*caller)) criteria->compartment_patient = caller->patient;
      auto found = w.find_matches(*criteria);
      if (!found.ok()) return at_entry(std::move(found).error(), i);
      if (found->size() > 1) {
        return at_entry(core::precondition_failed(
                            "ifNoneExist matches " + std::to_string(found->size()) +
                            " resources; the criteria must be selective enough to match at most "
                            "one."),
                        i);
      }
      if (found->size() == 1) {
        e.assigned_id = found->front();
        e.matched = true;
      }
    }
    if (e.method == "POST" && e.assigned_id.empty()) e.assigned_id = s.next_id();
    if (e.full_url.rfind("urn:uuid:", 0) == 0 || e.full_url.rfind("urn:oid:", 0) == 0) {
      if (e.method == "POST") ids[e.full_url] = e.type + "/" + e.assigned_id;
      if (e.method == "PUT") ids[e.full_url] = e.type + "/" + e.id;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    EntryRequest& e = entries[i];
    if (!e.url_reference.empty()) {
      // A GET of another entry's fullUrl reads what that entry made (after the writes).
      auto it = ids.find(e.url_reference);
      if (it == ids.end()) {
        return at_entry(core::bad_request(core::IssueType::kNotFound,
                                          "request.url '" + e.url_reference +
                                              "' is not the fullUrl of a POST or PUT entry of "
                                              "this Bundle.")
                            .at("Bundle.entry[" + std::to_string(i) + "].request.url"),
                        i);
      }
      size_t slash = it->second.find('/');
      e.type = it->second.substr(0, slash);
      e.id = it->second.substr(slash + 1);
      e.url_reference.clear();
      continue;
    }
    if (!e.resource || (e.method != "POST" && e.method != "PUT")) continue;
    rewrite_references(*e.resource, ids);
    // Validated after rewriting, as stored (a matched conditional create too: bad input is
    // refused whether or not it would have been written).
    core::Status st = fhir::validate_resource(*e.resource, e.type);
    if (!st.ok()) return at_entry(st.error(), i);
  }
  for (const char* method : {"POST", "PUT", "GET"}) IPA_RETURN_IF_ERROR(run_method(method));
  return {};
}

}  // namespace

core::Result<json::Value> parse_bundle(std::string_view body) {
  if (body.empty()) {
    return core::bad_request(core::IssueType::kRequired, "The request body is empty.");
  }
  auto v = json::parse(body);
  if (!v.ok()) return std::move(v).error();
  json::Value shell = *v;
  if (json::Value* entries = shell.find("entry"); entries != nullptr && entries->is_array()) {
    for (auto& e : entries->items()) e.erase("resource");
  }
  IPA_RETURN_IF_ERROR(fhir::validate_resource(shell, "Bundle"));
  return std::move(v).value();
}

http::Response process_bundle(State& s, json::Value bundle, const Shape& shape,
                              const Caller* caller) {
  std::string_view type = bundle.get_string("type");
  if (type != "batch" && type != "transaction") {
    return error_response(core::bad_request(core::IssueType::kInvalid,
                                            "POST [base] takes a batch or transaction Bundle, "
                                            "not type '" +
                                                std::string(type) + "'.")
                              .at("Bundle.type"),
                          shape.pretty);
  }
  bool transaction = type == "transaction";
  std::vector<EntryRequest> entries;
  std::vector<core::Result<Outcome>> results;
  json::Value* list = bundle.find("entry");
  size_t n = list ? list->items().size() : 0;
  std::vector<std::optional<core::Error>> parse_errors(n);
  for (size_t i = 0; i < n; ++i) {
    auto e = parse_entry(list->items()[i], i);
    if (!e.ok()) {
      if (transaction) return error_response(e.error(), shape.pretty);
      parse_errors[i] = e.error();
      entries.emplace_back();
      continue;
    }
    entries.push_back(std::move(*e));
  }

  std::string out = R"({"resourceType":"Bundle","type":")";
  out += transaction ? "transaction-response" : "batch-response";
  out += R"(","entry":[)";

  if (transaction) {
    std::vector<std::optional<core::Result<Outcome>>> slots(n);
    core::Status st = s.store.transaction([&](storage::Writer& w) -> core::Status {
      return run_transaction(s, w, caller, entries, slots);
    });
    if (!st.ok()) return error_response(st.error(), shape.pretty);
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ',';
      append_entry(out, s, *slots[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ',';
      if (parse_errors[i]) {
        append_entry(out, s, core::Result<Outcome>(*parse_errors[i]));
        continue;
      }
      EntryRequest& e = entries[i];
      if (e.resource && (e.method == "POST" || e.method == "PUT")) {
        core::Status v = fhir::validate_resource(*e.resource, e.type);
        if (!v.ok()) {
          append_entry(out, s, core::Result<Outcome>(at_entry(v.error(), i)));
          continue;
        }
      }
      std::optional<core::Result<Outcome>> slot;
      core::Status st = s.store.transaction([&](storage::Writer& w) -> core::Status {
        auto r = run_entry(s, w, e, caller);
        if (!r.ok()) return std::move(r).error();
        slot = std::move(r);
        return {};
      });
      append_entry(out, s,
                   st.ok() ? std::move(*slot) : core::Result<Outcome>(at_entry(st.error(), i)));
    }
  }
  out += "]}";
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

}  // namespace ipa::rest::internal
