// ReadCache: the current version of recently read resources, kept in memory so that a read by id
// does not open a SQLite read transaction (two fcntl lock calls and a B-tree walk per read).
// It never serves a version older than the store's: writes of this process drop their keys when
// they commit, and a store-wide generation counter that every writing process increments tells a
// write by another process (an `import` or `admin` run against a serving file); the store reads
// that counter at most every `check_interval` before serving from the cache, and a change empties
// the cache. Reads racing a write are never cached (the epoch check). Not-found results are not
// cached. When full it evicts by segmented LRU: a new entry enters a probation list, a second
// read moves it to a protected list (at most 80 % of the bytes), and eviction takes the least
// recently used probation entry first, so a hot patient outlives a sweep of cold reads.
// Thread-safe: one mutex; every critical section is a hash lookup plus O(1) list splices (an
// insert evicts as many entries as its bytes need, each once); freed memory is released after the
// mutex is let go.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
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

  // `max_bytes` 0 disables the cache (find() misses, insert() does nothing). The cache never
  // holds more than `max_bytes` (by cost_of(), which counts the text and the bookkeeping of an
  // entry); an insert that would pass it evicts least recently used entries, probation before
  // protected, and an entry costing more than `max_bytes` on its own is not kept.
  ReadCache(size_t max_bytes, std::chrono::microseconds check_interval);

  bool enabled() const { return max_bytes_ > 0; }

  // Taken before reading the store; insert() keeps the result only if no invalidation happened
  // in between (a write that committed during the read may have been missed by it).
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // The cached current version of type/id (with its owner), or nothing. A hit marks the entry
  // recently used (and moves a probation entry to the protected list).
  std::optional<StoredResource> find(std::string_view type, std::string_view id);

  // Caches `r` (the current version, read from the store after `epoch` was taken). Keeps an
  // entry already cached for the same key (equal epochs mean it is the same version).
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
    uint64_t evictions = 0;  // entries dropped to make room for another
    uint64_t clears = 0;     // whole-cache drops because another process wrote
    size_t entries = 0;
    size_t bytes = 0;            // the sum of cost_of() over the entries; never above max_bytes
    size_t protected_bytes = 0;  // of which in the protected list
  };
  Stats stats() const;

  // What one entry for `r` counts against `max_bytes`: its strings plus the list node, the map
  // node and bucket, and the shared allocation that hold it.
  static size_t cost_of(const StoredResource& r);

 private:
  struct Node {
    std::string key;  // "type/id"; the map's key views it (list nodes never move)
    std::shared_ptr<const StoredResource> value;
    size_t cost = 0;
    bool is_protected = false;
  };
  using List = std::list<Node>;
  using Map = std::unordered_map<std::string_view, List::iterator>;
  // What a critical section unlinked: freed by its destructor once the mutex is released (declare
  // it before the lock).
  struct Dropped {
    List nodes;
    Map map;
  };

  void unlink_locked(Map::iterator it, Dropped& out);  // mu_ held; not counted as an eviction
  void clear_locked(Dropped& out);                     // mu_ held
  void promote_locked(List::iterator n);               // mu_ held; `n` is in probation_

  const size_t max_bytes_;
  const size_t protected_max_;  // 80 % of max_bytes_
  const std::chrono::microseconds check_interval_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int64_t> last_check_{0};  // Clock ticks of the last observe(); 0: never

  mutable std::mutex mu_;
  Map map_;
  List probation_;  // front: most recently used
  List protected_;  // front: most recently used
  size_t bytes_ = 0;
  size_t protected_bytes_ = 0;
  std::optional<int64_t> generation_;  // the last generation known; none before the first
  Stats stats_;
};

}  // namespace ipa::storage::sqlite::internal
