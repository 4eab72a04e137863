#include "storage/sqlite/internal/read_cache.h"

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

// Bytes an entry costs, roughly: the text it holds plus the map's and the strings' overhead.
size_t cost_of(const StoredResource& r) {
  return r.json.size() + r.resource_type.size() * 2 + r.id.size() * 2 + r.owner_patient.size() +
         192;
}

}  // namespace

ReadCache::ReadCache(size_t max_bytes, std::chrono::microseconds check_interval)
    : max_bytes_(max_bytes), check_interval_(check_interval) {}

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
    hit = it->second;
  }
  return *hit;  // copied outside the lock
}

void ReadCache::insert(uint64_t epoch, const StoredResource& r) {
  if (!enabled()) return;
  auto value = std::make_shared<const StoredResource>(r);
  size_t cost = cost_of(r);
  if (cost > max_bytes_) return;
  std::lock_guard lock(mu_);
  // An invalidation since `epoch` means the read may predate a commit: do not keep it.
  if (epoch != epoch_.load(std::memory_order_relaxed)) return;
  std::string key(key_of(r.resource_type, r.id));
  auto it = map_.find(key);
  if (it != map_.end()) {
    bytes_ -= cost_of(*it->second);
    map_.erase(it);
  }
  if (bytes_ + cost > max_bytes_) clear_locked();
  map_.emplace(std::move(key), std::move(value));
  bytes_ += cost;
}

bool ReadCache::due(Clock::time_point now) const {
  int64_t last = last_check_.load(std::memory_order_relaxed);
  return last == 0 || now.time_since_epoch().count() - last >=
                          std::chrono::duration_cast<Clock::duration>(check_interval_).count();
}

void ReadCache::observe(int64_t generation, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (generation_ && *generation_ != generation) clear_locked();
  generation_ = generation;
  last_check_.store(std::max<int64_t>(1, now.time_since_epoch().count()),
                    std::memory_order_relaxed);
}

void ReadCache::committed(int64_t generation, const std::vector<ResourceKey>& keys) {
  std::lock_guard lock(mu_);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (!generation_ || *generation_ != generation - 1) {
    // Another process wrote since the generation this process last knew: anything may be stale.
    clear_locked();
  } else {
    for (const ResourceKey& k : keys) {
      auto it = map_.find(key_of(k.resource_type, k.id));
      if (it == map_.end()) continue;
      bytes_ -= cost_of(*it->second);
      map_.erase(it);
    }
  }
  generation_ = generation;
}

void ReadCache::clear_locked() {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (!map_.empty()) ++stats_.clears;
  map_.clear();
  bytes_ = 0;
}

ReadCache::Stats ReadCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = map_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace ipa::storage::sqlite::internal
