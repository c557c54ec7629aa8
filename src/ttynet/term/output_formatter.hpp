#pragma once
// The screen side of `ttynet term`, sans-I/O: turns what the port sends into what the terminal
// shows. Plain view passes bytes through untouched; hex view shows 16 bytes a line as
// "41 42 0d 0a ... |AB..|"; timestamps put "[HH:MM:SS.mmm] " at the start of every line. The time
// of day is passed in with each chunk; the formatter never reads a clock.
//
// Output does not depend on how the port's data is chunked: feeding a stream in any pieces
// with the same times gives the same concatenated text. A line's timestamp is the time of the
// chunk that brought its first byte.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "ttynet/util/bytes.hpp"

namespace ttynet::term {

class OutputFormatter {
 public:
  static constexpr std::size_t bytes_per_hex_line = 16;

  // `newline` ends the lines the formatter makes itself (hex lines, end_line()).
  explicit OutputFormatter(std::string_view newline = "\r\n") : newline_(newline) {}

  // Text to show for `data`, which arrived at `time_of_day` (local time since midnight). The view
  // points into `data` or into the formatter and is valid until the next call to it.
  ByteView format(ByteView data, std::chrono::milliseconds time_of_day);

  // Ends a partial line so that a notice can start on a line of its own: in hex view, the hex
  // column is padded and the ASCII column added; in plain view, a line end. Empty at a line
  // start. Valid until the next call.
  ByteView end_line();

  // Switching views ends the partial line first: returns end_line()'s text.
  ByteView set_hex_view(bool on);
  bool is_hex_view() const { return is_hex_view_; }
  void set_timestamps(bool on) { has_timestamps_ = on; }
  bool has_timestamps() const { return has_timestamps_; }
  bool is_at_line_start() const { return is_hex_view_ ? hex_count_ == 0 : is_at_line_start_; }

 private:
  void append_timestamp(std::chrono::milliseconds time_of_day);
  void append_text(std::string_view text) { append(out_, as_bytes(text)); }
  void finish_hex_line();

  std::string newline_;
  bool is_hex_view_ = false;
  bool has_timestamps_ = false;
  bool is_at_line_start_ = true;  // plain view: the last byte shown was '\n' (or none yet)
  std::size_t hex_count_ = 0;     // hex view: bytes on the current line
  std::string hex_ascii_;         // hex view: the ASCII column of the current line
  ByteBuffer out_;
};

// "[HH:MM:SS.mmm] " for a time of day (hours wrap at 24).
std::string format_timestamp(std::chrono::milliseconds time_of_day);

}  // namespace ttynet::term
