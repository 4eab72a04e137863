// Error: the one failure type of the project, and the only place an HTTP status is chosen.
// An Error carries what a client may see (diagnostics, FHIRPath expression) and a log-only
// detail that is never sent. Plain value type; safe to copy between threads.
#pragma once

#include <string>
#include <string_view>

namespace ipa::core {

// FHIR R4 IssueType codes (valueset-issue-type) that this project uses.
enum class IssueType {
  kInvalid,
  kStructure,
  kRequired,
  kValue,
  kInvariant,
  kSecurity,
  kLogin,
  kForbidden,
  kNotSupported,
  kDuplicate,
  kNotFound,
  kDeleted,
  kTooLong,
  kConflict,
  kBusinessRule,
  kProcessing,
  kException,
  kTransient,
  kThrottled,
  kInformational,
};

// Returns the FHIR code for `type`, e.g. "not-found".
std::string_view issue_code(IssueType type);

enum class Severity { kFatal, kError, kWarning, kInformation };
std::string_view severity_code(Severity severity);

struct Error {
  int http_status = 500;
  IssueType type = IssueType::kException;
  Severity severity = Severity::kError;
  std::string diagnostics;  // safe to send to the client
  std::string expression;   // FHIRPath of the offending element, or empty
  std::string log_detail;   // for the server log only; never sent

  Error&& at(std::string path) && {
    expression = std::move(path);
    return std::move(*this);
  }
  Error&& with_log(std::string detail) && {
    log_detail = std::move(detail);
    return std::move(*this);
  }
};

// Named factories: one per HTTP status the project answers with.
Error bad_request(IssueType type, std::string diagnostics);    // 400
Error unauthenticated(std::string diagnostics);                // 401
Error forbidden(std::string diagnostics);                      // 403
Error not_found(std::string diagnostics);                      // 404
Error method_not_allowed(std::string diagnostics);             // 405
Error not_acceptable(std::string diagnostics);                 // 406
Error conflict(std::string diagnostics);                       // 409
Error gone(std::string diagnostics);                           // 410
Error precondition_failed(std::string diagnostics);            // 412
Error too_large(std::string diagnostics);                      // 413
Error unsupported_media_type(std::string diagnostics);         // 415
Error unprocessable(IssueType type, std::string diagnostics);  // 422
Error too_many_requests(std::string diagnostics);              // 429
Error internal(std::string log_detail);                        // 500
Error not_implemented(std::string diagnostics);                // 501
Error unavailable(std::string diagnostics);                    // 503

}  // namespace ipa::core
