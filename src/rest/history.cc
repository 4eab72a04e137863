// History interactions (FHIR R4 http.html#history): instance, type and system, newest first,
// paged with a keyset cursor, filtered by _since.
#include "fhir/validate.h"
#include "rest/internal/common.h"

namespace ipa::rest::internal {
namespace {

core::Result<int> parse_count(std::string_view v, const ApiOptions& o) {
  if (v.empty()) return o.default_count;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > 1'000'000) {
      return core::bad_request(core::IssueType::kInvalid, "_count must be a non-negative integer.")
          .at("_count");
    }
    n = n * 10 + (c - '0');
  }
  return std::min(n, o.max_count);
}

void append_link(std::string& out, const char* relation, const std::string& url, bool& first) {
  if (!first) out += ',';
  first = false;
  out += R"({"relation":")";
  out += relation;
  out += R"(","url":)";
  json::write_string(out, url);
  out += '}';
}

}  // namespace

http::Response history(State& s, const std::string& type, const std::string& id,
                       const Params& params, const Shape& shape, std::optional<std::string> owner) {
  storage::HistoryQuery q;
  q.resource_type = type;
  q.id = id;
  if (!id.empty()) q.owner = std::move(owner);
  auto count = parse_count(param(params, "_count"), s.options);
  if (!count.ok()) return error_response(count.error(), shape.pretty);
  q.count = *count;
  std::string_view since = param(params, "_since");
  if (has_param(params, "_since")) {
    core::TimePoint t;
    if (!fhir::is_valid_instant(since) || !core::parse_instant(since, t)) {
      return error_response(core::bad_request(core::IssueType::kInvalid,
                                              "_since must be an instant with a time zone, e.g. "
                                              "2024-01-01T00:00:00Z.")
                                .at("_since"),
                            shape.pretty);
    }
    q.since = t;
  }
  std::string_view cursor = param(params, "_cursor");
  if (!cursor.empty()) {
    int64_t seq = 0;
    for (char c : cursor) {
      if (c < '0' || c > '9' || seq > 1'000'000'000'000'000LL) {
        return error_response(
            core::bad_request(core::IssueType::kInvalid, "_cursor is not a valid page cursor.")
                .at("_cursor"),
            shape.pretty);
      }
      seq = seq * 10 + (c - '0');
    }
    q.before_seq = seq;
  }
  auto page = s.store.history(q);
  if (!page.ok()) return error_response(page.error(), shape.pretty);

  std::string path = s.options.base_url;
  if (!type.empty()) path += "/" + type;
  if (!id.empty()) path += "/" + id;
  path += "/_history?";
  std::string fixed;
  if (q.since) fixed += "_since=" + std::string(since) + "&";
  fixed += "_count=" + std::to_string(q.count);

  std::string out = R"({"resourceType":"Bundle","type":"history","total":)";
  out += std::to_string(page->total);
  out += R"(,"link":[)";
  bool first = true;
  append_link(out, "self", path + fixed + (cursor.empty() ? "" : "&_cursor=" + std::string(cursor)),
              first);
  if (page->next_before_seq) {
    append_link(out, "next", path + fixed + "&_cursor=" + std::to_string(*page->next_before_seq),
                first);
  }
  out += R"(],"entry":[)";
  bool first_entry = true;
  for (const storage::StoredResource& r : page->entries) {
    if (!first_entry) out += ',';
    first_entry = false;
    std::string rel = r.resource_type + "/" + r.id;
    out += R"({"fullUrl":)";
    json::write_string(out, s.options.base_url + "/" + rel);
    if (!r.deleted) {
      out += R"(,"resource":)";
      out += r.json;
    }
    out += R"(,"request":{"method":")";
    out += r.deleted ? "DELETE" : (r.version_id == 1 ? "POST" : "PUT");
    out += R"(","url":)";
    json::write_string(out, r.version_id == 1 && !r.deleted ? r.resource_type : rel);
    out += R"(},"response":{"status":")";
    out += r.deleted ? "204" : (r.version_id == 1 ? "201" : "200");
    out += R"(","etag":"W/\")";
    out += std::to_string(r.version_id);
    out += R"(\"","lastModified":")";
    out += core::format_instant(r.last_updated);
    out += R"("}})";
  }
  out += "]}";
  if (shape.pretty) {
    auto pretty = shaped(out, Shape{.pretty = true});
    if (pretty.ok()) out = std::move(*pretty);
  }
  return json_response(200, std::move(out));
}

}  // namespace ipa::rest::internal
