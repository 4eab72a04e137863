// ReadCache: the current version of recently read resources, kept in memory so that a read by id
// does not open a SQLite read transaction (two fcntl lock calls and a B-tree walk per read).
// It never serves a version older than the store's: writes of this process drop their keys when
// they commit, and a store-wide generation counter that every writing process increments tells a
// write by another process (an `import` or `admin` run against a serving file); the store reads
// that counter at most every `check_interval` before serving from the cache, and a change empties
// the cache. Reads racing a write are never cached (the epoch check). Not-found results are not
// cached. Thread-safe (one mutex; every critical section is a hash lookup).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/resource_store.h"

namespace ipa::storage::sqlite::internal {

class ReadCache {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_bytes` 0 disables the cache (find() misses, insert() does nothing). When an insert
  // would pass `max_bytes`, the cache is emptied first (simple and bounded; a working set larger
  // than the cache then reads from SQLite as without a cache).
  ReadCache(size_t max_bytes, std::chrono::microseconds check_interval);

  bool enabled() const { return max_bytes_ > 0; }

  // Taken before reading the store; insert() keeps the result only if no invalidation happened
  // in between (a write that committed during the read may have been missed by it).
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // The cached current version of type/id (with its owner), or nothing.
  std::optional<StoredResource> find(std::string_view type, std::string_view id);

  // Caches `r` (the current version, read from the store after `epoch` was taken).
  void insert(uint64_t epoch, const StoredResource& r);

  // Whether the store's generation should be read before serving from the cache: true when
  // `check_interval` has passed since the last observe() (or none happened yet).
  bool due(Clock::time_point now) const;

  // The generation just read from the store: empties the cache when it differs from the last
  // one known (another process wrote).
  void observe(int64_t generation, Clock::time_point now);

  // A transaction of this process committed, moving the generation to `generation` and writing
  // `keys`: drops those keys; empties the cache when the generation before it was not the last
  // known one (another process wrote in between).
  void committed(int64_t generation, const std::vector<ResourceKey>& keys);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t clears = 0;  // whole-cache drops (another process wrote, or the cache was full)
    size_t entries = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  void clear_locked();  // mu_ held

  const size_t max_bytes_;
  const std::chrono::microseconds check_interval_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int64_t> last_check_{0};  // Clock ticks of the last observe(); 0: never

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const StoredResource>, Hash, Eq> map_;
  size_t bytes_ = 0;
  std::optional<int64_t> generation_;  // the last generation known; none before the first
  Stats stats_;
};

}  // namespace ipa::storage::sqlite::internal
