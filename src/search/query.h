// Parses the parameters of a FHIR search (FHIR R4 search.html) into a storage::SearchPlan plus
// the result parameters (_include, _revinclude, _summary, _elements, _total, _count) and the
// canonical list of applied parameters for the Bundle's self link. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "storage/search_plan.h"

namespace ipa::search {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Include {
  std::string source_type;  // the type holding the reference ("*" allowed for _include)
  std::string param;        // "*" for every reference parameter
  std::string target_type;  // empty: any
  bool iterate = false;
};

enum class TotalMode { kDefault, kNone, kEstimate, kAccurate };

struct ParsedSearch {
  storage::SearchPlan plan;
  Params applied;                    // name (with modifier) and value, as understood
  std::vector<std::string> ignored;  // "name: reason" for each parameter left out (lenient)
  std::vector<Include> includes;
  std::vector<Include> revincludes;
  std::string summary;                // "", "true", "false", "text", "data", "count"
  std::vector<std::string> elements;  // _elements
  TotalMode total = TotalMode::kDefault;
  std::string cursor;  // _cursor, opaque
};

struct QueryOptions {
  std::string base_url;  // for absolute references to this server
  bool strict = false;   // Prefer: handling=strict: unknown parameters are errors
  int default_count = 50;
  int max_count = 1000;
};

// Errors: 400 (IssueType invalid, expression = the parameter name) for a malformed value, an
// unknown modifier, or, when strict, an unknown or unsupported parameter.
core::Result<ParsedSearch> parse_search(const std::string& resource_type, const Params& params,
                                        const QueryOptions& options);

// Splits `value` on unescaped `sep` (FHIR R4 search.html#escaping: \, \| \$ \\); the parts
// keep their other escapes. unescape() then removes them.
std::vector<std::string> split_unescaped(const std::string& value, char sep);
std::string unescape(const std::string& value);

}  // namespace ipa::search
