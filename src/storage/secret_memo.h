// SecretMemo: the secrets a store has read (cursor and CSRF keys), kept by the process. A stored
// secret never changes (the first insert wins, on every back end), so a value once read stays
// true, and searches, which ask for the cursor key on every request, need not reach the
// database for it. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/result.h"

namespace ipa::storage {

class SecretMemo {
 public:
  // The value of `name`: remembered, or from `load()` (remembered when it succeeds).
  template <class Load>
  core::Result<std::string> get(const std::string& name, Load&& load) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = values_.find(name); it != values_.end()) return it->second;
    }
    core::Result<std::string> value = std::forward<Load>(load)();
    if (value.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      values_.emplace(name, *value);
    }
    return value;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::string> values_;  // name -> value, as stored
};

}  // namespace ipa::storage
