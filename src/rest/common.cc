#include "rest/internal/common.h"

#include <spdlog/spdlog.h>

#include "core/percent.h"
#include "fhir/model.h"
#include "fhir/outcome.h"
#include "fhir/validate.h"
#include "search/extract.h"
#include "search/query.h"

namespace ipa::rest::internal {

// Lenient on purpose: FHIR clients send characters such as '|' unencoded (system|code), which
// RFC 3986 parsers reject; only broken percent-escapes are an error.
core::Result<Params> parse_query(std::string_view query) {
  constexpr core::PercentDecoding kForm{.plus_is_space = true};
  Params out;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::optional<std::string> key = core::percent_decode(pair.substr(0, eq), kForm);
    std::optional<std::string> value = eq == std::string_view::npos
                                           ? std::string()
                                           : core::percent_decode(pair.substr(eq + 1), kForm);
    if (!key || !value) {
      return core::bad_request(core::IssueType::kInvalid,
                               "The query string has a malformed percent-escape.");
    }
    if (key->empty()) continue;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string_view param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

bool has_param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

core::Result<Shape> parse_shape(const Params& params) {
  Shape shape;
  for (const auto& [k, v] : params) {
    if (k == "_pretty") {
      if (v != "true" && v != "false") {
        return core::bad_request(core::IssueType::kInvalid, "_pretty must be true or false.")
            .at("_pretty");
      }
      shape.pretty = v == "true";
    } else if (k == "_summary") {
      if (v != "true" && v != "false" && v != "text" && v != "data" && v != "count") {
        return core::bad_request(core::IssueType::kInvalid,
                                 "_summary must be one of true, false, text, data, count.");
      }
      shape.summary = v;
    } else if (k == "_elements") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string name =
            v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!name.empty()) shape.elements.push_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  return shape;
}

namespace {

void mark_subsetted(json::Value& resource) {
  json::Value* meta = resource.find("meta");
  if (meta == nullptr) {
    resource.set("meta", json::Value::object());
    meta = resource.find("meta");
  }
  json::Value tag = json::Value::object();
  tag.set("system",
          json::Value::string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"));
  tag.set("code", json::Value::string("SUBSETTED"));
  tag.set("display", json::Value::string("subsetted"));
  json::Value* tags = meta->find("tag");
  if (tags == nullptr) {
    meta->set("tag", json::Value::array({std::move(tag)}));
  } else {
    tags->push_back(std::move(tag));
  }
}

bool always_kept(std::string_view name) {
  return name == "resourceType" || name == "id" || name == "meta";
}

}  // namespace

core::Result<std::string> shaped(const std::string& stored_json, const Shape& shape) {
  if (!shape.pretty && !shape.subsets()) return stored_json;
  auto parsed = json::parse(stored_json, json::ParseOptions{.max_depth = 1000});
  if (!parsed.ok()) return core::internal("stored resource does not parse");
  json::Value v = std::move(parsed).value();
  if (shape.subsets()) {
    json::Object kept;
    std::string type(v.get_string("resourceType"));  // a copy: members are moved below
    for (auto& m : v.members()) {
      bool keep = false;
      if (!shape.elements.empty()) {
        keep = always_kept(m.first) || std::find(shape.elements.begin(), shape.elements.end(),
                                                 m.first) != shape.elements.end();
      } else if (shape.summary == "text") {
        keep = always_kept(m.first) || m.first == "text";
        if (!keep) {
          // Mandatory elements stay (FHIR R4 search.html#summary).
          if (const auto* t = fhir::find_type(type)) {
            const auto* e = t->find_element(m.first);
            keep = e != nullptr && e->min > 0;
          }
        }
      } else if (shape.summary == "data") {
        keep = m.first != "text";
      } else if (shape.summary == "true") {
        keep = always_kept(m.first);
        if (!keep) {
          if (const auto* t = fhir::find_type(type)) {
            const auto* e = t->find_element(m.first);
            keep = e != nullptr && (e->min > 0 || e->is_summary);
          }
        }
      } else {
        keep = true;
      }
      if (keep) kept.push_back(std::move(m));
    }
    v = json::Value::object(std::move(kept));
    mark_subsetted(v);
  }
  return json::write(v, json::WriteOptions{.pretty = shape.pretty});
}

Return prefer_return(std::string_view prefer) {
  if (prefer.find("return=minimal") != std::string_view::npos) return Return::kMinimal;
  if (prefer.find("return=OperationOutcome") != std::string_view::npos) {
    return Return::kOperationOutcome;
  }
  return Return::kRepresentation;
}

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.reserve(6);  // Content-Type, ETag, Last-Modified, Location, CORS, X-Node
  r.headers.push_back({"Content-Type", "application/fhir+json; charset=utf-8"});
  return r;
}

http::Response error_response(const core::Error& error, bool pretty) {
  if (error.http_status >= 500) {
    spdlog::error("status={} {}: {}", error.http_status, error.diagnostics, error.log_detail);
  } else if (!error.log_detail.empty()) {
    spdlog::info("status={} {}", error.http_status, error.log_detail);
  }
  return json_response(error.http_status, json::write(fhir::operation_outcome(error),
                                                      json::WriteOptions{.pretty = pretty}));
}

void set_version_headers(http::Response& r, const storage::StoredResource& res) {
  r.headers.push_back({"ETag", "W/\"" + std::to_string(res.version_id) + "\""});
  r.headers.push_back({"Last-Modified", core::format_http_date(res.last_updated)});
}

core::Result<int64_t> parse_etag(std::string_view etag) {
  std::string_view s = etag;
  if (s.rfind("W/", 0) == 0) s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  int64_t v = 0;
  if (s.empty() || s.size() > 18) {
    return core::bad_request(core::IssueType::kInvalid,
                             "ETag " + std::string(etag) + " is not a version, e.g. W/\"3\".");
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return core::bad_request(core::IssueType::kInvalid,
                               "ETag " + std::string(etag) + " is not a version, e.g. W/\"3\".");
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string location_of(const State& s, const storage::StoredResource& r) {
  return s.options.base_url + "/" + r.resource_type + "/" + r.id + "/_history/" +
         std::to_string(r.version_id);
}

core::Result<json::Value> parse_resource(std::string_view body, std::string_view expected_type) {
  if (body.empty()) {
    return core::bad_request(core::IssueType::kRequired, "The request body is empty.");
  }
  auto v = json::parse(body);
  if (!v.ok()) return std::move(v).error();
  IPA_RETURN_IF_ERROR(fhir::validate_resource(*v, expected_type));
  return std::move(v).value();
}

namespace {

// Returns the resource with id and meta.versionId/lastUpdated set, in canonical member order.
std::string render(const json::Value& body, const std::string& id,
                   const storage::VersionStamp& stamp) {
  json::Object out;
  out.reserve(body.members().size() + 2);
  out.emplace_back("resourceType",
                   json::Value::string(std::string(body.get_string("resourceType"))));
  out.emplace_back("id", json::Value::string(id));
  json::Value meta = json::Value::object();
  meta.set("versionId", json::Value::string(std::to_string(stamp.version_id)));
  meta.set("lastUpdated", json::Value::string(core::format_instant(stamp.last_updated)));
  if (const json::Value* old = body.find("meta")) {
    for (const auto& m : old->members()) {
      if (m.first != "versionId" && m.first != "lastUpdated") meta.members().push_back(m);
    }
  }
  out.emplace_back("meta", std::move(meta));
  for (const auto& m : body.members()) {
    if (m.first == "resourceType" || m.first == "id" || m.first == "meta") continue;
    out.push_back(m);
  }
  return json::write(json::Value::object(std::move(out)));
}

// The index rows of `body` (whose id is set). Errors: 422 when a value cannot be indexed.
core::Result<storage::IndexRows> index_rows(State& s, const json::Value& body) {
  search::ExtractOptions eo;
  eo.base_url = s.options.base_url;
  return search::extract(body, eo);
}

}  // namespace

// If-None-Exist criteria (FHIR R4 http.html#ccreate): a search; unknown parameters are errors,
// never ignored, since ignoring one would widen the match.
core::Result<storage::SearchPlan> parse_criteria(State& s, const std::string& type,
                                                 std::string_view query) {
  std::string_view q = query;
  if (size_t qm = q.find('?'); qm != std::string_view::npos) q = q.substr(qm + 1);
  auto params = parse_query(q);
  if (!params.ok()) return std::move(params).error();
  if (params->empty()) {
    return core::bad_request(core::IssueType::kInvalid, "If-None-Exist has no criteria.");
  }
  search::QueryOptions qo;
  qo.base_url = s.options.base_url;
  qo.strict = true;
  auto parsed = search::parse_search(type, *params, qo);
  if (!parsed.ok()) {
    core::Error e = std::move(parsed).error();
    e.diagnostics = "If-None-Exist: " + e.diagnostics;
    return e;
  }
  return std::move(parsed->plan);
}

core::Result<Outcome> do_create(State& s, storage::Writer& w, const std::string& type,
                                json::Value body, std::string_view if_none_exist,
                                std::string assigned_id, const std::string& criteria_patient) {
  std::optional<storage::SearchPlan> criteria;
  if (!if_none_exist.empty()) {
    auto c = parse_criteria(s, type, if_none_exist);
    if (!c.ok()) return std::move(c).error();
    criteria = std::move(*c);
    if (!criteria_patient.empty()) criteria->compartment_patient = criteria_patient;
  }
  storage::Write write;
  write.resource_type = type;
  write.id = assigned_id.empty() ? s.next_id() : std::move(assigned_id);
  body.set("id", json::Value::string(write.id));
  auto rows = index_rows(s, body);
  if (!rows.ok()) return std::move(rows).error();
  write.index = std::move(*rows);
  std::string id = write.id;
  write.render = [&body, id](const storage::VersionStamp& v) -> core::Result<std::string> {
    return render(body, id, v);
  };
  auto r = w.create(std::move(write), criteria ? &*criteria : nullptr);
  if (!r.ok()) return std::move(r).error();
  if (r->existed) return Outcome{200, std::move(r->resource), {}};
  Outcome out{201, std::move(r->resource), {}};
  out.location = location_of(s, *out.resource);
  return out;
}

core::Result<Outcome> do_update(State& s, storage::Writer& w, const std::string& type,
                                const std::string& id, json::Value body,
                                std::optional<int64_t> if_match) {
  std::string_view body_id = body.get_string("id");
  if (body_id.empty()) {
    return core::bad_request(core::IssueType::kRequired,
                             "An update needs the resource id in the body, equal to the URL's.")
        .at(type + ".id");
  }
  if (body_id != id) {
    return core::bad_request(core::IssueType::kInvalid, "The body's id '" + std::string(body_id) +
                                                            "' differs from the URL's id '" + id +
                                                            "'.")
        .at(type + ".id");
  }
  if (!fhir::is_valid_id(id)) {
    return core::bad_request(core::IssueType::kInvalid, "'" + id + "' is not a valid FHIR id.");
  }
  storage::Write write;
  write.resource_type = type;
  write.id = id;
  write.if_match = if_match;
  auto rows = index_rows(s, body);
  if (!rows.ok()) return std::move(rows).error();
  write.index = std::move(*rows);
  write.render = [&body, id](const storage::VersionStamp& v) -> core::Result<std::string> {
    return render(body, id, v);
  };
  auto r = w.update(std::move(write));
  if (!r.ok()) return std::move(r).error();
  Outcome out{r->created ? 201 : 200, std::move(r->resource), {}};
  out.location = location_of(s, *out.resource);
  return out;
}

core::Result<Outcome> do_delete(State&, storage::Writer& w, const std::string& type,
                                const std::string& id, std::optional<int64_t> if_match) {
  auto r = w.remove(type, id, if_match);
  if (!r.ok()) return std::move(r).error();
  return Outcome{204, std::nullopt, {}};
}

}  // namespace ipa::rest::internal
