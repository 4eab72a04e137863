// Index extraction: the search values of a resource as typed index rows (storage::IndexRows),
// for every supported R4 search parameter of its type, plus its Patient compartment membership
// and owning patient. Runs on every write. Expressions are compiled once per process; extract()
// is safe to call from many threads at once. Query parsing lives elsewhere (query.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/model.h"
#include "json/json.h"
#include "storage/resource_store.h"

namespace ipa::search {

// The pseudo search parameter under which extract() records every local reference of a
// resource (any element), for access control; never a parameter clients can search.
inline constexpr std::string_view kAllReferences = "_ref";

struct ExtractOptions {
  // The server's public base URL, e.g. "https://example.org/fhir" (a trailing '/' is ignored).
  // Absolute references starting with base_url + "/" are local and indexed as Type/id.
  std::string base_url;
};

// Returns the index rows of every supported search parameter of the resource's type: _id,
// _profile, _tag, _security, _source from meta (not _lastUpdated: the store keeps it), each row
// named by the parameter code; Identifier types also give `<code>:of-type` token rows
// (system = the type coding's system, code = "<type code>|<value>"). Supported composites give
// one storage::CompositeRow per element and combination of values: the token component's coding
// (composite_key()), the other of the first two components' value and a third component's
// number, so that a search can require all on the same element. Location `near` gives a
// storage::PositionRow for Location.position. Also fills
// compartment_patients (unique, sorted; a Patient is in its own compartment) and owner_patient
// (a Patient owns itself; otherwise the first Patient target of `patient`, then `subject`, then
// the other compartment parameters in their listed order).
// Errors: bad_request (structure) when `resource` is not an object with a known resourceType;
// bad_request (value) naming the element's search parameter when an indexed date is malformed.
core::Result<storage::IndexRows> extract(const json::Value& resource,
                                         const ExtractOptions& options);

// Returns whether `code` on `resource_type` is extracted: its expression compiles in the
// FHIRPath subset and its value types are indexed. False for unknown codes, special
// parameters other than Location `near`, composites other than a token and a token, quantity,
// number, date, string, uri or reference value (either first) with an optional third number
// component, _content, _text, _query, and _lastUpdated (kept by the store itself).
bool is_supported(std::string_view resource_type, std::string_view code);

// Returns the component search parameters of the composite `code` on `resource_type`, in
// definition order, when it is supported; empty otherwise. Composite rows
// (storage::CompositeRow) pair them on one element.
std::vector<const fhir::SearchParamInfo*> composite_components(std::string_view resource_type,
                                                               std::string_view code);

// Returns the index (0 or 1) of the supported composite's token component, the one a
// storage::CompositeRow holds as `system` and `code`; the other of the first two is its value
// (DocumentReference `relationship` stores its second component, the relation code, as the key).
size_t composite_key(std::string_view resource_type, std::string_view code);

// Support details for the coverage report: `supported` as is_supported(); `note` says why not,
// or, for a supported parameter, which of its value types are not indexed (may be empty).
struct ParamSupport {
  bool supported = false;
  std::string note;
};
ParamSupport param_support(std::string_view resource_type, std::string_view code);

}  // namespace ipa::search
