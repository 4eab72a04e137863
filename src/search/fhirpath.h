// The FHIRPath subset that FHIR R4 search-parameter expressions use, evaluated over json::Value
// with the R4 model for types: paths (choice elements such as Observation.effective yield their
// typed variants), `|`, where(), exists(), empty(), not(), first(), last(), [n], ofType(), as(),
// is(), `x is T`, `x as T`, extension('url'), resolve() (typed from the reference text alone; no
// fetch), `=`, `!=`, `and`, `or`, string/boolean/integer literals, $this, %resource.
// Compiled expressions are immutable and safe to evaluate from many threads at once; compile()
// caches them (thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/model.h"
#include "json/json.h"

namespace ipa::search {

// One result of an evaluation: a JSON node of the evaluated resource (or of the compiled
// expression, for computed booleans and literals) and its FHIR type. For resolve() results the
// node is the Reference (or canonical) and the type is the referenced resource type.
struct FhirPathItem {
  const json::Value* node = nullptr;
  const fhir::TypeInfo* type = nullptr;  // never null in results

  // The FHIR type name: "CodeableConcept", "Period", "dateTime", "Observation.component", ...
  std::string_view type_name() const { return type->name; }
};

class FhirPath {
 public:
  struct Node;

  // Returns the compiled `expression`, from a process-wide cache when it was compiled before.
  // Errors: bad_request (invalid) naming the problem and its offset for syntax outside the
  // subset, unknown functions and unknown type names.
  static core::Result<std::shared_ptr<const FhirPath>> compile(std::string_view expression);

  // Evaluates on `resource` (a JSON resource with resourceType). Returns the items in document
  // order; empty when nothing matches or the resource type is unknown.
  std::vector<FhirPathItem> evaluate(const json::Value& resource) const;
  // Evaluates with `focus` (a node inside `resource`) as the context item ($this).
  std::vector<FhirPathItem> evaluate(const json::Value& resource, const FhirPathItem& focus) const;

  // Returns the FHIR types the expression can yield on `context` (static typing, used to decide
  // support). Errors: bad_request (invalid) when an element does not exist on the types reached
  // or a type filter can never match.
  core::Result<std::vector<const fhir::TypeInfo*>> result_types(
      const fhir::TypeInfo& context) const;

  const std::string& expression() const { return expression_; }

  FhirPath(std::string expression, std::unique_ptr<Node> root);
  ~FhirPath();
  FhirPath(const FhirPath&) = delete;
  FhirPath& operator=(const FhirPath&) = delete;

 private:
  std::string expression_;
  std::unique_ptr<Node> root_;
};

}  // namespace ipa::search
