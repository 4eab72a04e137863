#include "storage/resource_store.h"

#include <algorithm>

namespace ipa::storage {
namespace {

template <typename Op>
core::Result<WriteResult> in_transaction(ResourceStore& store, Op op) {
  std::optional<WriteResult> out;
  core::Status st = store.transaction([&](Writer& w) -> core::Status {
    auto r = op(w);
    if (!r.ok()) return std::move(r).error();
    out = std::move(r).value();
    return {};
  });
  if (!st.ok()) return std::move(st).error();
  return std::move(*out);
}

}  // namespace

core::Result<WriteResult> ResourceStore::create(Write w, const SearchPlan* criteria) {
  return in_transaction(*this, [&](Writer& tx) { return tx.create(std::move(w), criteria); });
}

core::Result<WriteResult> ResourceStore::update(Write w) {
  return in_transaction(*this, [&](Writer& tx) { return tx.update(std::move(w)); });
}

core::Result<WriteResult> ResourceStore::remove(const std::string& type, const std::string& id,
                                                std::optional<int64_t> if_match) {
  return in_transaction(*this, [&](Writer& tx) { return tx.remove(type, id, if_match); });
}

void finish_page(const SearchPlan& plan, std::vector<Keyset> keys, bool more, SearchPage& page) {
  bool backward = plan.after && plan.after->before;
  if (backward) {
    std::reverse(page.entries.begin(), page.entries.end());
    std::reverse(keys.begin(), keys.end());
  }
  if (keys.empty()) {
    // An empty page after a position still leads back to it.
    if (plan.after) {
      Keyset k = *plan.after;
      k.before = !backward;
      (backward ? page.next : page.previous) = k;
    }
    return;
  }
  // Forward: more rows follow when `more`; rows precede when we came from a position.
  // Backward: rows precede when `more`; rows follow the position we came back from.
  bool has_next = backward ? true : more;
  bool has_previous = backward ? more : plan.after.has_value();
  if (has_next) {
    page.next = keys.back();
    page.next->before = false;
  }
  if (has_previous) {
    page.previous = keys.front();
    page.previous->before = true;
  }
}

}  // namespace ipa::storage
