#include "rest/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "fhir/model.h"
#include "fhir/outcome.h"
#include "fhir/validate.h"
#include "rest/internal/audit.h"
#include "rest/internal/common.h"
#include "rest/internal/cors.h"
#include "rest/internal/path.h"
#include "rest/internal/smart.h"
#include "rest/negotiate.h"

namespace ipa::rest {

using internal::Params;
using internal::Shape;
using internal::State;

struct FhirApi::Impl : State {
  using State::State;

  ~Impl() { stop_maintenance(); }

  // Deletes expired auth state (sessions, authorization requests, refresh tokens, jti records,
  // throttle windows; codes after kCodeRetention, so that a late second use is still detected
  // and revokes what the first issued) every `interval`, on a thread of its own: never on a
  // request. Any node may run it; the deletes are idempotent.
  void start_maintenance(std::chrono::milliseconds interval) {
    maintenance = std::thread([this, interval] {
      std::unique_lock lock(maintenance_mu);
      while (!maintenance_cv.wait_for(lock, interval, [this] { return maintenance_stop; })) {
        lock.unlock();
        auto n = auth->store->purge_expired(kCodeRetention);
        if (!n.ok()) {
          spdlog::warn("auth: purging expired records failed: {}", n.error().diagnostics);
        } else if (*n > 0) {
          spdlog::info("auth: purged {} expired records", *n);
        }
        lock.lock();
      }
    });
  }

  void stop_maintenance() {
    {
      std::lock_guard lock(maintenance_mu);
      maintenance_stop = true;
    }
    maintenance_cv.notify_all();
    if (maintenance.joinable()) maintenance.join();
  }

  static constexpr std::chrono::seconds kCodeRetention{600};
  std::mutex maintenance_mu;
  std::condition_variable maintenance_cv;
  bool maintenance_stop = false;  // guarded by maintenance_mu
  std::thread maintenance;
};

namespace {

// `res` is taken by value: an unshaped representation moves its stored text into the body.
http::Response resource_response(int status, storage::StoredResource res, const Shape& shape,
                                 internal::Return ret, const std::string& location = {}) {
  http::Response r;
  if (ret == internal::Return::kMinimal) {
    r.status = status;
  } else if (ret == internal::Return::kOperationOutcome) {
    r = internal::json_response(
        status,
        json::write(fhir::information_outcome("Stored " + res.resource_type + "/" + res.id +
                                              " version " + std::to_string(res.version_id) + "."),
                    json::WriteOptions{.pretty = shape.pretty}));
  } else if (!shape.pretty && !shape.subsets()) {
    r = internal::json_response(status, std::move(res.json));  // served as stored
  } else {
    auto body = internal::shaped(res.json, shape);
    if (!body.ok()) return internal::error_response(body.error());
    r = internal::json_response(status, std::move(*body));
  }
  internal::set_version_headers(r, res);
  if (!location.empty()) r.headers.push_back({"Location", location});
  return r;
}

// Binary read with a non-FHIR Accept: the raw bytes, served so a browser cannot run them.
http::Response raw_binary(const storage::StoredResource& res) {
  auto v = json::parse(res.json, json::ParseOptions{.max_depth = 1000});
  if (!v.ok()) return internal::error_response(core::internal("stored Binary does not parse"));
  std::string_view data = v->get_string("data");
  std::string bytes;
  bytes.resize(data.size() / 4 * 3 + 3);
  int n = 0;
  {
    // Base64 decode (RFC 4648 section 4); the stored value was validated on write.
    static constexpr auto kTable = [] {
      std::array<int8_t, 256> t{};
      t.fill(-1);
      const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
      return t;
    }();
    uint32_t acc = 0;
    int bits = 0;
    for (char c : data) {
      int8_t d = kTable[static_cast<unsigned char>(c)];
      if (d < 0) continue;  // '=' padding and whitespace
      acc = (acc << 6) | static_cast<uint32_t>(d);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes[static_cast<size_t>(n++)] = static_cast<char>((acc >> bits) & 0xff);
      }
    }
  }
  bytes.resize(static_cast<size_t>(n));
  http::Response r;
  r.status = 200;
  r.body = std::move(bytes);
  std::string_view ct = v->get_string("contentType");
  r.headers.push_back({"Content-Type", ct.empty() ? "application/octet-stream" : std::string(ct)});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.headers.push_back({"Content-Security-Policy", "sandbox"});
  r.headers.push_back({"Content-Disposition", "attachment"});
  internal::set_version_headers(r, res);
  return r;
}

// Conditional read (FHIR R4 http.html#cread): 304 when the client's copy is current.
bool not_modified(const http::Request& req, const storage::StoredResource& res) {
  std::string inm = req.header("If-None-Match");
  if (!inm.empty()) {
    auto v = internal::parse_etag(inm);
    return v.ok() && *v == res.version_id;
  }
  std::string ims = req.header("If-Modified-Since");
  if (!ims.empty()) {
    core::TimePoint since;
    if (core::parse_http_date(ims, since)) {
      return std::chrono::floor<std::chrono::seconds>(res.last_updated) <= since;
    }
  }
  return false;
}

http::Response not_modified_response(const storage::StoredResource& res) {
  http::Response r;
  r.status = 304;
  internal::set_version_headers(r, res);
  return r;
}

core::Result<std::optional<int64_t>> if_match_of(const http::Request& req) {
  std::string h = req.header("If-Match");
  if (h.empty()) return std::optional<int64_t>();
  auto v = internal::parse_etag(h);
  if (!v.ok()) return std::move(v).error();
  return std::optional<int64_t>(*v);
}

template <typename Fn>
core::Result<internal::Outcome> in_transaction(State& s, Fn fn) {
  std::optional<internal::Outcome> out;
  core::Status st = s.store.transaction([&](storage::Writer& w) -> core::Status {
    auto r = fn(w);
    if (!r.ok()) return std::move(r).error();
    out = std::move(*r);
    return {};
  });
  if (!st.ok()) return std::move(st).error();
  return std::move(*out);
}

http::Response write_response(core::Result<internal::Outcome> r, const Shape& shape,
                              const http::Request& req) {
  if (!r.ok()) return internal::error_response(r.error(), shape.pretty);
  if (!r->resource) {
    http::Response resp;
    resp.status = r->status;
    return resp;
  }
  return resource_response(r->status, std::move(*r->resource), shape,
                           internal::prefer_return(req.header("Prefer")), r->location);
}

// Prefer: handling=strict makes unknown search parameters errors (FHIR R4 search.html#errors).
bool strict(const http::Request& req) {
  return req.header("Prefer").find("handling=strict") != std::string::npos;
}

// A resource the grant does not cover looks like one that does not exist (R30, S91).
http::Response hidden(const std::string& type, const std::string& id) {
  return internal::error_response(
      core::not_found("Resource " + type + "/" + id + " is not known."));
}

// The current version for a read by id. A patient-bound caller reads a Patient-compartment type
// (and Binary, owned by its securityContext's patient) through its patient (the owner goes into the
// query, one shard under Citus: docs/scale-out.md); another patient's resource is then not found,
// as hidden() would answer.
core::Result<storage::StoredResource> read_current(internal::State& s, const internal::Caller* c,
                                                   const std::string& type, const std::string& id) {
  if (c != nullptr && !c->patient.empty() &&
      (type == "Patient" || type == "Binary" || !fhir::patient_compartment_params(type).empty())) {
    return s.store.read_for_patient(c->patient, type, id);
  }
  return s.store.read(type, id);
}

core::Error unknown_type(const std::string& type) {
  return core::not_found("Resource type '" + type + "' is not known to FHIR R4.");
}

}  // namespace

bool enforcement_compiled_out() {
#ifdef IPA_BENCH_NO_ENFORCEMENT
  return true;
#else
  return false;
#endif
}

FhirApi::FhirApi(ApiOptions options, storage::ResourceStore& store,
                 std::shared_ptr<core::Clock> clock, std::unique_ptr<core::IdGenerator> ids,
                 std::shared_ptr<storage::AuthStore> auth_store)
    : impl_(std::make_unique<Impl>(std::move(options), store, std::move(clock), std::move(ids))) {
  if (auth_store) {
    impl_->auth = internal::make_auth_state(
        impl_->options.base_url, impl_->options.base_path, std::move(auth_store), impl_->clock,
        internal::curl_jwks_fetcher(impl_->options.allow_loopback_jwks));
    impl_->auth->open_registration = impl_->options.open_registration;
    impl_->auth->allow_loopback_jwks = impl_->options.allow_loopback_jwks;
    impl_->auth->cors = std::make_shared<internal::CorsPolicy>(impl_->options.cors_origins,
                                                               impl_->auth->store, impl_->clock);
    audit::AuditLogOptions ao;
    ao.node = impl_->options.node_name;
    // Tests of the shutdown flush stretch the batch interval so only SIGTERM can write.
    if (const char* ms = std::getenv("IPA_TEST_AUDIT_FLUSH_MS")) {
      ao.flush_interval = std::chrono::milliseconds(std::strtoll(ms, nullptr, 10));
    }
    // Tests that page through single events turn folding off (audit/audit_log.h).
    if (const char* fold = std::getenv("IPA_TEST_AUDIT_FOLD")) ao.fold_reads = fold[0] != '0';
    impl_->auth->audit =
        std::make_unique<audit::AuditLog>(audit::append_to(impl_->auth->store), std::move(ao));
    // Expired auth state is deleted every 10 minutes; tests shorten it.
    std::chrono::milliseconds purge_every = std::chrono::minutes(10);
    if (const char* ms = std::getenv("IPA_TEST_PURGE_INTERVAL_MS")) {
      purge_every = std::chrono::milliseconds(std::max(1LL, std::strtoll(ms, nullptr, 10)));
    }
    impl_->start_maintenance(purge_every);
  }
  impl_->capability_json = std::make_shared<const std::string>(internal::build_capability_statement(
      impl_->options, impl_->clock->now(), impl_->auth ? impl_->auth->auth_base : std::string()));
}

FhirApi::~FhirApi() = default;

const ApiOptions& FhirApi::options() const { return impl_->options; }

http::Response FhirApi::handle(const http::Request& req) {
  std::shared_ptr<const auth::AccessTokenClaims> who;
  http::Response r = handle_request(req, who);
  // Every authenticated FHIR interaction lands in the audit trail (enqueued, written later).
  if (who) internal::audit_fhir(*impl_, req, *who, r.status);
  // S88: with access control on, the FHIR API and the token endpoint answer the origins of
  // registered apps and configured ones; discovery, the JWKS and metadata answer any origin
  // (rest/cors.cc). Without it (development), everything under the base answers any origin.
  if (impl_->auth && impl_->auth->cors) {
    impl_->auth->cors->apply(req, impl_->options.base_path, r);
  } else if (req.path.rfind(impl_->options.base_path, 0) == 0) {
    bool has = false;
    for (const auto& h : r.headers) has |= h.name == "Access-Control-Allow-Origin";
    if (!has) r.headers.push_back({"Access-Control-Allow-Origin", "*"});
  }
  return r;
}

http::Response FhirApi::handle_request(const http::Request& req,
                                       std::shared_ptr<const auth::AccessTokenClaims>& who) {
  State& s = *impl_;
  if (req.path == "/livez") return internal::json_response(200, R"({"status":"ok"})");
  if (req.path == "/readyz") {
    core::Status st = s.store.ping();
    if (!st.ok()) return internal::error_response(core::unavailable("The store is not ready."));
    return internal::json_response(200, R"({"status":"ready"})");
  }
  if (s.auth && req.path.rfind("/auth/", 0) == 0) {
    auto r = internal::handle_auth(s, req, req.path.substr(6));
    if (r) internal::audit_auth(s, req, req.path.substr(6), *r);
    if (r) return std::move(*r);
    return internal::error_response(core::not_found("No such endpoint: " + req.path));
  }
  const std::string& bp = s.options.base_path;
  if (req.path.compare(0, bp.size(), bp) != 0 ||
      (req.path.size() > bp.size() && req.path[bp.size()] != '/')) {
    return internal::error_response(core::not_found("No such endpoint: " + req.path));
  }
  auto params = internal::parse_query(req.query);
  if (!params.ok()) return internal::error_response(params.error());
  auto shape = internal::parse_shape(*params);
  if (!shape.ok()) return internal::error_response(shape.error());
  std::vector<std::string> parts =
      internal::split_path(std::string_view(req.path).substr(bp.size()));
  const std::string& method = req.method == "HEAD" ? "GET" : req.method;
  if (s.auth) {
    if (auto d = internal::handle_discovery(s, req, parts)) return std::move(*d);
  }
  if (!parts.empty() && parts[0] == ".well-known") {
    return internal::error_response(core::not_found("No such endpoint: " + req.path));
  }
  // Every FHIR interaction but metadata needs a valid access token when access control is on
  // (S90-S91); `caller` is null when it is off.
  std::optional<internal::Caller> caller_value;
  const internal::Caller* caller = nullptr;
  bool open_path = !parts.empty() && parts[0] == "metadata";
  if (s.auth && method == "OPTIONS") return internal::cors_preflight();
  if (s.auth && !open_path) {
    auto c = internal::authenticate(s, req);
    if (!c.ok()) return internal::bearer_challenge(c.error());
    caller_value = std::move(*c);
    who = caller_value->claims;
    // The bench-only build (bench/auth.sh) keeps the token check and the audit trail but skips
    // every grant check below, as with access control off.
#ifndef IPA_BENCH_NO_ENFORCEMENT
    caller = &*caller_value;
#endif
    // Writes are checked per interaction (guard.cc): scopes, then the compartment before and
    // after the change.
  }

  bool binary_read = method == "GET" && parts.size() >= 2 && parts[0] == "Binary" &&
                     parts[1][0] != '_' && parts[1][0] != '$';
  auto format = negotiate(req.header("Accept"), internal::param(*params, "_format"), binary_read);
  if (!format.ok()) return internal::error_response(format.error(), shape->pretty);

  if (!req.body.empty() && (method == "POST" || method == "PUT")) {
    bool form_search = parts.size() == 2 && parts[1] == "_search";
    if (!form_search) {
      core::Status ct = check_body_type(req.header("Content-Type"));
      if (!ct.ok()) return internal::error_response(ct.error(), shape->pretty);
    }
  }

  // [base] and [base]/metadata, [base]/_history
  if (parts.empty()) {
    if (method == "POST") {
      auto bundle = internal::parse_bundle(req.body);
      if (!bundle.ok()) return internal::error_response(bundle.error(), shape->pretty);
      return internal::process_bundle(s, std::move(*bundle), *shape, caller);
    }
    return internal::error_response(core::method_not_allowed(
        "Use POST [base] with a batch or transaction Bundle; whole-system search is not "
        "supported."));
  }
  if (parts[0] == "metadata") {
    if (method != "GET") {
      return internal::error_response(core::method_not_allowed("metadata is read with GET."));
    }
    if (!shape->pretty) {
      http::Response r = internal::json_response(200, "");
      r.shared_body = s.capability_json;  // sent without a copy
      return r;
    }
    auto pretty = internal::shaped(*s.capability_json, *shape);
    return internal::json_response(200, pretty.ok() ? *pretty : *s.capability_json);
  }
  if (parts[0] == "_history") {
    if (method != "GET" || parts.size() != 1) {
      return internal::error_response(core::method_not_allowed("History is read with GET."));
    }
    if (caller && !internal::unbounded_read(*caller, "*")) {
      return internal::bearer_challenge(
          core::forbidden("Whole-system history is available to backend services that read "
                          "every type (system/*.rs) only."));
    }
    return internal::history(s, "", "", *params, *shape);
  }

  const std::string& type = parts[0];
  if (!fhir::is_resource_type(type)) return internal::error_response(unknown_type(type));
  if (type == "AuditEvent") {  // synthesised from the audit trail; writes refused (audit.cc)
    return internal::audit_events(s, method, parts, *params, req.body, *shape, strict(req), caller);
  }

  if (parts.size() == 1) {
    if (method == "POST") {
      if (caller) {
        if (auto st = internal::allow(*caller, auth::Interaction::kCreate, type); !st.ok()) {
          return internal::bearer_challenge(st.error());
        }
      }
      auto body = internal::parse_resource(req.body, type);
      if (!body.ok()) return internal::error_response(body.error(), shape->pretty);
      std::string ine = req.header("If-None-Exist");
      auto r = in_transaction(s, [&](storage::Writer& w) {
        return internal::guarded_create(s, w, caller, type, std::move(*body), ine);
      });
      return write_response(std::move(r), *shape, req);
    }
    if (method == "GET") {
      return internal::run_search(s, type, *params, *shape, strict(req), "", caller);
    }
    return internal::error_response(
        core::method_not_allowed(method + " is not allowed on [base]/" + type + "."));
  }

  const std::string& id = parts[1];
  if (id == "_search" && parts.size() == 2) {
    if (method != "POST") {
      return internal::error_response(
          core::method_not_allowed("[type]/_search takes a POST with a form body."));
    }
    std::string ct = req.header("Content-Type");
    if (!req.body.empty() && ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
      return internal::error_response(core::unsupported_media_type(
          "POST [type]/_search takes application/x-www-form-urlencoded."));
    }
    auto form = internal::parse_query(req.body);
    if (!form.ok()) return internal::error_response(form.error());
    Params all = *params;
    all.insert(all.end(), form->begin(), form->end());
    return internal::run_search(s, type, all, *shape, strict(req), "", caller);
  }
  if (id == "_history" && parts.size() == 2) {
    if (method != "GET") {
      return internal::error_response(core::method_not_allowed("History is read with GET."));
    }
    if (caller && !internal::unbounded_read(*caller, type)) {
      return internal::bearer_challenge(
          core::forbidden("Type history is available to backend services reading every " + type +
                          " only; search instead."));
    }
    return internal::history(s, type, "", *params, *shape);
  }
  if (type == "DocumentReference" && id == "$docref" && parts.size() == 2) {
    if (method != "GET" && method != "POST") {
      return internal::error_response(core::method_not_allowed("$docref takes GET or POST."));
    }
    return internal::docref(s, *params, method == "POST" ? req.body : std::string(), *shape,
                            caller);
  }
  if (id[0] == '_' || id[0] == '$') {
    return internal::error_response(
        core::not_found("No such endpoint: " + req.path + " (operations come with later work)."));
  }
  if (!fhir::is_valid_id(id)) {
    return internal::error_response(core::bad_request(
        core::IssueType::kInvalid, "'" + id + "' is not a valid FHIR id ([A-Za-z0-9-.]{1,64})."));
  }

  if (parts.size() == 2) {
    if (method == "GET") {
      if (caller) {
        if (auto st = internal::allow(*caller, auth::Interaction::kRead, type); !st.ok()) {
          return internal::bearer_challenge(st.error());
        }
      }
      auto res = read_current(s, caller, type, id);
      if (!res.ok()) return internal::error_response(res.error(), shape->pretty);
      if (caller && !internal::visible(s, *caller, *res)) return hidden(type, id);
      if (not_modified(req, *res)) return not_modified_response(*res);
      if (*format == Format::kRaw) return raw_binary(*res);
      return resource_response(200, std::move(*res), *shape, internal::Return::kRepresentation);
    }
    if (method == "PUT" || method == "DELETE") {
      auto needed = method == "PUT" ? auth::Interaction::kUpdate : auth::Interaction::kDelete;
      if (caller) {
        if (auto st = internal::allow(*caller, needed, type); !st.ok()) {
          return internal::bearer_challenge(st.error());
        }
      }
    }
    if (method == "PUT") {
      auto body = internal::parse_resource(req.body, type);
      if (!body.ok()) return internal::error_response(body.error(), shape->pretty);
      auto if_match = if_match_of(req);
      if (!if_match.ok()) return internal::error_response(if_match.error(), shape->pretty);
      auto r = in_transaction(s, [&](storage::Writer& w) {
        return internal::guarded_update(s, w, caller, type, id, std::move(*body), *if_match);
      });
      return write_response(std::move(r), *shape, req);
    }
    if (method == "DELETE") {
      auto if_match = if_match_of(req);
      if (!if_match.ok()) return internal::error_response(if_match.error(), shape->pretty);
      auto r = in_transaction(s, [&](storage::Writer& w) {
        return internal::guarded_delete(s, w, caller, type, id, *if_match);
      });
      return write_response(std::move(r), *shape, req);
    }
    return internal::error_response(
        core::method_not_allowed(method + " is not allowed on [base]/" + type + "/[id]."));
  }

  if (type == "Patient" && parts.size() == 3 &&
      (parts[2] == "$summary" || parts[2] == "$everything")) {
    if (method != "GET") {
      return internal::error_response(core::method_not_allowed(parts[2] + " is read with GET."));
    }
    // Backend services may ask for any patient; $summary is built without per-resource
    // checks, so it needs a scope that reads every type unfiltered.
    bool system_ok = caller && internal::is_system(*caller) &&
                     (parts[2] == "$everything" || internal::unbounded_read(*caller, "*"));
    if (caller && id != caller->patient && !system_ok) {
      return internal::bearer_challenge(
          core::forbidden(parts[2] + " is only available for the patient in context."));
    }
    if (caller) {
      if (auto st = internal::allow(*caller, auth::Interaction::kRead, "Patient"); !st.ok()) {
        return internal::bearer_challenge(st.error());
      }
    }
    if (parts[2] == "$summary") return internal::ips_summary(s, id, *shape);
    return internal::everything(s, id, *params, *shape, caller);
  }
  if (type == "Patient" && parts.size() == 3 && parts[2] == "AuditEvent") {
    return internal::audit_events(s, method, {"AuditEvent"}, *params, "", *shape, strict(req),
                                  caller, id);
  }
  if (type == "Patient" && parts.size() == 3 && fhir::is_resource_type(parts[2])) {
    if (method != "GET") {
      return internal::error_response(
          core::method_not_allowed("Compartment search is read with GET."));
    }
    return internal::run_search(s, parts[2], *params, *shape, strict(req), id, caller);
  }
  if (parts[2] == "_history") {
    if (method != "GET") {
      return internal::error_response(core::method_not_allowed("History is read with GET."));
    }
    // The owner the current version was read at: the history query names it (one shard under
    // Citus, docs/scale-out.md); the answer is the same.
    std::optional<std::string> owner;
    if (caller) {
      if (auto st = internal::allow(*caller, auth::Interaction::kRead, type); !st.ok()) {
        return internal::bearer_challenge(st.error());
      }
      auto current = read_current(s, caller, type, id);
      if (!current.ok()) return internal::error_response(current.error(), shape->pretty);
      if (!internal::visible(s, *caller, *current)) return hidden(type, id);
      owner = current->owner_patient;
    }
    if (parts.size() == 3) return internal::history(s, type, id, *params, *shape, owner);
    if (parts.size() == 4) {
      int64_t vid = 0;
      for (char c : parts[3]) {
        if (c < '0' || c > '9' || vid > 1'000'000'000'000LL) {
          return internal::error_response(core::bad_request(
              core::IssueType::kInvalid, "'" + parts[3] + "' is not a version id."));
        }
        vid = vid * 10 + (c - '0');
      }
      auto res = s.store.vread(type, id, vid);
      if (!res.ok()) return internal::error_response(res.error(), shape->pretty);
      if (*format == Format::kRaw) return raw_binary(*res);
      return resource_response(200, std::move(*res), *shape, internal::Return::kRepresentation);
    }
  }
  return internal::error_response(core::not_found("No such endpoint: " + req.path));
}

}  // namespace ipa::rest

namespace ipa::rest {
namespace {

// Whether `stored_json` (with meta.versionId/lastUpdated) has the same content as `body`.
bool same_content(const std::string& stored_json, const json::Value& body) {
  auto stored = json::parse(stored_json, json::ParseOptions{.max_depth = 1000});
  if (!stored.ok()) return false;
  auto strip = [](json::Value v) {
    if (json::Value* meta = v.find("meta")) {
      meta->erase("versionId");
      meta->erase("lastUpdated");
      if (meta->members().empty()) v.erase("meta");
    }
    json::Object sorted = v.members();
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return json::Value::object(std::move(sorted));
  };
  return strip(std::move(*stored)) == strip(body);
}

}  // namespace

std::vector<core::Result<FhirApi::ImportKind>> FhirApi::import_resources(
    std::vector<json::Value> resources) {
  State& s = *impl_;
  std::vector<core::Result<ImportKind>> out;
  out.reserve(resources.size());
  std::vector<size_t> valid;
  for (size_t i = 0; i < resources.size(); ++i) {
    core::Status st = fhir::validate_resource(resources[i], "");
    if (st.ok() && resources[i].find("id") != nullptr &&
        !fhir::is_valid_id(resources[i].get_string("id"))) {
      st = core::bad_request(core::IssueType::kInvalid, "invalid id");
    }
    if (st.ok()) {
      out.emplace_back(ImportKind::kCreated);
      valid.push_back(i);
    } else {
      out.emplace_back(std::move(st).error());
    }
  }
  auto write_one = [&](storage::Writer& w, size_t i) -> core::Result<ImportKind> {
    json::Value r = resources[i];  // a copy: the fallback below may write it again
    std::string type(r.get_string("resourceType"));
    std::string id(r.get_string("id"));
    if (id.empty()) {
      auto c = internal::do_create(s, w, type, std::move(r), "");
      if (!c.ok()) return std::move(c).error();
      return ImportKind::kCreated;
    }
    auto current = w.read(type, id);
    if (current.ok() && same_content(current->json, r)) return ImportKind::kUnchanged;
    auto u = internal::do_update(s, w, type, id, std::move(r), std::nullopt);
    if (!u.ok()) return std::move(u).error();
    return u->status == 201 ? ImportKind::kCreated : ImportKind::kUpdated;
  };
  core::Status st = s.store.transaction([&](storage::Writer& w) -> core::Status {
    for (size_t i : valid) {
      auto r = write_one(w, i);
      if (!r.ok()) return std::move(r).error();
      out[i] = *r;
    }
    return {};
  });
  if (!st.ok() && valid.size() > 1) {
    // One entry failed the batch: write each on its own so the others still land.
    for (size_t i : valid) {
      core::Status one = s.store.transaction([&](storage::Writer& w) -> core::Status {
        auto r = write_one(w, i);
        if (!r.ok()) return std::move(r).error();
        out[i] = *r;
        return {};
      });
      if (!one.ok()) out[i] = std::move(one).error();
    }
  } else if (!st.ok()) {
    for (size_t i : valid) out[i] = st.error();
  }
  return out;
}

}  // namespace ipa::rest
