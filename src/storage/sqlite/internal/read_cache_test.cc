#include "storage/sqlite/internal/read_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace ipa::storage::sqlite::internal {
namespace {

using namespace std::chrono_literals;

StoredResource res(const std::string& id, int64_t version, const std::string& owner = "p1") {
  StoredResource r;
  r.resource_type = "Observation";
  r.id = id;
  r.version_id = version;
  r.json = R"({"resourceType":"Observation","id":")" + id + "\"}";
  r.owner_patient = owner;
  return r;
}

TEST(ReadCache, KeepsWhatWasInsertedWithItsOwner) {
  ReadCache c(1 << 20, 1ms);
  EXPECT_FALSE(c.find("Observation", "o1"));
  c.insert(c.epoch(), res("o1", 3, "pat-7"));
  auto hit = c.find("Observation", "o1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version_id, 3);
  EXPECT_EQ(hit->owner_patient, "pat-7");
  EXPECT_FALSE(c.find("Patient", "o1"));  // the type is part of the key
  EXPECT_EQ(c.stats().hits, 1u);
  EXPECT_EQ(c.stats().misses, 2u);
}

TEST(ReadCache, DisabledCacheKeepsNothing) {
  ReadCache c(0, 1ms);
  EXPECT_FALSE(c.enabled());
  c.insert(c.epoch(), res("o1", 1));
  EXPECT_FALSE(c.find("Observation", "o1"));
}

TEST(ReadCache, AReadThatRacedACommitIsNotKept) {
  ReadCache c(1 << 20, 1ms);
  c.observe(10, ReadCache::Clock::now());
  uint64_t before = c.epoch();               // a reader starts ...
  c.committed(11, {{"Observation", "o2"}});  // ... a write of another resource commits ...
  c.insert(before, res("o1", 1));            // ... the reader's result may predate it
  EXPECT_FALSE(c.find("Observation", "o1"));
  c.insert(c.epoch(), res("o1", 1));
  EXPECT_TRUE(c.find("Observation", "o1"));
}

TEST(ReadCache, OwnCommitDropsOnlyItsKeys) {
  ReadCache c(1 << 20, 1ms);
  c.observe(5, ReadCache::Clock::now());
  c.insert(c.epoch(), res("o1", 1));
  c.insert(c.epoch(), res("o2", 1));
  c.committed(6, {{"Observation", "o1"}});
  EXPECT_FALSE(c.find("Observation", "o1"));
  EXPECT_TRUE(c.find("Observation", "o2"));
  EXPECT_EQ(c.stats().clears, 0u);
}

TEST(ReadCache, CommitAfterAnotherProcessWroteEmptiesTheCache) {
  ReadCache c(1 << 20, 1ms);
  c.observe(5, ReadCache::Clock::now());
  c.insert(c.epoch(), res("o2", 1));
  // The generation moved 5 -> 6 in another process, then this process's write made it 7.
  c.committed(7, {{"Observation", "o1"}});
  EXPECT_FALSE(c.find("Observation", "o2"));
  EXPECT_EQ(c.stats().clears, 1u);
}

TEST(ReadCache, ANewGenerationEmptiesTheCacheTheSameOneDoesNot) {
  ReadCache c(1 << 20, 1ms);
  auto t0 = ReadCache::Clock::now();
  EXPECT_TRUE(c.due(t0));  // never checked
  c.observe(5, t0);
  EXPECT_FALSE(c.due(t0 + 500us));
  EXPECT_TRUE(c.due(t0 + 1ms));
  c.insert(c.epoch(), res("o1", 1));
  c.observe(5, t0 + 1ms);
  EXPECT_TRUE(c.find("Observation", "o1"));
  c.observe(6, t0 + 2ms);
  EXPECT_FALSE(c.find("Observation", "o1"));
}

TEST(ReadCache, StaysWithinItsByteLimit) {
  ReadCache c(4096, 1ms);
  for (int i = 0; i < 100; ++i) {
    c.insert(c.epoch(), res("o" + std::to_string(i), 1));
    ASSERT_LE(c.stats().bytes, 4096u) << i;
  }
  EXPECT_GT(c.stats().entries, 0u);
  EXPECT_GT(c.stats().evictions, 0u);
  EXPECT_EQ(c.stats().clears, 0u);            // full is not a whole-cache drop any more
  EXPECT_TRUE(c.find("Observation", "o99"));  // the last one inserted is there
}

// The cost of res() with a four-character id, so that a cap is a whole number of entries.
size_t entry_cost() { return ReadCache::cost_of(res("x000", 1)); }

std::string id4(const char* prefix, int i) {
  std::string n = std::to_string(i);
  return prefix + std::string(3 - n.size(), '0') + n;
}

TEST(ReadCache, HotEntriesOutliveColdInsertsPastTheCap) {
  ReadCache c(20 * entry_cost(), 1ms);
  c.observe(1, ReadCache::Clock::now());
  for (int i = 0; i < 5; ++i) c.insert(c.epoch(), res(id4("h", i), 1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.find("Observation", id4("h", i)));  // read again
  for (int i = 0; i < 200; ++i) c.insert(c.epoch(), res(id4("c", i), 1));       // a cold sweep
  auto s = c.stats();
  EXPECT_EQ(s.entries, 20u);
  EXPECT_EQ(s.bytes, 20 * entry_cost());
  EXPECT_EQ(s.evictions, 185u);  // 205 inserted, 20 kept
  EXPECT_EQ(s.clears, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(c.find("Observation", id4("h", i))) << i;
  EXPECT_FALSE(c.find("Observation", id4("c", 0)));
  EXPECT_FALSE(c.find("Observation", id4("c", 184)));
  EXPECT_TRUE(c.find("Observation", id4("c", 185)));
  EXPECT_TRUE(c.find("Observation", id4("c", 199)));

  // Another process wrote: everything goes, counted as a clear, not as evictions.
  c.observe(2, ReadCache::Clock::now());
  s = c.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.protected_bytes, 0u);
  EXPECT_EQ(s.evictions, 185u);
  EXPECT_EQ(s.clears, 1u);
}

TEST(ReadCache, EntriesReadOnceAreEvictedOldestFirst) {
  ReadCache c(4 * entry_cost(), 1ms);
  for (int i = 0; i < 4; ++i) c.insert(c.epoch(), res(id4("c", i), 1));
  c.insert(c.epoch(), res(id4("c", 4), 1));
  EXPECT_FALSE(c.find("Observation", id4("c", 0)));
  for (int i = 1; i < 5; ++i) EXPECT_TRUE(c.find("Observation", id4("c", i))) << i;
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(ReadCache, TheProtectedListKeepsAtMostItsShare) {
  ReadCache c(10 * entry_cost(), 1ms);
  for (int i = 0; i < 10; ++i) c.insert(c.epoch(), res(id4("h", i), 1));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.find("Observation", id4("h", i)));
  auto s = c.stats();
  EXPECT_EQ(s.entries, 10u);  // nothing evicted: h0 and h1 went back to probation
  EXPECT_EQ(s.protected_bytes, 8 * entry_cost());
  EXPECT_EQ(s.evictions, 0u);
  // The next insert evicts probation's least recently used: h0 (demoted before h1).
  c.insert(c.epoch(), res(id4("n", 0), 1));
  EXPECT_FALSE(c.find("Observation", id4("h", 0)));
  for (int i = 1; i < 10; ++i) EXPECT_TRUE(c.find("Observation", id4("h", i))) << i;
  EXPECT_TRUE(c.find("Observation", id4("n", 0)));
  EXPECT_LE(c.stats().protected_bytes, 8 * entry_cost());
}

TEST(ReadCache, AnEntryLargerThanTheCapIsNotKeptAndEvictsNothing) {
  ReadCache c(4096, 1ms);
  c.insert(c.epoch(), res("o1", 1));
  StoredResource big = res("big", 1);
  big.json.assign(4096, 'x');
  ASSERT_GT(ReadCache::cost_of(big), 4096u);
  c.insert(c.epoch(), big);
  EXPECT_FALSE(c.find("Observation", "big"));
  EXPECT_TRUE(c.find("Observation", "o1"));
  EXPECT_EQ(c.stats().evictions, 0u);
  // One that fits alone evicts everything else.
  big.json.resize(4096 - (ReadCache::cost_of(big) - 4096));
  ASSERT_EQ(ReadCache::cost_of(big), 4096u);
  c.insert(c.epoch(), big);
  EXPECT_TRUE(c.find("Observation", "big"));
  EXPECT_FALSE(c.find("Observation", "o1"));
  EXPECT_EQ(c.stats().bytes, 4096u);
}

TEST(ReadCache, ByteAccountingIsExactThroughEvictionsPromotionsAndDrops) {
  const size_t cap = 16 * 1024;
  ReadCache c(cap, 1ms);
  c.observe(1, ReadCache::Clock::now());
  int64_t generation = 1;
  std::mt19937 rng(7);  // fixed seed: the same sequence on every run
  std::vector<ResourceKey> all;
  for (int i = 0; i < 64; ++i) all.push_back({"Observation", id4("r", i)});
  for (int step = 0; step < 5000; ++step) {
    const ResourceKey& k = all[rng() % all.size()];
    switch (rng() % 4) {
      case 0:
      case 1: {
        StoredResource r = res(k.id, 1);
        r.json.append(rng() % 2000, 'x');
        c.insert(c.epoch(), r);
        break;
      }
      case 2:
        c.find(k.resource_type, k.id);
        break;
      default:
        c.committed(++generation, {k});
        break;
    }
    auto s = c.stats();
    ASSERT_LE(s.bytes, cap) << step;
    ASSERT_LE(s.protected_bytes, std::min(s.bytes, cap - cap / 5)) << step;
  }
  auto s = c.stats();
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.clears, 0u);
  size_t sum = 0, found = 0;
  for (const ResourceKey& k : all) {
    if (auto hit = c.find(k.resource_type, k.id)) {
      sum += ReadCache::cost_of(*hit);
      ++found;
    }
  }
  EXPECT_EQ(found, s.entries);
  EXPECT_EQ(sum, s.bytes);
  c.committed(++generation, all);  // drops every key one by one
  s = c.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.protected_bytes, 0u);
}

// Readers on several threads fill, hit and evict while a writer commits new versions: a read that
// starts after a commit returned never gets an older version from the cache.
TEST(ReadCache, NeverServesAVersionOlderThanTheLastCommitUnderConcurrency) {
  constexpr int kKeys = 32;
  ReadCache c(8 * entry_cost(), 1ms);  // smaller than the key set: constant eviction
  c.observe(0, ReadCache::Clock::now());
  std::array<std::atomic<int64_t>, kKeys> stored{};     // the "store": the current version
  std::array<std::atomic<int64_t>, kKeys> published{};  // versions whose committed() returned
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      while (!stop.load()) {
        int k = static_cast<int>(rng() % kKeys);
        int64_t floor = published[k].load();
        if (auto hit = c.find("Observation", id4("k", k))) {
          if (hit->version_id < floor) ++stale;
          continue;
        }
        uint64_t epoch = c.epoch();
        c.insert(epoch, res(id4("k", k), stored[k].load()));
      }
    });
  }
  // At least 20000 commits, and on until the readers have hit the cache often enough for the
  // check to mean something (bounded, should a scheduler starve them).
  std::mt19937 rng(99);
  for (int64_t g = 1; g <= 20000 || (c.stats().hits < 2000 && g <= 2'000'000); ++g) {
    int k = static_cast<int>(rng() % kKeys);
    int64_t v = stored[k].load() + 1;
    stored[k].store(v);
    c.committed(g, {{"Observation", id4("k", k)}});
    published[k].store(v);
  }
  stop.store(true);
  for (auto& r : readers) r.join();
  EXPECT_EQ(stale.load(), 0);
  auto s = c.stats();
  EXPECT_LE(s.bytes, 8 * entry_cost());
  EXPECT_EQ(s.clears, 0u);
  EXPECT_GE(s.hits, 2000u);
}

}  // namespace
}  // namespace ipa::storage::sqlite::internal
