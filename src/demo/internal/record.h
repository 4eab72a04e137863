// One patient's record in the demo data: the Patient and every resource of its compartment, in
// reference order, ending with a Provenance that targets them. Internal to ipa::demo.
#pragma once

#include <cstdint>
#include <functional>

#include "core/result.h"
#include "json/json.h"

namespace ipa::demo::internal {

// Emits the record of patient number `patient` (1-based; ids pat-0001, ...). The record depends
// only on (`patient`, `seed`), so records can be generated in any order or in parallel.
core::Status write_patient_record(int patient, uint64_t seed,
                                  const std::function<core::Status(json::Value)>& emit);

}  // namespace ipa::demo::internal
