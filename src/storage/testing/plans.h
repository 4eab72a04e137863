// Search plans that store tests build by hand, without the search module's parser: shared by the
// conformance suite (shared_conformance.h) and the back ends' own tests. Pure functions.
#pragma once

#include <string>

#include "storage/search_plan.h"

namespace ipa::storage::testing {

// `type?name=<name>`: one string condition on the `name` parameter (starts-with, as search does).
inline SearchPlan name_plan(const std::string& type, const std::string& name) {
  SearchPlan p;
  p.resource_type = type;
  Condition c;
  c.kind = IndexKind::kString;
  c.param = "name";
  c.text = name;
  p.all_of.push_back(Clause{{c}, false});
  return p;
}

}  // namespace ipa::storage::testing
