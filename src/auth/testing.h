// Test helpers of the auth module: a manual clock, a sequential random source and a fresh
// SQLite AuthStore in a temporary directory. For tests only; not thread-safe to set up.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "auth/random.h"
#include "core/clock.h"
#include "storage/sqlite/auth_store.h"

namespace ipa::auth::testing {

class ManualClock : public core::Clock {
 public:
  core::TimePoint now() const override { return t_.load(); }
  void advance(std::chrono::milliseconds d) { t_ = t_.load() + d; }

 private:
  std::atomic<core::TimePoint> t_{core::TimePoint(std::chrono::seconds(1'800'000'000))};
};

// "r1", "r2", ...: predictable tokens.
class SequentialRandom : public Random {
 public:
  std::string token(size_t) override { return "r" + std::to_string(++n_); }

 private:
  std::atomic<int> n_{0};
};

inline std::shared_ptr<storage::AuthStore> fresh_store(std::shared_ptr<core::Clock> clock) {
  static std::atomic<int> n{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("ipa-auth-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  storage::sqlite::SqliteOptions o;
  o.path = (dir / "auth.db").string();
  o.clock = std::move(clock);
  o.synchronous_full = false;
  auto store = storage::sqlite::open_sqlite_auth_store(o);
  if (!store.ok()) return nullptr;
  return std::shared_ptr<storage::AuthStore>(std::move(store).value());
}

}  // namespace ipa::auth::testing
