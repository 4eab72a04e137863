// SearchPlan: a FHIR search as a dialect-neutral description that a store renders to its own
// SQL. The search module builds it from the request's parameters; stores only execute it.
// Plain data; safe to share read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ipa::storage {

enum class IndexKind {
  kToken,
  kString,
  kDate,
  kReference,
  kQuantity,
  kNumber,
  kUri,
  kId,           // _id: the resource id itself
  kLastUpdated,  // _lastUpdated: the current version's time
  kComposite,    // a token and a second value on the same element (FHIR R4 search.html#composite)
  kPosition,     // Location near: points within a distance (FHIR R4 search.html#special)
};

// FHIR R4 search.html#prefix, applied to [low, high) ranges.
enum class Prefix { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };

enum class StringMode { kStartsWith, kExact, kContains };
enum class UriMode { kExact, kBelow, kAbove };

// One alternative of a clause: a match on one index kind. Only the fields of `kind` are used.
struct Condition {
  IndexKind kind = IndexKind::kToken;
  std::string param;
  // :missing=true / false: the resource has no / some row for `param` (other fields unused).
  std::optional<bool> missing;

  // kToken: system (nullopt: any system; "" : no system) and code (nullopt: any code, for
  // `system|`); compared case-insensitively. text_search: :text on the folded display text.
  std::optional<std::string> system;
  std::optional<std::string> code;
  bool text_search = false;
  // kString (value already folded unless kExact), kUri, kId, kToken :text value.
  std::string text;
  StringMode string_mode = StringMode::kStartsWith;
  UriMode uri_mode = UriMode::kExact;

  // kDate, kLastUpdated: [low, high) ms; kNumber, kQuantity: [dlow, dhigh).
  Prefix prefix = Prefix::kEq;
  int64_t low = 0;
  int64_t high = 0;
  double dlow = 0;
  double dhigh = 0;
  // kQuantity: optional system and code of the unit.
  std::optional<std::string> unit_system;
  std::optional<std::string> unit_code;

  // kReference: a local target (target_type may be empty: any type) or an absolute url.
  std::string target_type;
  std::string target_id;
  std::string url;
  // Chained search (param.chained=value): the targets are the matches of this plan.
  std::shared_ptr<struct SearchPlan> chain;

  // kComposite: the token component (`system`, `code` as for kToken); `value` is the other
  // component's condition (kind kToken, kQuantity, kNumber, kDate, kString, kUri or a plain
  // kReference, with that kind's fields; its param unused); `value2`, when set, a third
  // component's kNumber condition. All must hold on the same composite row.
  std::shared_ptr<const Condition> value;
  std::shared_ptr<const Condition> value2;

  // kPosition: a point within an angle of a center, as the unit vector (x, y, z) of the center
  // and the cosine of the angle (dot >= min_dot), with a bounding box in degrees to narrow the
  // rows first (the longitude bounds span -180..180 when the box would wrap or reach a pole).
  double x = 0;
  double y = 0;
  double z = 0;
  double min_dot = 1;
  double lat_min = 0;
  double lat_max = 0;
  double lon_min = 0;
  double lon_max = 0;
};

// A clause is the OR of its conditions; `negate` (:not, ne) inverts the whole clause.
struct Clause {
  std::vector<Condition> any_of;
  bool negate = false;
};

struct SortKey {
  IndexKind kind = IndexKind::kId;  // kId: by id; kLastUpdated; kDate/kString/kToken/kNumber/...
  std::string param;
  bool descending = false;
};

// A keyset position: the sort values of the last row of the previous page, then its id.
struct Keyset {
  std::vector<std::string> values;  // one per sort key, as text ("" for no value)
  std::string id;
  bool before = false;  // the page holds the rows just before this position (a previous link)
};

struct SearchPlan {
  std::string resource_type;
  std::vector<Clause> all_of;
  // Restricts matches to one patient's compartment (Patient/[id]/[type], or a grant's patient).
  std::optional<std::string> compartment_patient;
  // A patient whose compartment holds every match, known from the query itself (a clause that
  // requires a reference to Patient/[id] on a Patient-compartment parameter of the type; set by
  // the search module). Changes no answer; a store sharded by owner may use it to route the query
  // to that patient's rows (docs/scale-out.md).
  std::optional<std::string> routing_patient;
  std::vector<SortKey> sort;  // the id is always the last, implicit key
  int count = 50;
  std::optional<Keyset> after;
  bool want_total = false;
};

}  // namespace ipa::storage
