// Content negotiation for FHIR JSON (FHIR R4 http.html#mime-type): which responses a request's
// Accept header and _format parameter allow, and whether a request body's Content-Type is one
// this server reads. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "core/result.h"

namespace ipa::rest {

enum class Format { kFhirJson, kRaw };

// Decides the response format. `format_param` is the decoded _format value (empty when absent).
// With `raw_allowed` (Binary read), a non-FHIR Accept selects the raw bytes.
// Errors: not_acceptable 406 when only non-JSON FHIR formats (or unknown types) are acceptable.
core::Result<Format> negotiate(std::string_view accept, std::string_view format_param,
                               bool raw_allowed);

// Checks a request body's Content-Type for a FHIR resource body: application/fhir+json or
// application/json, parameters allowed. Errors: unsupported_media_type 415.
core::Status check_body_type(std::string_view content_type);

}  // namespace ipa::rest
