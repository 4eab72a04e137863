// Renders a SearchPlan to PostgreSQL SQL with numbered parameters ($1, $2, ...). The text is built
// from fixed fragments only; every value travels as a bound parameter whose C++ type names its
// PostgreSQL type (int8, float8, text). Kept parallel to sqlite/internal/render.h, so a diff of the
// two shows only the dialect. Pure functions; thread-safe.
#pragma once

#include <cstdint>
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

// `routed` (with a compartment_patient): the caller knows that the patient owns every resource of
// the plan's type in its compartment (no membership with another owner), so every table of the
// query (resource, version, compartment, the index rows of the outer resource) is filtered on
// `owner = $1`, the patient: a Citus cluster sharded by owner runs it on that patient's shard
// alone. Without it a compartment-bound query matches by membership only (exact; every shard).
// Chained subqueries (resources of other owners) are never routed.

// SELECT id, version_id, last_updated, json, <sort values s0...> for one page (LIMIT count + 1,
// so the caller learns whether more follow). The sort values are computed in a subquery, since
// PostgreSQL cannot name a select-list alias in WHERE (the keyset condition).
Sql render_page(const SearchPlan& plan, bool routed = false);

// SELECT count(*) of all matches (no keyset, no limit).
Sql render_count(const SearchPlan& plan, bool routed = false);

// SELECT r.id of all matches of `plan` (for chained and conditional searches).
Sql render_ids(const SearchPlan& plan, bool routed = false);

// Whether the sort key's values are integers (dates, lastUpdated), reals (numbers,
// quantities) or text.
enum class SortValueType { kInteger, kReal, kText };
SortValueType sort_value_type(const SortKey& key);

}  // namespace ipa::storage::postgres::internal
