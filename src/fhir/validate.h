// Validation of a FHIR R4 resource in JSON against the base R4 model (not against profiles):
// resourceType, known elements, JSON shapes, primitive formats, cardinality, ele-1, required
// bindings, narrative safety (txt-1/txt-2), contained and Bundle/Parameters resources. Runs on
// every write, so it compiles nothing per call and allocates only for the issues it reports.
// Stateless: safe to call from any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/result.h"
#include "json/json.h"

namespace ipa::fhir {

struct ValidateOptions {
  size_t max_depth = 64;                  // nested objects below the resource root
  size_t max_string_bytes = 1024 * 1024;  // FHIR R4 datatypes.html#string; base64Binary exempt
  size_t max_array_items = 100000;
  size_t max_issues = 100;  // stop after this many
};

// Returns every issue found in `resource`, empty when it is valid. When `expected_type` is not
// empty the resourceType must equal it. Issues with HTTP status 400 come first, so the first
// issue decides the response status. Each issue's `expression` is the FHIRPath of the element,
// e.g. "Patient.name[0].given[1]" (empty for a problem with the root's resourceType).
//   400 structure: root not an object, resourceType missing, unknown element, wrong JSON type
//                  (string for object, array for a 0..1 element, single value for an array,
//                  boolean/number as string), null outside primitive arrays, two value[x]
//                  variants, `_element` misaligned with its element
//   400 invalid:   unknown resourceType, or not the expected one
//   400 too-long:  nesting, string size or array size beyond `options`
//   422 required:  min cardinality (e.g. Observation.status, Extension.url)
//   422 structure: max cardinality (arrays longer than max, elements with max 0)
//   422 value:     primitive format (id, date, dateTime, instant, time, decimal, integer range,
//                  code, uri, oid, uuid, base64Binary, control characters) and codes outside a
//                  required binding
//   422 invariant: ele-1 (empty object, array or string), txt-1/txt-2 (narrative), dom-2
std::vector<core::Error> validate(const json::Value& resource, std::string_view expected_type,
                                  const ValidateOptions& options = {});

// Returns OK when `resource` is valid, else the first issue of validate().
core::Status validate_resource(const json::Value& resource, std::string_view expected_type,
                               const ValidateOptions& options = {});

// Format checks of single primitive values, by the R4 regexes (datatypes.html), also checking
// that dates exist (no February 30). Each returns whether `s` is valid.
bool is_valid_id(std::string_view s);
bool is_valid_date(std::string_view s);
bool is_valid_date_time(std::string_view s);
bool is_valid_instant(std::string_view s);
bool is_valid_time(std::string_view s);
bool is_valid_code(std::string_view s);
bool is_valid_uri(std::string_view s);
bool is_valid_oid(std::string_view s);
bool is_valid_uuid(std::string_view s);
bool is_valid_base64(std::string_view s);

}  // namespace ipa::fhir
