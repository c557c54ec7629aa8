#pragma once
// The modem-line ioctls of a tty, behind one small interface: the OS seam that lets tests stand
// in a device that refuses them, or one that has real lines, where only a pseudo-terminal exists.

#include <cstdint>
#include <optional>
#include <system_error>

#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

struct ModemLines {
  ControlLines output;     // DTR, RTS as the device drives them
  std::uint8_t input = 0;  // CD/RI/DSR/CTS in modem:: bits
};

class ModemIo {
 public:
  virtual ~ModemIo() = default;
  ModemIo() = default;
  ModemIo(const ModemIo&) = delete;
  ModemIo& operator=(const ModemIo&) = delete;

  // TIOCMGET.
  virtual Result<ModemLines> read_lines(int fd) = 0;
  // One line: TIOCMBIS or TIOCMBIC. Both: TIOCMGET, then one TIOCMSET, so they change together.
  virtual std::error_code write_lines(int fd, std::optional<bool> dtr, std::optional<bool> rts) = 0;
  // TIOCSBRK / TIOCCBRK.
  virtual std::error_code set_break(int fd, bool on) = 0;
};

// The real ioctls. Lives for the whole program.
ModemIo& system_modem_io();

// True for the errors a device without modem lines answers (a pseudo-terminal: ENOTTY; some
// drivers: EINVAL or EOPNOTSUPP), as opposed to a device failure such as EIO.
bool is_refusal(std::error_code ec);

}  // namespace ttynet::port
