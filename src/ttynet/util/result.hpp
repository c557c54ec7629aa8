#pragma once
// A value or an error: the return type of fallible calls that produce a value
// (std::expected is not available to g++ 12 in C++20 mode). Result<T> carries a
// std::error_code for callers that only branch; Result<T, Error> (util/error.hpp) carries the
// line to show the user too.

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
