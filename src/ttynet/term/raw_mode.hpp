#pragma once
// The process's terminal for `ttynet term`: raw mode on request, and everything put back on the
// way out. The file status flags are saved too: Asio sets O_NONBLOCK on the descriptors it waits
// on, and those flags belong to the open file the shell shares.

#include <termios.h>

#include <optional>
#include <system_error>

namespace ttynet::term {

// Saves the file status flags of the input and output when made; restores them, and the
// terminal mode if enter() changed it, when destroyed.
class RawMode {
 public:
  RawMode(int input_fd, int output_fd);
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

  // Raw input, one byte at a time, no signals from keys; output keeps "\n" -> "\r\n".
  std::error_code enter();

 private:
  int input_fd_;
  int output_fd_;
  int input_flags_;
  int output_flags_;
  std::optional<termios> saved_mode_;
};

}  // namespace ttynet::term
