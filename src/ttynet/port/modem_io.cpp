#include "ttynet/port/modem_io.hpp"

#include <sys/ioctl.h>

#include <cerrno>

namespace ttynet::port {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

class SystemModemIo final : public ModemIo {
 public:
  Result<ModemLines> read_lines(int fd) override {
    int bits = 0;
    if (::ioctl(fd, TIOCMGET, &bits) != 0) return last_error();
    ModemLines lines;
    lines.output.dtr = (bits & TIOCM_DTR) != 0;
    lines.output.rts = (bits & TIOCM_RTS) != 0;
    if ((bits & TIOCM_CAR) != 0) lines.input |= modem::cd;
    if ((bits & TIOCM_RNG) != 0) lines.input |= modem::ri;
    if ((bits & TIOCM_DSR) != 0) lines.input |= modem::dsr;
    if ((bits & TIOCM_CTS) != 0) lines.input |= modem::cts;
    return lines;
  }

  std::error_code write_lines(int fd, std::optional<bool> dtr, std::optional<bool> rts) override {
    if (dtr && rts) {
      int bits = 0;
      if (::ioctl(fd, TIOCMGET, &bits) != 0) return last_error();
      bits = *dtr ? bits | TIOCM_DTR : bits & ~TIOCM_DTR;
      bits = *rts ? bits | TIOCM_RTS : bits & ~TIOCM_RTS;
      if (::ioctl(fd, TIOCMSET, &bits) != 0) return last_error();
      return {};
    }
    if (dtr) return change(fd, TIOCM_DTR, *dtr);
    if (rts) return change(fd, TIOCM_RTS, *rts);
    return {};
  }

  std::error_code set_break(int fd, bool on) override {
    if (::ioctl(fd, on ? TIOCSBRK : TIOCCBRK) != 0) return last_error();
    return {};
  }

 private:
  static std::error_code change(int fd, int bit, bool on) {
    if (::ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &bit) != 0) return last_error();
    return {};
  }
};

}  // namespace

ModemIo& system_modem_io() {
  static SystemModemIo io;
  return io;
}

bool is_refusal(std::error_code ec) {
  return ec == std::errc::inappropriate_io_control_operation || ec == std::errc::invalid_argument ||
         ec == std::errc::operation_not_supported;
}

}  // namespace ttynet::port
