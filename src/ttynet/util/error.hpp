#pragma once
// The error that says more than a code: a std::error_code to branch on and the one line to
// show the user ("/dev/ttyUSB0: No such file or directory", "Failed to write to target Flash
// after seq 3 (result was 0107: ...)"). Opening a port and the flasher report it; calls whose
// callers only branch return a plain std::error_code.

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
