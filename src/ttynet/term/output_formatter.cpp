#include "ttynet/term/output_formatter.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace ttynet::term {
namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";

char printable_or_dot(Byte byte) {
  return byte >= 0x20 && byte < 0x7F ? static_cast<char>(byte) : '.';
}

}  // namespace

std::string format_timestamp(std::chrono::milliseconds time_of_day) {
  using namespace std::chrono;
  const auto total = time_of_day.count() < 0 ? 0 : time_of_day.count();
  const auto ms = total % 1000;
  const auto seconds = total / 1000 % 60;
  const auto minutes = total / 60'000 % 60;
  const auto hours = total / 3'600'000 % 24;
  return fmt::format("[{:02}:{:02}:{:02}.{:03}] ", hours, minutes, seconds, ms);
}

ByteView OutputFormatter::format(ByteView data, std::chrono::milliseconds time_of_day) {
  out_.clear();
  if (data.empty()) return {};
  if (is_hex_view_) {
    for (const Byte byte : data) {
      if (hex_count_ == 0 && has_timestamps_) append_timestamp(time_of_day);
      const std::array<Byte, 3> hex = {static_cast<Byte>(hex_digits[byte >> 4]),
                                       static_cast<Byte>(hex_digits[byte & 0x0F]), ' '};
      append(out_, hex);
      hex_ascii_ += printable_or_dot(byte);
      if (++hex_count_ == bytes_per_hex_line) finish_hex_line();
    }
    return out_;
  }
  if (!has_timestamps_) {
    is_at_line_start_ = data.back() == '\n';
    return data;  // untouched, no copy
  }
  // Plain view with timestamps: a stamp before the first byte of every line.
  auto rest = data;
  while (!rest.empty()) {
    if (is_at_line_start_) append_timestamp(time_of_day);
    const auto line_end = std::find(rest.begin(), rest.end(), Byte{'\n'});
    const auto length = static_cast<std::size_t>(line_end - rest.begin());
    const bool has_newline = line_end != rest.end();
    append(out_, rest.first(length + (has_newline ? 1 : 0)));
    is_at_line_start_ = has_newline;
    rest = rest.subspan(length + (has_newline ? 1 : 0));
  }
  return out_;
}

ByteView OutputFormatter::end_line() {
  out_.clear();
  if (is_hex_view_) {
    if (hex_count_ != 0) {
      for (std::size_t i = hex_count_; i < bytes_per_hex_line; ++i) append_text("   ");
      finish_hex_line();
    }
  } else if (!is_at_line_start_) {
    append_text(newline_);
    is_at_line_start_ = true;
  }
  return out_;
}

ByteView OutputFormatter::set_hex_view(bool on) {
  if (on == is_hex_view_) {
    out_.clear();
    return {};
  }
  end_line();
  is_hex_view_ = on;
  is_at_line_start_ = true;
  return out_;
}

void OutputFormatter::append_timestamp(std::chrono::milliseconds time_of_day) {
  append_text(format_timestamp(time_of_day));
}

void OutputFormatter::finish_hex_line() {
  append_text("|");
  append_text(hex_ascii_);
  append_text("|");
  append_text(newline_);
  hex_ascii_.clear();
  hex_count_ = 0;
}

}  // namespace ttynet::term
