// SMART App Launch scopes, parsed once into a structure: clinical scopes in v1 (`.read`,
// `.write`, `.*`) and v2 (`.cruds` letters, granular `?param=value`) syntax, launch, identity
// and refresh scopes; anything else is kept as an opaque scope that grants nothing. Answers
// "does this scope set allow interaction X on type T, for which patients, under which search
// constraints", checks refresh narrowing and describes scopes in plain language.
// Does not know which resources sit in which compartment (the REST layer asks the store).
// Values are plain data: safe to share read-only between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ipa::auth {

// SMART App Launch: scopes-and-launch-context, "Scopes for requesting clinical data".
enum class Interaction { kCreate, kRead, kUpdate, kDelete, kSearch };

// Permission letters as bits (c r u d s).
enum Permission : uint8_t {
  kPermCreate = 1,
  kPermRead = 2,
  kPermUpdate = 4,
  kPermDelete = 8,
  kPermSearch = 16,
};

enum class ScopeKind {
  kClinical,       // patient/Observation.rs, user/*.read, ...
  kLaunch,         // launch (EHR launch)
  kLaunchPatient,  // launch/patient
  kLaunchOther,    // launch/encounter and other launch/<type>
  kOpenid,         // openid
  kFhirUser,       // fhirUser
  kProfile,        // profile (SMART v1 identity scope)
  kOfflineAccess,  // offline_access
  kOnlineAccess,   // online_access
  kOpaque,         // unknown scope: kept, echoed, grants nothing
};

enum class Level { kPatient, kUser, kSystem };

// One `param=value` of a granular scope; the value is percent-decoded.
struct QueryConstraint {
  std::string param;
  std::string value;
  bool operator==(const QueryConstraint&) const = default;
};

struct Scope {
  ScopeKind kind = ScopeKind::kOpaque;
  std::string text;  // as written by the client, echoed in token responses (S62)
  // Clinical scopes only:
  Level level = Level::kPatient;
  std::string resource_type;  // "*" for every type, present and future
  uint8_t permissions = 0;    // Permission bits; v1 .read = rs, .write = cud, .* = cruds (S62)
  bool v1 = false;
  std::vector<QueryConstraint> query;  // all must match; v2 only
};

// One way a request is permitted: the patients whose compartment it may touch and the search
// constraints a resource must match (empty: any resource of the type).
struct Permit {
  Level level = Level::kPatient;
  std::vector<std::string> patients;
  std::vector<QueryConstraint> constraints;
};

// The answer to ScopeSet::check. A resource is allowed when it satisfies ANY permit: it lies in
// the compartment of one of the permit's patients (or is a supporting resource outside every
// compartment) and matches all the permit's constraints.
struct Access {
  std::vector<Permit> permits;
  bool allowed() const { return !permits.empty(); }
  // True when some permit for `patient` carries no constraint (no filter needs adding).
  bool unrestricted_for(std::string_view patient) const;
};

// Whom the grant acts for: the patient in context (patient/ scopes) and the patients the user
// may see (user/ scopes; S34: never more than the user's own permissions).
struct AccessContext {
  std::string patient;
  std::vector<std::string> user_patients;
};

class ScopeSet {
 public:
  // Parses a space-separated scope string (RFC 6749 section 3.3). Empty tokens from repeated
  // spaces are skipped; duplicates are kept once. Errors (400, IssueType value, diagnostics
  // naming the scope; the OAuth layer answers invalid_scope): characters outside RFC 6749's
  // scope-token set; a `patient/`, `user/` or `system/` scope that is malformed: a resource type
  // that is not `*` or a capitalised name, permissions that are not v1 (`read`, `write`, `*`) or
  // v2 letters in c-r-u-d-s order (`.sr`, `.dus`, `.rr` refused: S63), a query on a v1 scope,
  // or a query with modifiers, chaining, `_filter` or an empty value (S65).
  static core::Result<ScopeSet> parse(std::string_view text);

  const std::vector<Scope>& scopes() const { return *scopes_; }
  bool empty() const { return scopes_->empty(); }
  bool has(ScopeKind kind) const;
  bool has_text(std::string_view text) const;
  // True when some clinical scope has the patient level (S28: a patient must be in context).
  bool has_patient_level() const;
  // The scopes joined by single spaces, as written.
  std::string str() const;
  // The scopes whose text is in `keep` (consent: the user unticks some), in this set's order.
  ScopeSet subset(const std::vector<std::string>& keep) const;

  // What `interaction` on `resource_type` is allowed under this set. patient/ permits name the
  // patient in context (none without one), user/ permits the user's patients (none when the
  // context lists none), system/ permits (SMART Backend Services) name no patient: every
  // resource of the type.
  Access check(Interaction interaction, std::string_view resource_type,
               const AccessContext& context) const;

  // RFC 6749 section 6 / S58: true when every permission of `requested` is covered by this set:
  // non-clinical scopes by an equal scope; each letter of a clinical scope by a scope of the
  // same level whose type is equal or `*` and whose constraints are a subset of the request's.
  bool covers(const ScopeSet& requested) const;

 private:
  // Shared: a set is never changed once built (parse and subset fill fresh ones), so copies,
  // e.g. one per request from the verified-token cache, cost a reference count.
  std::shared_ptr<std::vector<Scope>> scopes_ = std::make_shared<std::vector<Scope>>();
};

// Parses one scope token (see ScopeSet::parse).
core::Result<Scope> parse_scope(std::string_view text);

// A sentence for the consent page, e.g. "Read and search your lab results and other
// observations". Wildcards say they cover data types added in the future (S32).
std::string describe(const Scope& scope);

// The permission bit an interaction needs (S61).
uint8_t permission_for(Interaction interaction);

}  // namespace ipa::auth
