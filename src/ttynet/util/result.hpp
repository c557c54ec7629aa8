#pragma once
// A value or an error: the return type of fallible calls that produce a value
// (std::expected is not available to g++ 12 in C++20 mode). The error is a std::error_code
// unless a call needs to say more (ttynet::Error, util/error.hpp).

#include <cassert>
#include <system_error>
#include <utility>
#include <variant>

namespace ttynet {

template <typename T, typename E = std::error_code>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const {
    assert(!has_value());
    return std::get<E>(state_);
  }

 private:
  std::variant<T, E> state_;
};

}  // namespace ttynet
