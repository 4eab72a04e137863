// Test-only: the table sets the server uses (src/server/main.cc, shared_resource_type, the same
// rule on the fhir module's compartment definition): a type outside the R4 Patient compartment,
// Binary excepted, lives in the shared tables.
#pragma once

#include <string>

#include "fhir/model.h"

namespace ipa::storage::postgres::testing {

inline bool shared_type(const std::string& type) {
  return type != "Patient" && type != "Binary" && fhir::patient_compartment_params(type).empty();
}

}  // namespace ipa::storage::postgres::testing
