// AuditLog: the per-process queue of the audit trail. Request threads enqueue events (a mutex
// and a move, no store access); one writer thread appends them to the AuthStore in batches, one
// transaction per batch. Nothing is lost: a full queue makes the enqueuing thread wait, a failed
// batch is retried, and destruction (server shutdown) writes what is still queued. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "storage/auth_store.h"

namespace ipa::audit {

struct AuditLogOptions {
  // A batch is written when this much time has passed since the last write, or as soon as
  // `batch_size` events wait, whichever comes first.
  std::chrono::milliseconds flush_interval{150};
  // Folding (below) makes a batch of reads a handful of rows, so a large batch costs one short
  // transaction: at 100,000 reads/s this is about ten commits a second instead of a hundred.
  size_t batch_size = 10'000;
  // At most this many events wait in memory; record() blocks while the queue is full.
  size_t capacity = 50'000;
  // Stamped on every event (storage::AuditEvent::node).
  std::string node;
  // Pause before retrying a failed batch (doubles up to 2 s); at shutdown a batch that fails
  // `shutdown_attempts` times is dropped with an error in the log.
  std::chrono::milliseconds retry_delay{50};
  int shutdown_attempts = 5;
  // Fold the reads of each batch (fold_reads()) before writing it.
  bool fold_reads = true;
};

// Appends one batch in one transaction; storage::AuthStore::append_audit in production.
using AppendFn = std::function<core::Status(const std::vector<storage::AuditEvent>&)>;

// An AppendFn writing to `store` (kept alive by the function).
AppendFn append_to(std::shared_ptr<storage::AuthStore> store);

class AuditLog {
 public:
  // Starts the writer thread, which calls `append` (from that thread only, except during
  // shutdown, see record()).
  AuditLog(AppendFn append, AuditLogOptions options);
  // Stops the writer after it has written every queued event (see stop()).
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Enqueues one event: stamps `node`, clips over-long fields and replaces control characters
  // (so no value can break a back end, e.g. a NUL for PostgreSQL). Blocks while the queue holds
  // `capacity` events: the request waits for the writer rather than losing its event. After
  // stop() the event is appended synchronously (nothing is dropped during shutdown).
  void record(storage::AuditEvent event);

  // A read-like event ("read", "vread", "search-type") given as views, for the read path: when
  // the newest queued event is the same read (fold_reads(): equal but for time and id), the id
  // and the time are added to it under the lock, without building an event; otherwise it is
  // recorded as record() records. Nothing is lost either way: `count` says how many requests.
  struct ReadView {
    core::TimePoint time;
    std::string_view type, client_id, username, patient, outcome, detail, resource_type,
        resource_id;
    int status = 0;
  };
  void record_read(const ReadView& v);

  // Waits until every event recorded before this call is in the store (or was given up at
  // shutdown), then returns. For tests and shutdown hooks; not for the request path.
  void flush();

  // Writes what is queued and ends the writer thread; later record() calls write directly.
  // Idempotent.
  void stop();

  // Counters for tests and diagnostics.
  struct Stats {
    uint64_t recorded = 0;  // requests accepted by record() and record_read()
    uint64_t written = 0;   // requests whose events are committed to the store
    uint64_t dropped = 0;   // requests whose events were given up at shutdown
    uint64_t batches = 0;   // committed append_audit transactions
    uint64_t failures = 0;  // failed append_audit attempts
  };
  Stats stats() const;

 private:
  void run();
  // Appends `batch` until it succeeds; gives up only when stopping and attempts run out.
  bool write(const std::vector<storage::AuditEvent>& batch, bool stopping);

  const AppendFn append_;
  const AuditLogOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_writer_;  // batch full, flush asked, or stopping
  std::condition_variable space_;        // the queue has room again
  std::condition_variable done_;         // `finished_` advanced
  std::deque<storage::AuditEvent> queue_;
  uint64_t finished_ = 0;  // events written or dropped (in record order)
  int flush_waiters_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  Stats stats_;
  std::mutex stop_mu_;  // serializes stop()
  std::thread writer_;
};

// The audit trail of a busy app is mostly reads: one row per read would cost the store more than
// the read itself. Within one batch (at most `batch_size` events, at most `flush_interval`
// apart), reads ("read", "vread", "search-type") that are equal but for their time and resource
// id are folded into the first of them: its `resource_id` lists the distinct ids (space-separated,
// at most `max_ids_bytes`; a longer list starts a new event), `count` says how many requests it
// stands for and `last_time` when the last one came. Every other event is kept as it is, and the
// order of first occurrences is kept. Exposed for tests.
std::vector<storage::AuditEvent> fold_reads(std::vector<storage::AuditEvent> batch,
                                            size_t max_ids_bytes = 4096);

// Keeps at most `max` bytes of `s` (cut on a UTF-8 boundary) and replaces ASCII control
// characters with '?'. Exposed for tests.
std::string clip(std::string s, size_t max);

}  // namespace ipa::audit
