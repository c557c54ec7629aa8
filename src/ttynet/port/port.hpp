#pragma once
// The one port abstraction: anything that behaves like a serial port (a local tty, a remote
// RFC 2217 or raw TCP port, an in-process loopback or simulated chip). Asynchronous at its
// core: every operation is an Asio coroutine on the executor the port was opened with.
// Errors are values (std::error_code); no exception leaves a port operation.
//
// Operations may be issued while a read_some() is pending (the server does this), but at
// most one read and one write are in flight at a time.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/result.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::port {

// What is known of the device behind a port (for logs, SIGNATURE, `ttynet list`).
struct UsbIdentity {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;
  std::string manufacturer;
  std::string product;
};

struct PortInfo {
  std::string url;   // as opened
  std::string path;  // device path, or the URL for non-local ports
  std::optional<UsbIdentity> usb;
};
// "/dev/ttyUSB0 (USB 10c4:ea60 CP2102N USB to UART, serial 0001)"
std::string describe(const PortInfo& info);

class Port {
 public:
  virtual ~Port() = default;
  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // Waits for at least one byte; returns how many were stored. An error ends the read:
  // asio::error::eof or a device error when the device went away, operation_aborted on close.
  virtual asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) = 0;
  // Writes all of `data` (returns once the port took it, not once it left the wire).
  virtual asio::awaitable<std::error_code> write(ByteView data) = 0;
  // Waits until what write() took has left the process (a network port's queue is empty).
  // Ports that hand bytes straight to the kernel have nothing to wait for.
  virtual asio::awaitable<std::error_code> drain() { co_return std::error_code{}; }

  // Applies all settings at once. On error nothing changed and settings() tells what holds.
  virtual asio::awaitable<std::error_code> apply_settings(const LineSettings& settings) = 0;
  virtual LineSettings settings() const = 0;

  // Sets DTR and/or RTS; when both are given they change together where the device allows.
  virtual asio::awaitable<std::error_code> set_control_lines(std::optional<bool> dtr,
                                                             std::optional<bool> rts) = 0;
  virtual ControlLines control_lines() const = 0;
  virtual asio::awaitable<std::error_code> set_break(bool on) = 0;
  virtual bool break_state() const = 0;
  virtual asio::awaitable<std::error_code> purge(Purge which) = 0;
  // CD/RI/DSR/CTS in modem:: bits (no delta bits).
  virtual asio::awaitable<Result<std::uint8_t>> modem_state() = 0;
  // False when the device refuses modem-line control (a pseudo-terminal): then control
  // lines and modem state are kept/reported locally and the port still carries data.
  virtual bool has_modem_lines() const = 0;

  virtual const PortInfo& info() const = 0;
  // The network round trip to the far end as last measured; nothing for a local port, or
  // before a measurement. Tools add it to the deadlines of replies that cross the network.
  virtual std::optional<Duration> round_trip() const { return std::nullopt; }

  // Paced ESP frames (docs/design/paced-esp-frames.md): true once the far server agreed to
  // release ESP loader frames to the chip one at a time, as the chip answers. Only an
  // rfc2217:// port to `ttynet serve --esp` says yes.
  virtual bool paces_esp_frames() const { return false; }
  // The rfc2217::paced_esp::feature_* bits the far server agreed to; none before it answered.
  virtual std::uint8_t paced_esp_features() const { return 0; }
  // Queues BATCH-BEGIN, FRAME-INFO or BATCH-END in order with write()'s data: the SLIP frame a
  // FRAME-INFO describes follows it through write(). Fails with
  // std::errc::operation_not_supported when paces_esp_frames() is false.
  virtual asio::awaitable<std::error_code> send_paced_esp(
      const rfc2217::paced_esp::Message& message) {
    static_cast<void>(message);
    co_return std::make_error_code(std::errc::operation_not_supported);
  }
  // The server's BATCH-DONE and BATCH-ABORTED reports, oldest first, without waiting.
  virtual std::optional<rfc2217::paced_esp::Message> take_paced_esp_report() {
    return std::nullopt;
  }
  // The same, waiting for one; nothing once the port is closed or its link is gone (or at
  // once, for a port that never paces).
  virtual asio::awaitable<std::optional<rfc2217::paced_esp::Message>> next_paced_esp_report() {
    co_return std::nullopt;
  }
  // Cancels pending operations and releases the device. Idempotent.
  virtual void close() = 0;
  // Ends the session without losing what was asked for: what write() and the operations have
  // queued goes out, a network peer is told and given up to `linger` to finish and close its
  // side, then close(). Ports with nothing to hand over just close.
  virtual asio::awaitable<void> shutdown(Duration linger) {
    static_cast<void>(linger);
    close();
    co_return;
  }
};

struct OpenOptions {
  // Settings to apply right after opening (the server's -b); nothing = leave as found.
  std::optional<LineSettings> initial_settings;
};

// Opens any port by URL (see README.md, "Port URLs"): a path, or scheme://... for the
// schemes registered in url.cpp. The error says why in words a user can act on ("unknown
// option 'foo' for loop://; valid: (none)", "/dev/ttyUSB0: No such file or directory").
asio::awaitable<Result<std::unique_ptr<Port>, Error>> open_port(asio::any_io_executor executor,
                                                                std::string_view url,
                                                                OpenOptions options = {});

}  // namespace ttynet::port
