#pragma once
// A simulated chip (SimPort) on a pseudo-terminal, for tools that open a local serial port
// (esptool.py --port LINK, pyserial, a terminal): `ttynet sim`.
//
// A pty carries no DTR/RTS, so no reset reaches the chip. When the last program holding the
// pty closes it, the chip restarts into download mode, so that the next one finds the ROM
// loader and not a stub left running. The host's baud rate cannot be read back from the pty
// with every change, so it follows the chip's UART (a CHANGE_BAUDRATE never garbles bytes
// here, unlike over sim:// URLs).

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <string>

#include "ttynet/port/sim_port.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

class SimPty {
 public:
  // A new pty pair, its slave set to raw 8N1 and linked as `link` (a stale symlink is
  // replaced, anything else is left alone).
  static Result<std::unique_ptr<SimPty>, Error> open(asio::io_context& io, SimPort& sim,
                                                     std::string link);
  ~SimPty();  // removes the link
  SimPty(const SimPty&) = delete;
  SimPty& operator=(const SimPty&) = delete;

  const std::string& slave_path() const { return slave_path_; }
  const std::string& link() const { return link_; }

  // Carries bytes both ways until the pty or the chip fails, or the caller cancels.
  asio::awaitable<void> run();

 private:
  SimPty(asio::io_context& io, int master, SimPort& sim, std::string slave_path, std::string link);

  asio::awaitable<void> host_to_chip();
  asio::awaitable<void> chip_to_host();
  asio::awaitable<void> follow_chip_baud();

  asio::posix::stream_descriptor master_;
  SimPort& sim_;
  asio::steady_timer retry_;
  std::string slave_path_;
  std::string link_;
  bool is_hung_up_ = false;
};

}  // namespace ttynet::port
