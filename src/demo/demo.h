// ipa::demo: a deterministic generator of synthetic FHIR R4 data for IPA 1.0.0 (Patients with
// every IPA resource type, Practitioners, Organizations, Medications, Provenance). Same options,
// same bytes, on every platform. The generator holds no state between calls; concurrent calls
// are independent. It produces data only; storing it is the sink's business.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/result.h"
#include "json/json.h"

namespace ipa::demo {

struct Options {
  int patients = 50;
  uint64_t seed = 20240101;
};

// Receives each resource once. An error stops the generation and is returned by generate().
using Sink = std::function<core::Status(const json::Value& resource)>;

// Calls `sink` once per resource, supporting resources first (Organization, Practitioner,
// PractitionerRole, Medication), then per patient: Patient, its RelatedPersons, Encounters,
// Conditions, AllergyIntolerances, Immunizations, MedicationRequests, MedicationStatements,
// Observations, Binary/DocumentReference pairs and one Provenance. Every reference points to a
// resource emitted earlier, except the one cross-link of the Patient.link pair (kInactivePatientId
// names kActivePatientId, emitted right after it). Ids are client-assigned; resources carry no
// meta.versionId or meta.lastUpdated. Returns the number of resources; errors: 400 (kValue) when
// options.patients is negative, or the sink's first error.
core::Result<int64_t> generate(const Options& options, const Sink& sink);

// Well-known records (present when options.patients is large enough; see docs/demo-data.md).
inline constexpr std::string_view kParentPatientId = "pat-0001";       // patients >= 3
inline constexpr std::string_view kFirstChildPatientId = "pat-0002";   // patients >= 3
inline constexpr std::string_view kSecondChildPatientId = "pat-0003";  // patients >= 3
inline constexpr std::string_view kInactivePatientId = "pat-0004";     // patients >= 5
inline constexpr std::string_view kActivePatientId = "pat-0005";       // patients >= 5
inline constexpr std::string_view kNameAbsentPatientId = "pat-0006";   // patients >= 6
// Every patient has an Observation `obs-<nnnn>-006` with dataAbsentReason instead of a value.
inline constexpr std::string_view kDataAbsentObservationId = "obs-0001-006";

}  // namespace ipa::demo
