// The terminal mode and file status flags of `ttynet term`'s input and output: raw_mode.hpp.
#include "ttynet/term/raw_mode.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ttynet::term {

RawMode::RawMode(int input_fd, int output_fd)
    : input_fd_(input_fd),
      output_fd_(output_fd),
      input_flags_(::fcntl(input_fd, F_GETFL)),
      output_flags_(::fcntl(output_fd, F_GETFL)) {}

RawMode::~RawMode() {
  if (saved_mode_) ::tcsetattr(input_fd_, TCSADRAIN, &*saved_mode_);
  if (input_flags_ >= 0) ::fcntl(input_fd_, F_SETFL, input_flags_);
  if (output_flags_ >= 0) ::fcntl(output_fd_, F_SETFL, output_flags_);
}

std::error_code RawMode::enter() {
  termios mode{};
  if (::tcgetattr(input_fd_, &mode) != 0) return {errno, std::system_category()};
  saved_mode_ = mode;
  ::cfmakeraw(&mode);
  mode.c_oflag |= OPOST | ONLCR;
  mode.c_cc[VMIN] = 1;
  mode.c_cc[VTIME] = 0;
  if (::tcsetattr(input_fd_, TCSANOW, &mode) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace ttynet::term
