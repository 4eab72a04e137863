#include "storage/sqlite/internal/read_cache.h"

#include <gtest/gtest.h>

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
  for (int i = 0; i < 100; ++i) c.insert(c.epoch(), res("o" + std::to_string(i), 1));
  EXPECT_LE(c.stats().bytes, 4096u);
  EXPECT_GT(c.stats().entries, 0u);
  EXPECT_GT(c.stats().clears, 0u);
  EXPECT_TRUE(c.find("Observation", "o99"));  // the last one inserted is there
  StoredResource big = res("big", 1);
  big.json.assign(8192, 'x');
  c.insert(c.epoch(), big);  // larger than the whole cache: not kept
  EXPECT_FALSE(c.find("Observation", "big"));
}

}  // namespace
}  // namespace ipa::storage::sqlite::internal
