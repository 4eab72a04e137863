// Splitting a request path into its segments, shared by the API's router and the audit trail.
// Does not percent-decode (the transport already did) and does not interpret segments.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ipa::rest::internal {

// Returns the non-empty '/'-separated segments of `path` in order: "/Patient//1/" gives
// {"Patient", "1"}, "" and "/" give {}. With S = std::string_view the segments view `path`
// (which must outlive them) and the vector is the only allocation; with S = std::string each
// segment is its own copy.
template <class S = std::string>
std::vector<S> split_path(std::string_view path) {
  std::vector<S> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace ipa::rest::internal
