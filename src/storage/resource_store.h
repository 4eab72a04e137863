// ResourceStore: the seam between the FHIR REST layer and a storage back end. A store keeps every
// version of every resource as canonical JSON text plus the index rows the REST layer extracted,
// and applies each write (resource, history row, index rows) atomically. Nothing here knows SQL.
// Implementations are safe for concurrent use from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "storage/search_plan.h"

namespace ipa::storage {

struct StoredResource {
  std::string resource_type;
  std::string id;
  int64_t version_id = 0;
  core::TimePoint last_updated;
  bool deleted = false;
  std::string json;  // the canonical JSON served as is; empty for a deletion
  // The owning patient (IndexRows::owner_patient) when the store reports it (read), else empty.
  std::string owner_patient;
};

// Index rows: the search values of one resource, extracted by the search module on every write
// and stored with the resource in the same transaction. Each row names its search parameter code.

// token: Coding, CodeableConcept, Identifier, code, boolean, ContactPoint, id. `code` is kept as
// written; stores compare it case-insensitively (FHIR R4 search.html#token).
struct TokenRow {
  std::string param;
  std::string system;
  std::string code;
  std::string text;  // display/text for :text, ICU-folded; may be empty
};

// string: `normalized` is ICU-folded (case and accents removed) for the default starts-with and
// :contains matches; `exact` is the value as written for :exact.
struct StringRow {
  std::string param;
  std::string normalized;
  std::string exact;
};

// date: the value's implicit range [low, high) in milliseconds since the epoch, UTC
// (FHIR R4 search.html#date); open ends use INT64_MIN / INT64_MAX.
struct DateRow {
  std::string param;
  int64_t low = 0;
  int64_t high = 0;
};

// reference: to a resource on this server (`target_type`/`target_id`) or by absolute `url`.
struct ReferenceRow {
  std::string param;
  std::string target_type;
  std::string target_id;
  std::string url;  // for references that are not to this server; empty otherwise
};

// quantity and number: the value's implicit range from its precision (1.5 is [1.45, 1.55)).
struct QuantityRow {
  std::string param;
  std::string system;
  std::string code;  // UCUM code or unit text
  double low = 0;
  double high = 0;
};

struct NumberRow {
  std::string param;
  double low = 0;
  double high = 0;
};

struct UriRow {
  std::string param;
  std::string uri;
};

// composite (FHIR R4 search.html#composite): one element's token component (`system`, `code`),
// paired with one of its other component's values, so that a search can require both on the
// same element (e.g. the same Observation.component). `value_kind` says which value fields are
// set: kToken `v_system`/`v_code` (code compared case-insensitively), kQuantity
// `v_system`/`v_code` (the unit) and [v_low, v_high), kNumber [v_low, v_high), kDate
// [v_ilow, v_ihigh) ms as DateRow, kString `v_text` ICU-folded, kUri `v_text`, kReference
// `v_system`/`v_code` the local target type and id or `v_text` the absolute url (as
// ReferenceRow). A third component, a number, is [v2_low, v2_high).
struct CompositeRow {
  std::string param;
  std::string system;
  std::string code;
  IndexKind value_kind = IndexKind::kToken;
  std::string v_system;
  std::string v_code;
  double v_low = 0;
  double v_high = 0;
  int64_t v_ilow = 0;
  int64_t v_ihigh = 0;
  std::string v_text;
  double v2_low = 0;
  double v2_high = 0;
};

// position (Location near, FHIR R4 search.html#special): a point in WGS84 degrees and its unit
// vector (x, y, z) on the sphere, so that a distance test is a dot product in plain SQL.
struct PositionRow {
  std::string param;
  double latitude = 0;
  double longitude = 0;
  double x = 0;
  double y = 0;
  double z = 0;
};

struct IndexRows {
  std::vector<TokenRow> tokens;
  std::vector<StringRow> strings;
  std::vector<DateRow> dates;
  std::vector<ReferenceRow> references;
  std::vector<QuantityRow> quantities;
  std::vector<NumberRow> numbers;
  std::vector<UriRow> uris;
  std::vector<CompositeRow> composites;
  std::vector<PositionRow> positions;
  // Patient compartment membership (FHIR R4 compartmentdefinition-patient): the ids of every
  // Patient whose compartment holds the resource, and the owning one (locality, sharding);
  // a Patient owns itself. Empty for resources outside any patient compartment.
  std::vector<std::string> compartment_patients;
  std::string owner_patient;
};

// The version the store assigns to a write; the caller renders the final JSON text from it.
struct VersionStamp {
  int64_t version_id = 0;
  core::TimePoint last_updated;
};
using Render = std::function<core::Result<std::string>(const VersionStamp&)>;

struct Write {
  std::string resource_type;
  std::string id;
  std::optional<int64_t> if_match;  // expected current version (412 when it differs)
  Render render;                    // called once inside the transaction
  IndexRows index;                  // replaces the resource's previous rows
};

struct WriteResult {
  StoredResource resource;
  bool created = false;  // a new resource (201) rather than a new version (200)
  bool existed = false;  // conditional create: a match existed, nothing was written
};

struct ResourceKey {
  std::string resource_type;
  std::string id;
  bool operator==(const ResourceKey&) const = default;
  bool operator<(const ResourceKey& o) const {
    return resource_type != o.resource_type ? resource_type < o.resource_type : id < o.id;
  }
};

struct SearchPage {
  std::vector<StoredResource> entries;  // always in the plan's order
  std::optional<Keyset> next;           // set when more matches follow
  std::optional<Keyset> previous;       // set when matches precede this page
  std::optional<int64_t> total;         // set when the plan asked for it
};

// For back ends: turns the rows of a page query (fetched in query order, `keys[i]` the keyset of
// row i, `more` when a row beyond the page was seen) into the page: reverses a backward page into
// the plan's order and sets `next` and `previous`.
void finish_page(const SearchPlan& plan, std::vector<Keyset> keys, bool more, SearchPage& page);

struct HistoryQuery {
  std::string resource_type;  // empty: system history
  std::string id;             // empty: type or system history
  // Instance history: the resource's current owner (StoredResource::owner_patient of a read just
  // made), when the caller knows it; a store sharded by owner reads that patient's rows only.
  // Every version of a resource lives with its current owner, so this changes no answer.
  std::optional<std::string> owner;
  std::optional<core::TimePoint> since;
  int count = 50;
  std::optional<int64_t> before_seq;  // keyset cursor: entries older than this
};

struct HistoryPage {
  std::vector<StoredResource> entries;  // newest first
  std::optional<int64_t> next_before_seq;
  int64_t total = 0;
};

// The writes of one transaction; see ResourceStore::transaction.
class Writer {
 public:
  virtual ~Writer() = default;
  // Reads the current version (404 never existed, 410 deleted) as seen inside the transaction.
  virtual core::Result<StoredResource> read(const std::string& type, const std::string& id) = 0;
  // Creates `w.id`. Errors: conflict 409 when that id exists (or existed). With `criteria`
  // (conditional create), returns the existing match instead (existed = true), or 412 when
  // several match; the check and the write are one transaction, so no duplicate can appear.
  virtual core::Result<WriteResult> create(Write w, const SearchPlan* criteria) = 0;
  // The search of a conditional create alone (FHIR R4 http.html#ccreate): the ids of at most two
  // current resources of `criteria.resource_type` that match, under the same serialization as
  // create() with criteria, held to the end of the transaction (a transaction Bundle resolves its
  // conditional creates before rewriting references).
  virtual core::Result<std::vector<std::string>> find_matches(const SearchPlan& criteria) = 0;
  // Creates or replaces (upsert). Errors: 412 when `if_match` differs from the current version.
  virtual core::Result<WriteResult> update(Write w) = 0;
  // Marks the resource deleted (a later read answers 410). Deleting an absent or already deleted
  // resource succeeds and writes nothing (created = false, resource.version_id = 0 when absent).
  virtual core::Result<WriteResult> remove(const std::string& type, const std::string& id,
                                           std::optional<int64_t> if_match) = 0;
};

class ResourceStore {
 public:
  virtual ~ResourceStore() = default;

  // Current version. Errors: not_found 404 when the id never existed, gone 410 when deleted.
  virtual core::Result<StoredResource> read(const std::string& type, const std::string& id) = 0;
  // read() for a caller bound to `patient` (a patient-level grant), of a Patient-compartment type
  // or Binary: found when `patient` owns the resource (IndexRows::owner_patient) or its
  // compartment holds it, and, for the caller's grant check to decide, when no patient owns it
  // (a Binary whose securityContext is a DocumentReference); anything else is not_found 404, as
  // if it did not exist. gone 410 only for a deletion whose last owner is `patient`. The owner
  // goes into every query, so a store sharded by owner reads one shard (docs/scale-out.md).
  virtual core::Result<StoredResource> read_for_patient(const std::string& patient,
                                                        const std::string& type,
                                                        const std::string& id) = 0;
  // One version. Errors: not_found 404 for an unknown version; gone 410 for a deletion version.
  virtual core::Result<StoredResource> vread(const std::string& type, const std::string& id,
                                             int64_t version_id) = 0;
  // History, newest first, paged by a keyset cursor.
  virtual core::Result<HistoryPage> history(const HistoryQuery& query) = 0;
  // Runs a search: one page of current matches in the plan's order, after `plan.after`.
  virtual core::Result<SearchPage> search(const SearchPlan& plan) = 0;

  // The _include / _revinclude fetches. `patient` (optional; the default argument keeps the
  // callers that have no patient short) names the patient a search is bound to: a store sharded
  // by owner reads that patient's rows first (docs/scale-out.md).

  // The targets of `param` references (any param when "*") held by the given resources.
  // `patient` is a hint: the answer is the same with or without it.
  virtual core::Result<std::vector<ResourceKey>> references_of(
      const std::vector<ResourceKey>& sources, const std::string& param,
      const std::string& patient = {}) = 0;
  // Current, non-deleted versions of the given resources; absent ones are skipped. `patient` is
  // a hint: the answer is the same with or without it.
  virtual core::Result<std::vector<StoredResource>> read_many(const std::vector<ResourceKey>& keys,
                                                              const std::string& patient = {}) = 0;
  // Current resources of `source_type` whose `param` (any when "*") references one of `targets`,
  // at most `limit`. With `patient`, only those its compartment holds (a patient-bound caller's
  // revinclude of a Patient-compartment type, whose grant check would refuse the others).
  virtual core::Result<std::vector<StoredResource>> referencing(
      const std::string& source_type, const std::string& param,
      const std::vector<ResourceKey>& targets, int limit, const std::string& patient = {}) = 0;
  // Whether a resource outside every compartment (Practitioner, Organization, Medication, ...) is
  // part of `patient`'s record: referenced by a resource of the patient's compartment, directly
  // or through one intermediate resource (two hops, e.g. MedicationRequest -> PractitionerRole
  // -> Practitioner).
  virtual core::Result<bool> referenced_from_compartment(const std::string& patient,
                                                         const ResourceKey& target) = 0;

  // The patients whose compartment holds the resource (empty when none).
  virtual core::Result<std::vector<std::string>> compartments_of(const std::string& type,
                                                                 const std::string& id) = 0;

  // Runs `body` in one transaction: everything it wrote is committed when it returns ok,
  // nothing when it returns an error (which is returned). Writers are serialized.
  virtual core::Status transaction(const std::function<core::Status(Writer&)>& body) = 0;

  // Convenience single writes, each its own transaction.
  core::Result<WriteResult> create(Write w, const SearchPlan* criteria = nullptr);
  core::Result<WriteResult> update(Write w);
  core::Result<WriteResult> remove(const std::string& type, const std::string& id,
                                   std::optional<int64_t> if_match = std::nullopt);

  // A named server secret of `bytes` random bytes, created on first use and shared by every
  // node on this store (e.g. the paging-cursor key).
  virtual core::Result<std::string> secret(const std::string& name, size_t bytes) = 0;

  // Whether the store can serve (for /readyz).
  virtual core::Status ping() = 0;
};

}  // namespace ipa::storage
