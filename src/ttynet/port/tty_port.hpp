#pragma once
// A local serial device through termios: exclusive, raw, any integer baud (termios2.hpp), data
// through an asio::posix::stream_descriptor on the event loop.
//
// Exclusive use: TIOCEXCL (other openers get EBUSY) plus flock(LOCK_EX | LOCK_NB), which also
// stops a second ttynet running as root (root passes TIOCEXCL) and pyserial's exclusive=True.
//
// Devices without modem lines (pseudo-terminals refuse TIOCMGET with ENOTTY) still carry data:
// has_modem_lines() is false, one warning is logged, DTR/RTS/BREAK requests succeed and are only
// remembered (control_lines(), break_state()), and modem_state() reports CTS|DSR|CD on: what a
// cable to a ready peer shows, so nothing waits forever for a line that cannot change.
// BREAK is tried on every device (pseudo-terminals accept TIOCSBRK and ignore it); a device that
// refuses it gets the same treatment, with its own single warning.
//
// A device that goes away ends read_some() with its error: EIO/ENXIO for an unplugged USB
// adapter, asio::error::eof for a pseudo-terminal whose master was closed.

#include <spdlog/logger.h>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <memory>
#include <string_view>

#include "ttynet/port/modem_io.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/port/termios2.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

class TtyPort final : public Port {
 public:
  // CTS|DSR|CD: the modem state reported when the device has no modem lines.
  static constexpr std::uint8_t modem_state_without_lines = modem::cts | modem::dsr | modem::cd;

  // Opens `path` (symlinks such as /dev/serial/by-id/... are followed): exclusive, raw mode with
  // baud and stop bits as found, 8 data bits, no parity, no flow control. `modem_io` is the
  // OS seam for the modem-line ioctls and must outlive the port. Errors name the path:
  // "/dev/ttyUSB0: device busy (another program has it open)".
  static Result<std::unique_ptr<TtyPort>, Error> open(asio::any_io_executor executor,
                                                      std::string_view path,
                                                      ModemIo& modem_io = system_modem_io());
  ~TtyPort() override;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override;
  asio::awaitable<std::error_code> write(ByteView data) override;
  // All five settings in one TCSETS2; on failure the previous termios is restored. Success means
  // the device took the request; settings() then tells what it holds (a pseudo-terminal keeps
  // 8 data bits and no parity whatever is asked; 1.5 stop bits hold only with 5 data bits).
  asio::awaitable<std::error_code> apply_settings(const LineSettings& settings) override;
  // Read back from the device (TCGETS2); the last read-back if the device is gone.
  LineSettings settings() const override;
  asio::awaitable<std::error_code> set_control_lines(std::optional<bool> dtr,
                                                     std::optional<bool> rts) override;
  ControlLines control_lines() const override;
  asio::awaitable<std::error_code> set_break(bool on) override;
  bool break_state() const override;
  asio::awaitable<std::error_code> purge(Purge which) override;
  asio::awaitable<Result<std::uint8_t>> modem_state() override;
  bool has_modem_lines() const override;
  const PortInfo& info() const override;
  void close() override;

 private:
  TtyPort(asio::posix::stream_descriptor stream, PortInfo info, ModemIo& modem_io);
  void lose_modem_lines(std::error_code why);
  LineSettings held(const detail::Termios2& termios) const;

  asio::posix::stream_descriptor stream_;
  int fd_ = -1;  // stream_'s descriptor while open, for the const queries
  PortInfo info_;
  ModemIo* modem_io_;
  std::shared_ptr<spdlog::logger> log_;
  LineSettings settings_;
  ControlLines control_lines_;
  bool break_on_ = false;
  bool has_modem_lines_ = true;
  bool is_pseudo_terminal_ = false;
  bool has_break_ = true;  // false once the device refused TIOCSBRK
};

// The registry's opener for device paths (url.hpp).
asio::awaitable<OpenResult> open_tty_url(asio::any_io_executor executor, const PortUrl& url);

}  // namespace ttynet::port
