#pragma once
// Failures of the bench: each one is a BenchError whose message ends the run.

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace ttynet::bench {

class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw BenchError(fmt::format(format, std::forward<Args>(args)...));
}

// Call right after the failing call: reads errno.
[[noreturn]] inline void fail_errno(std::string_view what) {
  const int error = errno;
  throw BenchError(fmt::format("{}: {}", what, std::strerror(error)));
}

}  // namespace ttynet::bench
