// Renders a SearchPlan to SQLite SQL with positional parameters. The text is built from fixed
// fragments only; every value travels as a bound parameter. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "storage/search_plan.h"

namespace ipa::storage::sqlite::internal {

using Bind = std::variant<int64_t, double, std::string>;

struct Sql {
  std::string text;
  std::vector<Bind> binds;
};

// SELECT r.id, v.version_id, v.last_updated, v.json, <sort values...> for one page (LIMIT
// count + 1, so the caller learns whether more follow).
Sql render_page(const SearchPlan& plan);

// SELECT count(*) of all matches (no keyset, no limit).
Sql render_count(const SearchPlan& plan);

// SELECT r.id of all matches of `plan` (for chained and conditional searches).
Sql render_ids(const SearchPlan& plan);

// Whether the sort key's values are integers (dates, lastUpdated), reals (numbers,
// quantities) or text.
enum class SortValueType { kInteger, kReal, kText };
SortValueType sort_value_type(const SortKey& key);

}  // namespace ipa::storage::sqlite::internal
