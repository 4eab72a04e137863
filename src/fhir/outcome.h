// OperationOutcome: the only writer of OperationOutcome JSON. Turns core::Error values into the
// FHIR resource clients read. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "json/json.h"

namespace ipa::fhir {

// One issue per error: severity, code, diagnostics and, when set, expression.
json::Value operation_outcome(const std::vector<core::Error>& issues);
json::Value operation_outcome(const core::Error& error);

// An informational outcome with one issue (e.g. for Prefer: return=OperationOutcome).
json::Value information_outcome(const std::string& diagnostics);

}  // namespace ipa::fhir
