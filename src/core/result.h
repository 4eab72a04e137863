// Result<T>: a value or one core::Error. Expected failures travel as values; no exception
// crosses a module boundary. Status is Result<void>. Not thread-safe beyond a plain value.
#pragma once

#include <cassert>
#include <optional>
#include <utility>
#include <variant>

#include "core/error.h"

namespace ipa::core {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *e_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*e_);
  }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

}  // namespace ipa::core

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define IPA_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    auto&& ipa_status_ = (expr);                                  \
    if (!ipa_status_.ok()) return std::move(ipa_status_).error(); \
  } while (false)

// Stops the program: for states we cannot continue from. Never for bad input.
#define IPA_CHECK(cond, why) ::ipa::core::check_failed_if(!(cond), #cond, why, __FILE__, __LINE__)

namespace ipa::core {
void check_failed_if(bool failed, const char* cond, const char* why, const char* file, int line);
}
