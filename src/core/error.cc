#include "core/error.h"

#include <utility>

namespace ipa::core {

std::string_view issue_code(IssueType type) {
  switch (type) {
    case IssueType::kInvalid:
      return "invalid";
    case IssueType::kStructure:
      return "structure";
    case IssueType::kRequired:
      return "required";
    case IssueType::kValue:
      return "value";
    case IssueType::kInvariant:
      return "invariant";
    case IssueType::kSecurity:
      return "security";
    case IssueType::kLogin:
      return "login";
    case IssueType::kForbidden:
      return "forbidden";
    case IssueType::kNotSupported:
      return "not-supported";
    case IssueType::kDuplicate:
      return "duplicate";
    case IssueType::kNotFound:
      return "not-found";
    case IssueType::kDeleted:
      return "deleted";
    case IssueType::kTooLong:
      return "too-long";
    case IssueType::kConflict:
      return "conflict";
    case IssueType::kBusinessRule:
      return "business-rule";
    case IssueType::kProcessing:
      return "processing";
    case IssueType::kException:
      return "exception";
    case IssueType::kTransient:
      return "transient";
    case IssueType::kThrottled:
      return "throttled";
    case IssueType::kInformational:
      return "informational";
  }
  return "exception";
}

std::string_view severity_code(Severity severity) {
  switch (severity) {
    case Severity::kFatal:
      return "fatal";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInformation:
      return "information";
  }
  return "error";
}

namespace {
Error make(int status, IssueType type, std::string diagnostics) {
  Error e;
  e.http_status = status;
  e.type = type;
  e.diagnostics = std::move(diagnostics);
  return e;
}
}  // namespace

Error bad_request(IssueType type, std::string d) { return make(400, type, std::move(d)); }
Error unauthenticated(std::string d) { return make(401, IssueType::kLogin, std::move(d)); }
Error forbidden(std::string d) { return make(403, IssueType::kForbidden, std::move(d)); }
Error not_found(std::string d) { return make(404, IssueType::kNotFound, std::move(d)); }
Error method_not_allowed(std::string d) {
  return make(405, IssueType::kNotSupported, std::move(d));
}
Error not_acceptable(std::string d) { return make(406, IssueType::kNotSupported, std::move(d)); }
Error conflict(std::string d) { return make(409, IssueType::kConflict, std::move(d)); }
Error gone(std::string d) { return make(410, IssueType::kDeleted, std::move(d)); }
Error precondition_failed(std::string d) { return make(412, IssueType::kConflict, std::move(d)); }
Error too_large(std::string d) { return make(413, IssueType::kTooLong, std::move(d)); }
Error unsupported_media_type(std::string d) {
  return make(415, IssueType::kNotSupported, std::move(d));
}
Error unprocessable(IssueType type, std::string d) { return make(422, type, std::move(d)); }
Error too_many_requests(std::string d) { return make(429, IssueType::kThrottled, std::move(d)); }
Error internal(std::string log_detail) {
  Error e = make(500, IssueType::kException, "An internal error occurred.");
  e.log_detail = std::move(log_detail);
  return e;
}
Error not_implemented(std::string d) { return make(501, IssueType::kNotSupported, std::move(d)); }
Error unavailable(std::string d) { return make(503, IssueType::kTransient, std::move(d)); }

}  // namespace ipa::core
