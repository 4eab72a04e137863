// Shared pieces of the REST module's implementation: the API's state, query parameters,
// response builders and the interactions that batch/transaction entries reuse.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "http/server.h"
#include "json/json.h"
#include "rest/api.h"
#include "storage/resource_store.h"

namespace ipa::rest::internal {

using Params = std::vector<std::pair<std::string, std::string>>;

// Decodes an application/x-www-form-urlencoded query ('+' is a space, %XX escapes).
// Errors: 400 on malformed percent-encoding.
core::Result<Params> parse_query(std::string_view query);
std::string_view param(const Params& params, std::string_view name);
bool has_param(const Params& params, std::string_view name);

struct AuthState;
struct Caller;

struct State {
  State(ApiOptions o, storage::ResourceStore& st, std::shared_ptr<core::Clock> c,
        std::unique_ptr<core::IdGenerator> i);  // in smart.cc, where AuthState is complete

  ApiOptions options;
  storage::ResourceStore& store;
  std::shared_ptr<core::Clock> clock;
  std::unique_ptr<core::IdGenerator> ids;
  std::mutex ids_mu;
  std::shared_ptr<const std::string> capability_json;  // built once; shared by responses
  std::unique_ptr<AuthState> auth;                     // null: access control is off
  ~State();

  std::string next_id() {
    std::lock_guard<std::mutex> lock(ids_mu);
    return ids->next_id();
  }
};

// How the response body is shaped (FHIR R4 search.html#summary, #elements; http.html#general).
struct Shape {
  bool pretty = false;
  std::string summary;                // "", "true", "false", "text", "data", "count"
  std::vector<std::string> elements;  // top-level element names
  bool subsets() const { return (!summary.empty() && summary != "false") || !elements.empty(); }
};

// Parses _pretty, _summary and _elements. Errors: 400 for malformed values.
core::Result<Shape> parse_shape(const Params& params);

// Returns the resource JSON text shaped by `shape` (the stored text untouched when no shaping).
core::Result<std::string> shaped(const std::string& stored_json, const Shape& shape);

// Prefer header (RFC 7240; FHIR R4 http.html#ops): return=minimal|representation|OperationOutcome.
enum class Return { kRepresentation, kMinimal, kOperationOutcome };
Return prefer_return(std::string_view prefer);

http::Response json_response(int status, std::string body);
http::Response error_response(const core::Error& error, bool pretty = false);
void set_version_headers(http::Response& r, const storage::StoredResource& res);

// Parses a weak or strong ETag `W/"3"` into its version. Errors: 400.
core::Result<int64_t> parse_etag(std::string_view etag);

// The outcome of one interaction (a REST call or a batch/transaction entry).
struct Outcome {
  int status = 200;
  std::optional<storage::StoredResource> resource;
  std::string location;  // [base]/Type/id/_history/vid for writes
};

// If-None-Exist criteria (FHIR R4 http.html#ccreate) as a search plan on `type`; `query` may
// start with "[type]?". Errors: 400 when empty or malformed, or naming an unknown parameter.
core::Result<storage::SearchPlan> parse_criteria(State& s, const std::string& type,
                                                 std::string_view query);

// Interactions over a transaction's Writer. `body` is the parsed, not yet validated resource.
// `criteria_patient`, when set, bounds the If-None-Exist search to that patient's compartment.
core::Result<Outcome> do_create(State& s, storage::Writer& w, const std::string& type,
                                json::Value body, std::string_view if_none_exist,
                                std::string assigned_id = {},
                                const std::string& criteria_patient = {});
core::Result<Outcome> do_update(State& s, storage::Writer& w, const std::string& type,
                                const std::string& id, json::Value body,
                                std::optional<int64_t> if_match);
core::Result<Outcome> do_delete(State& s, storage::Writer& w, const std::string& type,
                                const std::string& id, std::optional<int64_t> if_match);

// Parses and validates a resource body. Errors: 400/422 with an OperationOutcome-ready Error.
core::Result<json::Value> parse_resource(std::string_view body, std::string_view expected_type);

// Parses a batch/transaction Bundle and validates its shell (everything but the entries'
// resources, which process_bundle validates one by one so a batch can report each).
core::Result<json::Value> parse_bundle(std::string_view body);

// Batch and transaction Bundles: POST [base]. With a `caller` (access control on), every entry
// passes the same grant checks as the interaction it stands for (S67); a refused transaction
// entry fails the whole transaction.
http::Response process_bundle(State& s, json::Value bundle, const Shape& shape,
                              const Caller* caller = nullptr);

// Search (FHIR R4 search.html); `compartment_patient` non-empty for Patient/[id]/[type].
// With a `caller` (access control on), the search is bounded by its grant.
http::Response run_search(State& s, const std::string& type, const Params& params,
                          const Shape& shape, bool strict, const std::string& compartment_patient,
                          const Caller* caller);

// Operations: DocumentReference/$docref (GET or POST with Parameters), Patient/[id]/$summary,
// Patient/[id]/$everything.
http::Response docref(State& s, const Params& query, const std::string& body, const Shape& shape,
                      const Caller* caller);
http::Response ips_summary(State& s, const std::string& pid, const Shape& shape);
http::Response everything(State& s, const std::string& pid, const Params& params,
                          const Shape& shape, const Caller* caller);

// History bundle (FHIR R4 http.html#history). `owner`: for an instance history, the resource's
// current owner when the caller just read it (StoredResource::owner_patient): the store reads
// that patient's rows only (docs/scale-out.md); the answer is the same.
http::Response history(State& s, const std::string& type, const std::string& id,
                       const Params& params, const Shape& shape,
                       std::optional<std::string> owner = std::nullopt);

// The CapabilityStatement, built once from what this server implements; `auth_base` non-empty
// when the SMART authorization server is on (rest.security).
std::string build_capability_statement(const ApiOptions& options, core::TimePoint started,
                                       const std::string& auth_base);

std::string location_of(const State& s, const storage::StoredResource& r);

}  // namespace ipa::rest::internal
