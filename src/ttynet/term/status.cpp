#include "ttynet/term/status.hpp"

#include <fmt/format.h>

namespace ttynet::term {
namespace {

std::string_view on_off(bool on) { return on ? "on" : "off"; }

}  // namespace

std::string format_banner(std::string_view url, const LineSettings& settings, ControlLines lines) {
  return fmt::format(
      "--- ttynet term on {}  {}  DTR {} RTS {} ---\r\n"
      "--- Quit: Ctrl-]  Menu: Ctrl-T, then ? for help ---\r\n",
      url, to_string(settings), on_off(lines.dtr), on_off(lines.rts));
}

std::string format_status(const Status& status) {
  std::string text = fmt::format("--- port {}  {}\r\n", status.url, to_string(status.settings));
  text += fmt::format("--- DTR {}  RTS {}  BREAK {}\r\n", on_off(status.lines.dtr),
                      on_off(status.lines.rts), on_off(status.break_on));
  if (!status.has_modem_lines) {
    text += "--- modem lines: none (the device has no modem lines)\r\n";
  } else if (!status.modem) {
    text += "--- modem lines: unknown (could not be read)\r\n";
  } else {
    const std::uint8_t bits = *status.modem;
    text +=
        fmt::format("--- CTS {}  DSR {}  RI {}  CD {}\r\n", on_off(bits & modem::cts),
                    on_off(bits & modem::dsr), on_off(bits & modem::ri), on_off(bits & modem::cd));
  }
  text += fmt::format("--- hex view {}  timestamps {}  log {}\r\n", on_off(status.hex_view),
                      on_off(status.timestamps), status.log_file ? *status.log_file : "off");
  return text;
}

std::string format_notice(std::string_view text) { return fmt::format("--- {} ---\r\n", text); }

}  // namespace ttynet::term
