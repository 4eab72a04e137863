#include "storage/resource_store.h"

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

}  // namespace ipa::storage
