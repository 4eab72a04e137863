// Renders a SearchPlan to PostgreSQL SQL with numbered parameters ($1, $2, ...). The text is built
// from fixed fragments only; every value travels as a bound parameter whose C++ type names its
// PostgreSQL type (int8, float8, text). Kept parallel to sqlite/internal/render.h, so a diff of the
// two shows only the dialect. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "storage/search_plan.h"

namespace ipa::storage::postgres::internal {

using Bind = std::variant<int64_t, double, std::string>;

struct Sql {
  std::string text;
  std::vector<Bind> binds;
};

// Whether a resource type lives in the shared table set (shared_resource, shared_version,
// shared_idx_*: Citus reference tables) rather than the patient tables (distributed by owner).
// Empty: every type is in the patient tables. Filled by the store from PostgresOptions.
using SharedType = std::function<bool(const std::string&)>;

// The table prefix of `type`'s set: "shared_" or "".
inline const char* table_prefix(const SharedType& shared, const std::string& type) {
  return shared && shared(type) ? "shared_" : "";
}

// `routed` (with a compartment_patient): the caller knows that the patient owns every resource of
// the plan's type in its compartment (no membership with another owner), so every table of the
// query (resource, version, the index rows of the outer resource) is filtered on
// `owner = $1`, the patient: a Citus cluster sharded by owner runs it on that patient's shard
// alone. Without it a compartment-bound query matches by membership only (exact; every shard).
// Chained subqueries (resources of other owners) are never routed.
//
// `shared` picks the table set of each resource the query reads: the outer resource
// (plan.resource_type), each chained subquery (its chain's resource_type), and the probes,
// drivers and sort values of each (the index rows of the set their resource lives in).
//
// `routed` without a compartment_patient but with SearchPlan::routing_patient (a search that
// names the patient, e.g. patient=): the same routing to that patient's rows, with no membership
// join (every match is in the patient's compartment; the caller checked that the patient owns
// every member of the type). A routed compartment-bound query has no membership join either: a
// resource is always a member of its owner's compartment.
//
// Probes (EXISTS on an index table) end with OFFSET 0, which keeps each a correlated subplan
// (one index probe per candidate row) rather than a semi-join in the planner's join-order search.

// SELECT id, version_id, last_updated, json, <sort values s0...> for one page (LIMIT count + 1,
// so the caller learns whether more follow). The sort values are computed in a subquery, since
// PostgreSQL cannot name a select-list alias in WHERE (the keyset condition).
Sql render_page(const SearchPlan& plan, bool routed = false, const SharedType& shared = {});

// SELECT count(*) of all matches (no keyset, no limit).
Sql render_count(const SearchPlan& plan, bool routed = false, const SharedType& shared = {});

// SELECT r.id of all matches of `plan` (for chained and conditional searches).
Sql render_ids(const SearchPlan& plan, bool routed = false, const SharedType& shared = {});

// Whether the sort key's values are integers (dates, lastUpdated), reals (numbers,
// quantities) or text.
enum class SortValueType { kInteger, kReal, kText };
SortValueType sort_value_type(const SortKey& key);

}  // namespace ipa::storage::postgres::internal
