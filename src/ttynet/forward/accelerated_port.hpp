#pragma once
// `ttynet forward`'s device when the far server paces ESP frames: the far port seen through an
// EspAccelerator (esp_accelerator.hpp). What the tool writes and what the chip sends pass
// through the accelerator; settings, BREAK and modem state go straight to the far port. DTR/RTS
// changes do too, and a reset among them (esp::ResetDetector) tells the accelerator the chip
// starts over.
//
// Two loops feed the accelerator from the far port: its data and its paced reports (a timeout
// comes with no data). One writer at a time takes the accelerator's items to the far port, so a
// re-send decided while reading and the tool's own data keep their order. Output for the tool
// is held up to max_tool_backlog; beyond that the far port is not read (TCP pushes back).
//
// For a tool on a raw TCP front (esptool over socket://, which can neither reset the chip nor
// change the port's baud), `raw_front` makes this port do both on its behalf: a reset into the
// loader when it is made, the port's baud after the chip's reply to CHANGE_BAUDRATE, and a hard
// reset at shutdown() (the tool left). The resets go out without waits: the far server
// recognises them and plays them with its own timing.
//
// Purges stay here: a purge of the tool's input drops what was not yet handed to it, and
// neither kind goes to the far server, whose purge of its receive buffer would also drop the
// chip's replies that this side is waiting for.

#include <asio/any_io_executor.hpp>
#include <memory>

#include "ttynet/port/port.hpp"

namespace ttynet::forward {

class AcceleratedPort final : public port::Port {
 public:
  static constexpr std::size_t max_tool_backlog = 256 * 1024;

  struct Options {
    bool raw_front = false;
  };

  // `far` paces ESP frames (paces_esp_frames()).
  AcceleratedPort(asio::any_io_executor executor, std::unique_ptr<port::Port> far, Options options);
  ~AcceleratedPort() override;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override;
  asio::awaitable<std::error_code> write(ByteView data) override;
  asio::awaitable<std::error_code> drain() override;
  asio::awaitable<std::error_code> apply_settings(const LineSettings& settings) override;
  LineSettings settings() const override;
  asio::awaitable<std::error_code> set_control_lines(std::optional<bool> dtr,
                                                     std::optional<bool> rts) override;
  ControlLines control_lines() const override;
  asio::awaitable<std::error_code> set_break(bool on) override;
  bool break_state() const override;
  asio::awaitable<std::error_code> purge(Purge which) override;
  asio::awaitable<Result<std::uint8_t>> modem_state() override;
  bool has_modem_lines() const override;
  const port::PortInfo& info() const override;
  std::optional<Duration> round_trip() const override;
  void close() override;
  asio::awaitable<void> shutdown(Duration linger) override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// What ForwardHostConfig::wrap_upstream applies: an AcceleratedPort around a far port that
// paces ESP frames, the port itself otherwise.
std::unique_ptr<port::Port> accelerate_if_paced(asio::any_io_executor executor,
                                                std::unique_ptr<port::Port> far,
                                                AcceleratedPort::Options options);

}  // namespace ttynet::forward
