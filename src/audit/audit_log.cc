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
    bool foldable = (e.type == "read" || e.type == "vread" || e.type == "search-type") &&
                    e.count == 1 && e.resource_id.find(' ') == std::string::npos;
    if (!foldable) {
      out.push_back(std::move(e));
      continue;
    }
    // Everything but the time, the id and the count must be equal to fold. '\x1f' cannot occur
    // in a field (sanitize() replaced control characters).
    std::string key;
    for (const std::string* f : {&e.type, &e.client_id, &e.username, &e.patient, &e.outcome,
                                 &e.detail, &e.resource_type, &e.node}) {
      key += *f;
      key += '\x1f';
    }
    key += std::to_string(e.status);
    auto it = open.find(key);
    if (it != open.end()) {
      storage::AuditEvent& into = out[it->second.index];
      bool listed = e.resource_id.empty() || it->second.ids.count(e.resource_id) > 0;
      if (listed || into.resource_id.size() + 1 + e.resource_id.size() <= max_ids_bytes) {
        if (!listed) {
          into.resource_id += ' ';
          into.resource_id += e.resource_id;
          it->second.ids.insert(e.resource_id);
        }
        ++into.count;
        into.last_time = std::max(into.last_time, e.time);
        continue;
      }
      open.erase(it);  // full: this read starts the next event of the group
    }
    e.last_time = e.time;
    Open o{out.size(), {}};
    if (!e.resource_id.empty()) o.ids.insert(e.resource_id);
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
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    bool stopping = stopping_;
    space_.notify_all();
    lock.unlock();
    if (options_.fold_reads) batch = fold_reads(std::move(batch));
    bool ok = write(batch, stopping);
    lock.lock();
    finished_ += n;
    (ok ? stats_.written : stats_.dropped) += n;
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
