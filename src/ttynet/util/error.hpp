#pragma once
// The project's error shapes: calls whose callers only branch return std::error_code (or
// Result<T>); calls that must tell the user something return Error, a code (a std::errc or the
// system's) plus the line to show ("/dev/ttyUSB0: No such file or directory"), as
// Result<T, Error> with a value and MaybeError without one.

#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace ttynet {

struct Error {
  std::error_code code;
  std::string message;
};

// Operations that return no value: nothing on success.
using MaybeError = std::optional<Error>;

inline Error make_error(std::errc code, std::string message) {
  return {std::make_error_code(code), std::move(message)};
}

}  // namespace ttynet
