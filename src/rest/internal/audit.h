// The audit trail in the REST layer: what gets recorded for FHIR interactions and for the
// authorization endpoints (enqueued on the AuditLog of the AuthState, never written on the
// request path), and AuditEvent read/search, synthesised from the trail for the patient in
// context. Thread-safe; everything is a no-op or 404 when access control is off.
#pragma once

#include <string>
#include <vector>

#include "auth/tokens.h"
#include "http/server.h"
#include "json/json.h"
#include "rest/internal/common.h"
#include "storage/auth_store.h"

namespace ipa::rest::internal {

// Enqueues `event` (time set from the clock when unset). No-op when access control is off.
void record_audit(State& s, storage::AuditEvent event);

// Records one FHIR interaction of an authenticated request: the interaction named from the
// method and path, the resource type and id (or the search's parameter names, never values),
// the token's client, user and patient, and the HTTP status answered.
void audit_fhir(State& s, const http::Request& req, const auth::AccessTokenClaims& claims,
                int status);

// Records what the authorization endpoint `sub` ("authorize", "login", "token", ...) decided,
// judged from its response: errors sent back to a known client, sign-ins (never the password),
// token failures, RFC 7009 revocations and refused registrations. Successes with a grant are
// recorded where the grant is known (smart.cc).
void audit_auth(State& s, const http::Request& req, const std::string& sub,
                const http::Response& response);

// AuditEvent read ([AuditEvent, id]), search ([AuditEvent]) and compartment search
// (Patient/[compartment_patient]/AuditEvent) over the audit trail, newest first (`body`: the
// form of POST [base]/AuditEvent/_search); writes are
// refused (405): the trail is append-only and made by the server. Errors: 403 without a
// patient-context grant for AuditEvent, 404 for events about other patients or when access
// control is off, 400 for malformed date, _count or _cursor values (and, with `strict`,
// unknown parameters).
http::Response audit_events(State& s, const std::string& method,
                            const std::vector<std::string>& parts, const Params& params,
                            const std::string& body, const Shape& shape, bool strict,
                            const Caller* caller, const std::string& compartment_patient = {});

// The CapabilityStatement entry for AuditEvent: read and search-type with `patient` and
// `date` when access control is on (`on`), no interaction otherwise.
json::Value audit_event_capability(bool on);

}  // namespace ipa::rest::internal
