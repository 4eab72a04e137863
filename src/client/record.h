// Getting one patient's record out of an IPA server (IPA "Fetching data", C3-C8): a Session
// that calls the FHIR API with the bearer token (only on the server's own origin, C8) and
// refreshes once on 401, the scopes-to-types decision, and fetch_record(), which reads the
// Patient, searches every granted IPA type (Observation by category), follows `next` links,
// resolves supporting resources once each, downloads attachments and writes NDJSON files, a
// collection Bundle and summary.json. Not thread-safe: one Session per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "client/discovery.h"
#include "client/oauth.h"
#include "client/profile.h"
#include "client/progress.h"
#include "client/transport.h"
#include "core/result.h"
#include "json/json.h"

namespace ipa::client {

// The IPA resource types a patient app searches (IPA CapabilityStatement, patient SHALL).
const std::vector<std::string>& ipa_search_types();
// The codes of http://terminology.hl7.org/CodeSystem/observation-category.
const std::vector<std::string>& observation_categories();
inline constexpr const char* kObservationCategorySystem =
    "http://terminology.hl7.org/CodeSystem/observation-category";

// What the granted scopes allow for one resource type (SMART scopes v1 and v2, granular).
struct TypeAccess {
  bool search = false;               // a v1 read or a v2 scope with "s"
  std::vector<std::string> queries;  // granular restrictions ("category=...") when every
                                     // matching scope has one; empty = unrestricted
};
TypeAccess type_access(const std::string& granted_scope, const std::string& type);

class Session {
 public:
  // `persist` is called after every token refresh with the updated profile (rotation). `now`
  // returns seconds since the epoch.
  Session(Transport& transport, SmartConfig config, ClientCredentials creds, Profile& profile,
          std::function<core::Status(const Profile&)> persist, std::function<int64_t()> now);

  // GETs `url`. The token goes only to the origin of the profile's base (C8). On a 401 it
  // refreshes once with the refresh token, stores the rotated tokens and retries. Returns the
  // response whatever its status. Errors: unavailable (503) when unreachable; unauthenticated
  // (401) when the refresh fails ("sign in again").
  core::Result<ClientResponse> get(const std::string& url,
                                   const std::string& accept = "application/fhir+json");

  int refreshes() const { return refreshes_; }
  // The requests made with and without the token, for checks and tests.
  const std::vector<std::string>& sent_with_token() const { return with_token_; }
  const std::vector<std::string>& sent_without_token() const { return without_token_; }

 private:
  Transport& transport_;
  SmartConfig config_;
  ClientCredentials creds_;
  Profile& profile_;
  std::function<core::Status(const Profile&)> persist_;
  std::function<int64_t()> now_;
  int refreshes_ = 0;
  std::vector<std::string> with_token_;
  std::vector<std::string> without_token_;
};

// A one-paragraph description of a Patient: name, birth date, gender, identifiers (IPA
// "Initial Patient Identity Check").
std::string describe_patient(const json::Value& patient);

struct FetchResult {
  json::Value summary;  // what summary.json holds
  std::map<std::string, int> counts;
};

struct FetchOptions {
  // Incremental (`ipa-client sync`, IPA "Synchronization"): searches only what changed since
  // the previous run's server time (summary.json `server_time`) with `_lastUpdated=gt`, merges
  // it into the NDJSON files, the Bundle and the summary, and lists each searched type's ids
  // (`_elements=id`) to find what the server no longer shows. Those resources move to
  // `gone/<Type>.ndjson` and are listed in the summary's `gone`; nothing is deleted.
  bool sync = false;
  // Seconds subtracted from the previous server time, so a change in the same second as the
  // last run is not missed (re-fetching a resource is harmless: the merge is by id).
  int64_t overlap_seconds = 2;
  // Draws one progress bar per type when enabled; otherwise plain lines go to `progress`.
  ProgressBar* bar = nullptr;
};

// Fetches the record of `profile.patient` into `out_dir` (created). `supported_types` are the
// types the CapabilityStatement lists (empty = unknown: try all). Progress lines go to
// `progress`. Errors: those of Session::get for the Patient read or a failed refresh; not_found
// (404) when the Patient cannot be read; internal (500) when files cannot be written; with
// `options.sync`, bad_request (400) when `out_dir` holds no previous fetch. A 403 or 404 on
// one type is reported in the summary and the rest goes on.
core::Result<FetchResult> fetch_record(Session& session, const Profile& profile,
                                       const std::vector<std::string>& supported_types,
                                       const std::string& out_dir, std::ostream& progress,
                                       const FetchOptions& options = {});

}  // namespace ipa::client
