// Test-only checker of resources against FHIR StructureDefinition snapshots (the IPA 1.0.0
// profiles and FHIR core vitalsigns): cardinalities along followable paths (slices with value or
// pattern discriminators included), JSON shape (array or not), choice types, primitive formats,
// fixed[x]/pattern[x], reference target types, required bindings whose value sets are known
// here, and the profiles' invariants written in C++. Not a general validator: no FHIRPath, no
// terminology server, no datatype-profile recursion. Single-threaded.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "json/json.h"

namespace ipa::demo::testing {

struct Segment {
  std::string name;   // element name, maybe ending in [x]
  std::string slice;  // slice name, or empty
};

struct Element {
  std::string id;
  std::vector<Segment> path;  // after the resource type
  int min = 0;
  std::string max;
  std::string base_max;
  std::vector<std::string> types;
  std::vector<std::string> target_profiles;
  const json::Value* fixed = nullptr;
  const json::Value* pattern = nullptr;
  std::string required_value_set;                                   // canonical without version
  std::vector<std::pair<std::string, std::string>> discriminators;  // (type, path)
  bool must_support = false;
};

struct StructureDefinition {
  std::string url;
  std::string type;
  json::Value source;
  std::vector<Element> elements;
  std::map<std::string, size_t> by_id;
};

class ProfileSet {
 public:
  // Loads every StructureDefinition-*.json with a snapshot from `dir`. Errors: 404 when `dir`
  // has none, 400 when a file does not parse.
  static core::Result<ProfileSet> load(const std::filesystem::path& dir);

  bool has(std::string_view url) const { return profiles_.contains(std::string(url)); }

  // Returns the problems of `resource` against the profile `url` (empty: conforms).
  std::vector<std::string> check(const json::Value& resource, std::string_view url) const;

  // Ids of the must-support elements of `url`, and those `resource` populates.
  std::vector<std::string> must_support(std::string_view url) const;
  std::vector<std::string> populated_must_support(const json::Value& resource,
                                                  std::string_view url) const;

  // Required value sets met during check() that this checker does not know.
  const std::set<std::string>& unknown_value_sets() const { return unknown_value_sets_; }

 private:
  std::map<std::string, StructureDefinition> profiles_;
  std::map<std::string, std::string> type_of_profile_;
  mutable std::set<std::string> unknown_value_sets_;

  struct Node {
    const json::Value* value;
    std::string key;  // the JSON member name it came from
  };
  std::vector<Node> select(const StructureDefinition& sd, const json::Value& resource,
                           const std::vector<Segment>& path, size_t count) const;
  void children(const StructureDefinition& sd, const json::Value& parent, const Segment& seg,
                const std::string& base_id, std::vector<Node>& out) const;
  bool in_slice(const StructureDefinition& sd, const std::string& base_id,
                const std::string& slice_id, const json::Value& item) const;
  void check_value(const Element& e, const Node& n, std::vector<std::string>& problems) const;
  void check_binding(const Element& e, const json::Value& v,
                     std::vector<std::string>& problems) const;
};

// The invariants of the IPA profiles, FHIR core vitalsigns and base R4 that the demo data must
// hold, written in C++ (ipa-pat-1, ipa-pat-2, ipa-pat-4, ipa-obs-1, obs-6, vs-1, vs-2, vs-3,
// ipa-doc-1, con-3, con-4, con-5, ait-1, ait-2, and UCUM units of vital signs).
std::vector<std::string> check_invariants(const json::Value& resource);

// True when `resource` is an Observation with category vital-signs.
bool is_vital_sign(const json::Value& resource);

}  // namespace ipa::demo::testing
