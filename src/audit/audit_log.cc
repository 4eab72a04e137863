#include "audit/audit_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ipa::audit {

std::string clip(std::string s, size_t max) {
  if (s.size() > max) {
    size_t cut = max;
    // Never cut a UTF-8 sequence in half: back up over continuation bytes (10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
  }
  for (char& c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return s;
}

namespace {

void sanitize(storage::AuditEvent& e) {
  e.type = clip(std::move(e.type), 64);
  e.client_id = clip(std::move(e.client_id), 256);
  e.username = clip(std::move(e.username), 256);
  e.patient = clip(std::move(e.patient), 64);
  e.outcome = clip(std::move(e.outcome), 16);
  e.detail = clip(std::move(e.detail), 1024);
  e.resource_type = clip(std::move(e.resource_type), 64);
  e.resource_id = clip(std::move(e.resource_id), 64);
  e.node = clip(std::move(e.node), 256);
}

constexpr auto kMaxRetryDelay = std::chrono::milliseconds(2000);

// How long an id list record_read() lets grow in the newest queued event (fold_reads() merges
// and caps the lists again when the batch is written).
constexpr size_t kFoldAtRecordBytes = 4096;

}  // namespace

namespace {

bool foldable_type(std::string_view type) {
  return type == "read" || type == "vread" || type == "search-type";
}

// The ids of a (possibly already folded) event, in order.
std::vector<std::string_view> ids_of(const std::string& list) {
  std::vector<std::string_view> out;
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find(' ', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.push_back(std::string_view(list).substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<storage::AuditEvent> fold_reads(std::vector<storage::AuditEvent> batch,
                                            size_t max_ids_bytes) {
  std::vector<storage::AuditEvent> out;
  out.reserve(batch.size());
  struct Open {
    size_t index;                         // in `out`
    std::unordered_set<std::string> ids;  // the ids already listed
  };
  std::unordered_map<std::string, Open> open;
  for (storage::AuditEvent& e : batch) {
    if (!foldable_type(e.type)) {
      out.push_back(std::move(e));
      continue;
    }
    const core::TimePoint last = std::max(e.time, e.last_time);
    // Everything but the time, the ids and the count must be equal to fold. '\x1f' cannot occur
    // in a field (sanitize() replaced control characters).
    std::string key;
    for (const std::string* f : {&e.type, &e.client_id, &e.username, &e.patient, &e.outcome,
                                 &e.detail, &e.resource_type, &e.node}) {
      key += *f;
      key += '\x1f';
    }
    key += std::to_string(e.status);
    std::vector<std::string_view> ids = ids_of(e.resource_id);
    auto it = open.find(key);
    if (it != open.end()) {
      storage::AuditEvent& into = out[it->second.index];
      size_t grow = 0;
      for (std::string_view id : ids) {
        if (it->second.ids.count(std::string(id)) == 0) grow += 1 + id.size();
      }
      if (into.resource_id.size() + grow <= max_ids_bytes) {
        for (std::string_view id : ids) {
          if (!it->second.ids.insert(std::string(id)).second) continue;
          if (!into.resource_id.empty()) into.resource_id += ' ';
          into.resource_id += id;
        }
        into.count += std::max<int64_t>(1, e.count);
        into.last_time = std::max(into.last_time, last);
        continue;
      }
      open.erase(it);  // full: this event starts the next one of the group
    }
    // A new group: its own ids once each (an event folded at record time may list one twice).
    Open o{out.size(), {}};
    std::string listed;
    for (std::string_view id : ids) {
      if (!o.ids.insert(std::string(id)).second) continue;
      if (!listed.empty()) listed += ' ';
      listed += id;
    }
    e.resource_id = std::move(listed);
    e.count = std::max<int64_t>(1, e.count);
    e.last_time = last;
    open.emplace(std::move(key), std::move(o));
    out.push_back(std::move(e));
  }
  return out;
}

AppendFn append_to(std::shared_ptr<storage::AuthStore> store) {
  return [store = std::move(store)](const std::vector<storage::AuditEvent>& batch) {
    return store->append_audit(batch);
  };
}

AuditLog::AuditLog(AppendFn append, AuditLogOptions options)
    : append_(std::move(append)), options_(std::move(options)) {
  writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() { stop(); }

void AuditLog::record_read(const ReadView& v) {
  if (options_.fold_reads && foldable_type(v.type) && v.resource_id.size() <= 64 &&
      v.resource_id.find(' ') == std::string_view::npos &&
      std::none_of(v.resource_id.begin(), v.resource_id.end(),
                   [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    std::lock_guard lock(mu_);
    // The newest queued event is already sanitized: a view equal to it field by field is clean.
    if (!stopping_ && !queue_.empty()) {
      storage::AuditEvent& b = queue_.back();
      if (b.type == v.type && b.status == v.status && b.client_id == v.client_id &&
          b.username == v.username && b.patient == v.patient && b.outcome == v.outcome &&
          b.detail == v.detail && b.resource_type == v.resource_type && b.node == options_.node &&
          b.resource_id.size() + 1 + v.resource_id.size() <= kFoldAtRecordBytes) {
        // Appended unless it is the last id listed; fold_reads() removes other repeats.
        std::string_view list = b.resource_id;
        size_t space = list.rfind(' ');
        std::string_view last_id = space == std::string_view::npos ? list : list.substr(space + 1);
        if (!v.resource_id.empty() && last_id != v.resource_id) {
          if (!b.resource_id.empty()) b.resource_id += ' ';
          b.resource_id += v.resource_id;
        }
        b.count = std::max<int64_t>(1, b.count) + 1;
        b.last_time = std::max({b.last_time, b.time, v.time});
        ++stats_.recorded;
        return;
      }
    }
  }
  storage::AuditEvent e;
  e.time = v.time;
  e.type = v.type;
  e.client_id = v.client_id;
  e.username = v.username;
  e.patient = v.patient;
  e.outcome = v.outcome;
  e.detail = v.detail;
  e.resource_type = v.resource_type;
  e.resource_id = v.resource_id;
  e.status = v.status;
  record(std::move(e));
}

void AuditLog::record(storage::AuditEvent event) {
  if (event.node.empty()) event.node = options_.node;
  sanitize(event);
  std::unique_lock lock(mu_);
  // Lose nothing: when the writer cannot keep up, the request waits for room.
  space_.wait(lock, [&] { return queue_.size() < options_.capacity || stopping_; });
  ++stats_.recorded;
  if (!stopping_) {
    queue_.push_back(std::move(event));
    if (queue_.size() == options_.batch_size) wake_writer_.notify_one();
    return;
  }
  // Shutting down: the writer may be gone; append this one event here.
  lock.unlock();
  bool ok = write({std::move(event)}, /*stopping=*/true);
  lock.lock();
  ++finished_;
  ++(ok ? stats_.written : stats_.dropped);
  done_.notify_all();
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  uint64_t target = stats_.recorded;
  if (finished_ >= target) return;
  ++flush_waiters_;
  wake_writer_.notify_one();
  done_.wait(lock, [&] { return finished_ >= target; });
  --flush_waiters_;
}

void AuditLog::stop() {
  std::lock_guard serial(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_writer_.notify_all();
  space_.notify_all();
  if (writer_.joinable()) writer_.join();
}

AuditLog::Stats AuditLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void AuditLog::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_writer_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || (flush_waiters_ > 0 && !queue_.empty()) ||
             queue_.size() >= options_.batch_size;
    });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    size_t n = std::min(options_.batch_size, queue_.size());
    std::vector<storage::AuditEvent> batch;
    batch.reserve(n);
    uint64_t requests = 0;  // an event folded at record time stands for several
    for (size_t i = 0; i < n; ++i) {
      requests += static_cast<uint64_t>(std::max<int64_t>(1, queue_.front().count));
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    bool stopping = stopping_;
    space_.notify_all();
    lock.unlock();
    if (options_.fold_reads) batch = fold_reads(std::move(batch));
    bool ok = write(batch, stopping);
    lock.lock();
    finished_ += requests;
    (ok ? stats_.written : stats_.dropped) += requests;
    done_.notify_all();
  }
}

bool AuditLog::write(const std::vector<storage::AuditEvent>& batch, bool stopping) {
  auto delay = options_.retry_delay;
  for (int attempt = 1;; ++attempt) {
    core::Status st = append_(batch);
    std::unique_lock lock(mu_);
    if (st.ok()) {
      ++stats_.batches;
      return true;
    }
    ++stats_.failures;
    stopping = stopping || stopping_;
    // The events themselves are never logged: only how many and why the store refused.
    if (stopping && attempt >= options_.shutdown_attempts) {
      spdlog::error("audit: dropped {} events at shutdown after {} failed attempts: {} {}",
                    batch.size(), attempt, st.error().diagnostics, st.error().log_detail);
      return false;
    }
    spdlog::warn("audit: appending {} events failed (attempt {}): {} {}", batch.size(), attempt,
                 st.error().diagnostics, st.error().log_detail);
    // Wait before the next attempt; a stop() cuts the wait short (shutdown retries faster).
    wake_writer_.wait_for(lock, delay, [&] { return stopping_ && !stopping; });
    delay =
        std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxRetryDelay));
  }
}

}  // namespace ipa::audit
