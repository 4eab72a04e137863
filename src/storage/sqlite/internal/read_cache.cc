#include "storage/sqlite/internal/read_cache.h"

#include <algorithm>
#include <iterator>

namespace ipa::storage::sqlite::internal {
namespace {

// The cache key: "type/id" (FHIR ids and type names never contain '/'). Built in a per-thread
// buffer so that a lookup allocates nothing.
std::string_view key_of(std::string_view type, std::string_view id) {
  thread_local std::string buf;
  buf.assign(type);
  buf.push_back('/');
  buf.append(id);
  return buf;
}

}  // namespace

size_t ReadCache::cost_of(const StoredResource& r) {
  // Fixed part: the list node (two links and a Node), the map node (a link, the cached hash, a
  // key view and an iterator) and its bucket, and make_shared's block (a vtable pointer, two
  // counts, the StoredResource). Variable part: the key and the resource's strings.
  constexpr size_t kFixed = 2 * sizeof(void*) + sizeof(Node) + 2 * sizeof(void*) +
                            sizeof(std::string_view) + sizeof(List::iterator) + sizeof(void*) +
                            sizeof(void*) + 2 * sizeof(int) + sizeof(StoredResource);
  size_t key = r.resource_type.size() + 1 + r.id.size();
  return kFixed + key + r.resource_type.size() + r.id.size() + r.json.size() +
         r.owner_patient.size();
}

ReadCache::ReadCache(size_t max_bytes, std::chrono::microseconds check_interval)
    : max_bytes_(max_bytes),
      protected_max_(max_bytes - max_bytes / 5),
      check_interval_(check_interval) {}

std::optional<StoredResource> ReadCache::find(std::string_view type, std::string_view id) {
  if (!enabled()) return std::nullopt;
  std::shared_ptr<const StoredResource> hit;
  {
    std::lock_guard lock(mu_);
    auto it = map_.find(key_of(type, id));
    if (it == map_.end()) {
      ++stats_.misses;
      return std::nullopt;
    }
    ++stats_.hits;
    List::iterator n = it->second;
    hit = n->value;
    if (n->is_protected) {
      protected_.splice(protected_.begin(), protected_, n);
    } else {
      promote_locked(n);
    }
  }
  return *hit;  // copied outside the lock
}

void ReadCache::insert(uint64_t epoch, const StoredResource& r) {
  if (!enabled()) return;
  size_t cost = cost_of(r);
  if (cost > max_bytes_) return;
  // Built before the lock; `dropped` (declared before it) frees the evicted after it.
  Dropped dropped;
  List fresh;
  fresh.push_front(Node{std::string(key_of(r.resource_type, r.id)),
                        std::make_shared<const StoredResource>(r), cost, false});
  std::lock_guard lock(mu_);
  // An invalidation since `epoch` means the read may predate a commit: do not keep it.
  if (epoch != epoch_.load(std::memory_order_relaxed)) return;
  // Already there (two readers missed at once): no invalidation since, so the same version.
  if (map_.contains(fresh.front().key)) return;
  while (bytes_ + cost > max_bytes_) {
    // cost <= max_bytes_, so a non-empty list remains while the sum passes the cap.
    List& from = probation_.empty() ? protected_ : probation_;
    unlink_locked(map_.find(from.back().key), dropped);
    ++stats_.evictions;
  }
  probation_.splice(probation_.begin(), fresh);
  map_.emplace(probation_.front().key, probation_.begin());
  bytes_ += cost;
}

bool ReadCache::due(Clock::time_point now) const {
  int64_t last = last_check_.load(std::memory_order_relaxed);
  return last == 0 || now.time_since_epoch().count() - last >=
                          std::chrono::duration_cast<Clock::duration>(check_interval_).count();
}

void ReadCache::observe(int64_t generation, Clock::time_point now) {
  Dropped dropped;
  std::lock_guard lock(mu_);
  if (generation_ && *generation_ != generation) clear_locked(dropped);
  generation_ = generation;
  last_check_.store(std::max<int64_t>(1, now.time_since_epoch().count()),
                    std::memory_order_relaxed);
}

void ReadCache::committed(int64_t generation, const std::vector<ResourceKey>& keys) {
  Dropped dropped;
  std::lock_guard lock(mu_);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (!generation_ || *generation_ != generation - 1) {
    // Another process wrote since the generation this process last knew: anything may be stale.
    clear_locked(dropped);
  } else {
    for (const ResourceKey& k : keys) {
      auto it = map_.find(key_of(k.resource_type, k.id));
      if (it != map_.end()) unlink_locked(it, dropped);
    }
  }
  generation_ = generation;
}

void ReadCache::promote_locked(List::iterator n) {
  protected_.splice(protected_.begin(), probation_, n);
  n->is_protected = true;
  protected_bytes_ += n->cost;
  // Over its share: the protected list's least recently used go back to probation's front, where
  // they are the last probation entries to be evicted.
  while (protected_bytes_ > protected_max_) {
    List::iterator last = std::prev(protected_.end());
    last->is_protected = false;
    protected_bytes_ -= last->cost;
    probation_.splice(probation_.begin(), protected_, last);
  }
}

void ReadCache::unlink_locked(Map::iterator it, Dropped& out) {
  List::iterator n = it->second;
  map_.erase(it);  // before the node moves on: the key views its text
  bytes_ -= n->cost;
  if (n->is_protected) {
    protected_bytes_ -= n->cost;
    out.nodes.splice(out.nodes.end(), protected_, n);
  } else {
    out.nodes.splice(out.nodes.end(), probation_, n);
  }
}

void ReadCache::clear_locked(Dropped& out) {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (!map_.empty()) ++stats_.clears;
  out.map.swap(map_);
  out.nodes.splice(out.nodes.end(), probation_);
  out.nodes.splice(out.nodes.end(), protected_);
  bytes_ = 0;
  protected_bytes_ = 0;
}

ReadCache::Stats ReadCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = map_.size();
  s.bytes = bytes_;
  s.protected_bytes = protected_bytes_;
  return s;
}

}  // namespace ipa::storage::sqlite::internal
