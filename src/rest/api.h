// FhirApi: the FHIR R4 REST interactions at [base] (read, vread, create, update, delete, history,
// batch/transaction, capabilities) over a ResourceStore. Takes plain http::Request values and
// returns http::Response values: no Beast type, no SQL. Safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "http/server.h"
#include "json/json.h"
#include "storage/auth_store.h"
#include "storage/resource_store.h"

namespace ipa::auth {
struct AccessTokenClaims;
}  // namespace ipa::auth

namespace ipa::rest {

struct ApiOptions {
  // The public FHIR base URL without a trailing slash, e.g. "https://ehr.example.org/fhir".
  std::string base_url;
  // The path prefix the FHIR API is served under, e.g. "/fhir".
  std::string base_path = "/fhir";
  std::string software_version = "0.1.0";
  int default_count = 50;
  int max_count = 1000;
  // RFC 7591 dynamic client registration at /auth/register, open to anyone (off by default:
  // most deployments register apps by hand).
  bool open_registration = false;
  // CORS (S88): origins, e.g. "https://app.example.org", that may call the FHIR API and the
  // token endpoint besides the origins of registered redirect URIs.
  std::vector<std::string> cors_origins;
  // Tests only: client JWK Sets (jwks_uri, jku) may be fetched from loopback addresses over
  // http. Off: https from public addresses only.
  bool allow_loopback_jwks = false;
  // This node's name, stamped on the audit events it records (AuditEvent.source).
  std::string node_name;
};

// True only in the bench-only build (CMake option IPA_BENCH_NO_ENFORCEMENT): tokens are still
// validated and audited, but no scope, compartment or visibility check runs on the FHIR API.
// The server refuses to bind anything but loopback when this is true (server/main.cc).
bool enforcement_compiled_out();

class FhirApi {
 public:
  // With an `auth_store`, access control is on: the SMART authorization server is served under
  // {origin}/auth and every FHIR interaction but metadata needs an access token. Without one,
  // the API is open (development and tests on loopback only).
  FhirApi(ApiOptions options, storage::ResourceStore& store, std::shared_ptr<core::Clock> clock,
          std::unique_ptr<core::IdGenerator> ids,
          std::shared_ptr<storage::AuthStore> auth_store = nullptr);
  ~FhirApi();

  // Answers any request; paths outside base_path, /livez and /readyz get 404.
  http::Response handle(const http::Request& request);

  // Writes resources as an import does, all in one transaction: a resource with an id is an
  // upsert (skipped when its content equals the stored current version), one without is a
  // create. Every resource is validated first; the returned vector has one entry per input:
  // ok with the kind of write, or the Error that rejected it (then nothing of it was written).
  enum class ImportKind { kCreated, kUpdated, kUnchanged };
  std::vector<core::Result<ImportKind>> import_resources(std::vector<json::Value> resources);

  const ApiOptions& options() const;

 private:
  // `who` is set to the access token's claims once the request is authenticated (audit).
  http::Response handle_request(const http::Request& request,
                                std::shared_ptr<const auth::AccessTokenClaims>& who);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipa::rest
