#pragma once
// The lines `ttynet term` shows about its port: the banner on connect, the answer to Ctrl-T s,
// and short notices. Plain text with "\r\n" line ends (the terminal is in raw mode).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ttynet/util/line_settings.hpp"

namespace ttynet::term {

struct Status {
  std::string url;
  LineSettings settings;
  ControlLines lines;
  bool break_on = false;
  bool has_modem_lines = true;
  std::optional<std::uint8_t> modem;  // modem:: bits; nothing when they could not be read
  bool hex_view = false;
  bool timestamps = false;
  std::optional<std::string> log_file;  // the file being written, if any
};

// "--- ttynet term on URL  115200 8N1  DTR on RTS on ---\r\n"
// "--- Quit: Ctrl-]  Menu: Ctrl-T, then ? for help ---\r\n"
std::string format_banner(std::string_view url, const LineSettings& settings, ControlLines lines);
// Several "--- ..." lines: port and settings, DTR/RTS/BREAK, CTS/DSR/RI/CD, view and log.
std::string format_status(const Status& status);
// "--- TEXT ---\r\n"
std::string format_notice(std::string_view text);

}  // namespace ttynet::term
