#include "audit/audit_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ipa::audit {
namespace {

using storage::AuditEvent;

// A store stand-in: keeps the batches it accepts; can fail the first `fail_first` calls, fail
// forever, or hold every call until opened.
class FakeSink {
 public:
  AppendFn fn() {
    return [this](const std::vector<AuditEvent>& batch) -> core::Status {
      std::unique_lock lock(mu_);
      ++calls_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      if (fail_forever_ || fail_first_ > 0) {
        if (fail_first_ > 0) --fail_first_;
        return core::unavailable("store down");
      }
      batches_.push_back(batch);
      for (const AuditEvent& e : batch) events_.push_back(e);
      cv_.notify_all();
      return {};
    };
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void fail_first(int n) {
    std::lock_guard lock(mu_);
    fail_first_ = n;
  }
  void fail_forever() {
    std::lock_guard lock(mu_);
    fail_forever_ = true;
  }
  // Waits (with a deadline, never a fixed sleep) until `n` events arrived.
  bool wait_for_events(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n; });
  }
  bool wait_for_calls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_ >= n; });
  }
  std::vector<AuditEvent> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::vector<AuditEvent>> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int fail_first_ = 0;
  bool fail_forever_ = false;
  int calls_ = 0;
  std::vector<std::vector<AuditEvent>> batches_;
  std::vector<AuditEvent> events_;
};

AuditEvent event(int i) {
  AuditEvent e;
  e.time = core::TimePoint(std::chrono::seconds(1'800'000'000 + i));
  e.type = "read";
  e.client_id = "app";
  e.patient = "pat-1";
  e.resource_type = "Observation";
  e.resource_id = "obs-" + std::to_string(i);
  e.outcome = "success";
  e.status = 200;
  return e;
}

AuditLogOptions slow_options() {
  AuditLogOptions o;
  o.flush_interval = std::chrono::hours(1);  // only a full batch, flush() or stop() writes
  o.node = "node-a";
  o.retry_delay = std::chrono::milliseconds(1);
  o.fold_reads = false;  // these tests follow single events through the queue
  return o;
}

TEST(AuditFold, FoldsEqualReadsKeepingEachIdOnceAndTheCount) {
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 6; ++i) batch.push_back(event(i % 3));  // obs-0 obs-1 obs-2, twice
  batch[5].time = core::TimePoint(std::chrono::seconds(1'800'000'009));
  auto out = fold_reads(batch);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].resource_id, "obs-0 obs-1 obs-2");
  EXPECT_EQ(out[0].count, 6);
  EXPECT_EQ(out[0].time, batch[0].time);
  EXPECT_EQ(out[0].last_time, core::TimePoint(std::chrono::seconds(1'800'000'009)));
}

TEST(AuditFold, KeepsApartWhatDiffersAndNeverFoldsOtherEvents) {
  std::vector<AuditEvent> batch;
  batch.push_back(event(0));
  AuditEvent other_patient = event(1);
  other_patient.patient = "pat-2";
  batch.push_back(other_patient);
  AuditEvent not_found = event(2);
  not_found.status = 404;
  not_found.outcome = "failure";
  batch.push_back(not_found);
  AuditEvent other_app = event(3);
  other_app.client_id = "app-2";
  batch.push_back(other_app);
  AuditEvent update = event(4);
  update.type = "update";
  batch.push_back(update);
  batch.push_back(update);
  AuditEvent login = event(5);
  login.type = "login";
  login.resource_type.clear();
  login.resource_id.clear();
  batch.push_back(login);
  batch.push_back(event(6));  // folds into the first
  auto out = fold_reads(batch);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0].resource_id, "obs-0 obs-6");
  EXPECT_EQ(out[0].count, 2);
  EXPECT_EQ(out[1].patient, "pat-2");
  EXPECT_EQ(out[2].status, 404);
  EXPECT_EQ(out[3].client_id, "app-2");
  EXPECT_EQ(out[4].type, "update");
  EXPECT_EQ(out[5].type, "update");  // writes are never folded
  EXPECT_EQ(out[6].type, "login");
  for (size_t i = 1; i < out.size(); ++i) EXPECT_EQ(out[i].count, 1) << i;
}

TEST(AuditFold, ALongIdListStartsANewEvent) {
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(event(i));
  auto out = fold_reads(batch, 64);
  ASSERT_GT(out.size(), 1u);
  int64_t total = 0;
  std::string all;
  for (const AuditEvent& e : out) {
    EXPECT_LE(e.resource_id.size(), 64u);
    total += e.count;
    all += e.resource_id + " ";
  }
  EXPECT_EQ(total, 100);
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(all.find("obs-" + std::to_string(i) + " "), std::string::npos) << i;
  }
}

// record_read() folds a read into the newest queued one at once; flush() and the counters count
// requests, and the written rows say the same as folding at write time would.
TEST(AuditLog, ReadsFoldAtRecordTimeAndEveryRequestIsCounted) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.fold_reads = true;
  o.batch_size = 1000;
  AuditLog log(sink.fn(), o);
  auto view = [](int i) {
    AuditLog::ReadView v;
    v.time = core::TimePoint(std::chrono::seconds(1'800'000'000 + i));
    v.type = "read";
    v.client_id = "app";
    v.patient = "pat-1";
    v.outcome = "success";
    v.resource_type = "Observation";
    v.status = 200;
    return v;
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back("obs-" + std::to_string(i % 7));
  for (int i = 0; i < 30; ++i) {
    AuditLog::ReadView v = view(i);
    v.resource_id = ids[static_cast<size_t>(i)];
    log.record_read(v);
  }
  AuditLog::ReadView other = view(40);
  other.resource_id = "obs-x";
  other.status = 404;  // not the same read: its own event
  other.outcome = "failure";
  log.record_read(other);
  AuditLog::ReadView bad = view(41);
  std::string nasty = "obs\n1";
  bad.resource_id = nasty;  // a control character: recorded through record(), sanitized
  log.record_read(bad);
  log.flush();
  EXPECT_EQ(log.stats().recorded, 32u);
  EXPECT_EQ(log.stats().written, 32u);
  auto events = sink.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].count, 31);  // the 30 reads and the sanitized one ("obs?1") fold together
  EXPECT_EQ(events[0].resource_id, "obs-0 obs-1 obs-2 obs-3 obs-4 obs-5 obs-6 obs?1");
  EXPECT_EQ(events[0].time, core::TimePoint(std::chrono::seconds(1'800'000'000)));
  EXPECT_EQ(events[0].last_time, core::TimePoint(std::chrono::seconds(1'800'000'041)));
  EXPECT_EQ(events[0].node, "node-a");
  EXPECT_EQ(events[1].status, 404);
  EXPECT_EQ(events[1].count, 1);
}

TEST(AuditLog, FoldsTheReadsOfABatchBeforeWriting) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.fold_reads = true;
  o.batch_size = 100;
  AuditLog log(sink.fn(), o);
  for (int i = 0; i < 250; ++i) log.record(event(i % 10));
  log.flush();
  auto events = sink.events();
  int64_t total = 0;
  for (const AuditEvent& e : events) {
    total += e.count;
    EXPECT_EQ(e.resource_id.substr(0, 6), "obs-0 ");
  }
  EXPECT_EQ(total, 250);
  EXPECT_LE(events.size(), 4u);  // one per batch of at most 100
  EXPECT_EQ(log.stats().written, 250u);
}

TEST(AuditLog, WritesInBatchesInOrderOnFlush) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.batch_size = 100;
  AuditLog log(sink.fn(), o);
  for (int i = 0; i < 250; ++i) log.record(event(i));
  log.flush();
  auto events = sink.events();
  ASSERT_EQ(events.size(), 250u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(events[i].resource_id, "obs-" + std::to_string(i));
  auto batches = sink.batches();
  EXPECT_GE(batches.size(), 3u);
  for (const auto& b : batches) EXPECT_LE(b.size(), 100u);
  EXPECT_EQ(log.stats().written, 250u);
  EXPECT_EQ(log.stats().recorded, 250u);
  EXPECT_EQ(events[0].node, "node-a");
}

TEST(AuditLog, AFullBatchIsWrittenWithoutAFlush) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.batch_size = 10;
  AuditLog log(sink.fn(), o);
  for (int i = 0; i < 10; ++i) log.record(event(i));
  EXPECT_TRUE(sink.wait_for_events(10));
  EXPECT_EQ(sink.batches().size(), 1u);
}

TEST(AuditLog, TheIntervalWritesAPartialBatch) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.flush_interval = std::chrono::milliseconds(5);
  AuditLog log(sink.fn(), o);
  log.record(event(1));
  EXPECT_TRUE(sink.wait_for_events(1));
}

TEST(AuditLog, AFullQueueMakesTheCallerWaitAndLosesNothing) {
  FakeSink sink;
  AuditLogOptions o = slow_options();
  o.batch_size = 4;
  o.capacity = 8;
  AuditLog log(sink.fn(), o);
  sink.close();  // the store hangs: the writer holds its first batch
  for (int i = 0; i < 4; ++i) log.record(event(i));
  ASSERT_TRUE(sink.wait_for_calls(1));                // the writer took events 0-3 and is stuck
  for (int i = 4; i < 12; ++i) log.record(event(i));  // fills the queue (capacity 8)
  std::atomic<bool> returned{false};
  std::thread late([&] {
    log.record(event(12));
    returned = true;
  });
  // The queue is full and the store hangs, so the late caller cannot have returned.
  EXPECT_FALSE(returned.load());
  sink.open();
  late.join();
  EXPECT_TRUE(returned.load());
  log.flush();
  auto events = sink.events();
  ASSERT_EQ(events.size(), 13u);
  for (int i = 0; i < 13; ++i) EXPECT_EQ(events[i].resource_id, "obs-" + std::to_string(i));
}

TEST(AuditLog, AFailedBatchIsRetried) {
  FakeSink sink;
  sink.fail_first(2);
  AuditLog log(sink.fn(), slow_options());
  for (int i = 0; i < 3; ++i) log.record(event(i));
  log.flush();
  EXPECT_EQ(sink.events().size(), 3u);
  EXPECT_EQ(log.stats().failures, 2u);
  EXPECT_EQ(log.stats().written, 3u);
}

TEST(AuditLog, StopWritesWhatIsQueued) {
  FakeSink sink;
  {
    AuditLog log(sink.fn(), slow_options());
    for (int i = 0; i < 7; ++i) log.record(event(i));
    EXPECT_TRUE(sink.events().empty());  // interval of an hour, batch of 1000: nothing yet
  }                                      // the destructor is the server's shutdown path
  EXPECT_EQ(sink.events().size(), 7u);
}

TEST(AuditLog, RecordAfterStopWritesDirectly) {
  FakeSink sink;
  AuditLog log(sink.fn(), slow_options());
  log.stop();
  log.record(event(1));
  EXPECT_EQ(sink.events().size(), 1u);
  log.flush();  // returns at once: nothing pending
}

TEST(AuditLog, ShutdownGivesUpOnADeadStoreAfterItsAttempts) {
  FakeSink sink;
  sink.fail_forever();
  AuditLogOptions o = slow_options();
  o.shutdown_attempts = 3;
  AuditLog log(sink.fn(), o);
  for (int i = 0; i < 5; ++i) log.record(event(i));
  log.stop();
  EXPECT_EQ(log.stats().dropped, 5u);
  EXPECT_EQ(log.stats().written, 0u);
  EXPECT_GE(log.stats().failures, 3u);
  log.flush();  // dropped events count as finished: no hang
}

TEST(AuditLog, FieldsAreClippedAndControlCharactersReplaced) {
  FakeSink sink;
  AuditLog log(sink.fn(), slow_options());
  AuditEvent e = event(1);
  e.username = std::string("eve\0\n", 5) + std::string(1000, 'x');
  e.node = "other-node";
  log.record(e);
  log.flush();
  auto events = sink.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].username.substr(0, 5), "eve??");
  EXPECT_EQ(events[0].username.size(), 256u);
  EXPECT_EQ(events[0].node, "other-node");  // an explicit node is kept
}

TEST(AuditLog, ClipKeepsUtf8Whole) {
  EXPECT_EQ(clip("ab\xC3\xA9", 3), "ab");  // é is two bytes: cut before it
  EXPECT_EQ(clip("ab\xC3\xA9", 4), "ab\xC3\xA9");
  EXPECT_EQ(clip("a\tb", 10), "a?b");
}

}  // namespace
}  // namespace ipa::audit
