#pragma once
// loop://: an in-process loopback, as pyserial's loop:// behaves. What is written is read back
// through a bounded buffer (a write waits while the buffer is full); RTS loops to CTS and DTR to
// DSR, CD is on, RI off; line settings and BREAK are stored; any purge empties the buffer.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "ttynet/port/port.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

struct LoopPortLimits {
  std::size_t buffer_size = 64 * 1024;  // bytes written and not yet read back
};

class LoopPort final : public Port {
 public:
  explicit LoopPort(const asio::any_io_executor& executor, std::string url = "loop://",
                    LoopPortLimits limits = {});
  ~LoopPort() override;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override;
  asio::awaitable<std::error_code> write(ByteView data) override;
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
  const PortInfo& info() const override;
  void close() override;

  // Bytes written and not yet read back.
  std::size_t buffered() const;

 private:
  // The buffer and its wake-up signals, shared with pending reads and writes so that a port
  // destroyed right after close() leaves them something valid to wake up to.
  struct Channel;

  PortInfo info_;
  std::shared_ptr<Channel> channel_;
  LineSettings settings_;
  ControlLines control_lines_;
  bool break_on_ = false;
};

// The registry's opener for loop:// (url.hpp).
asio::awaitable<OpenResult> open_loop_url(asio::any_io_executor executor, const PortUrl& url);

}  // namespace ttynet::port
