#pragma once
// A blocking facade over any port, for sequential tools (the flasher, scripts, tests): each call
// runs the port's own event loop in the calling thread until the call is done or its timeout
// passes. One implementation for every backend; the port itself stays asynchronous.
//
// While the facade is inside a call, a background read moves device data into its buffer (at
// most read_buffer_limit, then the device is left unread); between calls nothing runs, so data
// waits in the kernel or in the network port's own buffer. Not thread-safe: one thread at a time.

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/result.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::port {

class BlockingPort {
 public:
  static constexpr std::size_t read_buffer_limit = 1024 * 1024;

  // Opens `url` (open_port()); the error names the URL and the cause.
  static Result<std::unique_ptr<BlockingPort>, Error> open(std::string_view url,
                                                           OpenOptions options = {});
  ~BlockingPort();
  BlockingPort(const BlockingPort&) = delete;
  BlockingPort& operator=(const BlockingPort&) = delete;

  // Up to into.size() bytes: returns as soon as at least one is there, or 0 when `timeout`
  // passes first. An error when the port failed and nothing buffered is left.
  Result<std::size_t> read_some(MutableByteView into, Duration timeout);
  // Exactly `count` bytes unless `timeout` passes first: then what arrived (fewer bytes).
  Result<ByteBuffer> read(std::size_t count, Duration timeout);
  // Up to and including `delimiter`, at most `max_size` bytes; on timeout, what arrived.
  Result<ByteBuffer> read_until(ByteView delimiter, Duration timeout,
                                std::size_t max_size = read_buffer_limit);
  // Bytes buffered now, without waiting (after giving pending I/O a chance to run).
  std::size_t available();

  std::error_code write(ByteView data);
  std::error_code write(std::string_view text);
  // Waits until written data has left the process (port::Port::drain()).
  std::error_code flush();

  std::error_code set_settings(const LineSettings& settings);
  std::error_code set_baud(std::uint32_t baud);
  LineSettings settings() const { return port_->settings(); }
  std::error_code set_control_lines(std::optional<bool> dtr, std::optional<bool> rts);
  ControlLines control_lines() const { return port_->control_lines(); }
  std::error_code set_break(bool on);
  // Purges the port and drops what the facade buffered from the device.
  std::error_code purge(Purge which);
  Result<std::uint8_t> modem_state();

  // Runs any coroutine on the port's event loop to completion (e.g. play_reset() on port()).
  template <typename T>
  T run(asio::awaitable<T> task);

  // Lets time pass while the port works (a reset pulse's width); device data is buffered.
  void pause(Duration duration);

  // The port itself, for what the facade does not cover; after close() it only reports errors.
  Port& port() { return *port_; }
  const PortInfo& info() const { return port_->info(); }
  std::optional<Duration> round_trip() const { return port_->round_trip(); }
  // Paced ESP frames, as on port::Port.
  bool paces_esp_frames() const { return port_->paces_esp_frames(); }
  std::error_code send_paced_esp(const rfc2217::paced_esp::Message& message);
  // After giving pending I/O a chance to run, like available().
  std::optional<rfc2217::paced_esp::Message> take_paced_esp_report();
  void close();

 private:
  BlockingPort() = default;
  std::size_t buffered() const { return buffer_.size() - head_; }
  ByteBuffer take(std::size_t count);
  // Runs the event loop until `done()` or `deadline`; false when the deadline came first.
  template <typename Done>
  bool run_until(Done done, TimePoint deadline);
  asio::awaitable<void> read_device();

  asio::io_context io_;
  std::unique_ptr<Port> port_;
  ByteBuffer buffer_;  // device data not yet handed out, from head_ on
  std::size_t head_ = 0;
  std::error_code read_error_;                // the background read ended
  bool closed_ = false;                       // close() was called
  Notifier space_ready_{io_.get_executor()};  // the buffer went below its limit
};

template <typename T>
T BlockingPort::run(asio::awaitable<T> task) {
  // co_spawn hands a default-constructed T to the handler on failure; results need not have
  // one, so the task stores its own.
  std::optional<T> result;
  const auto store = [](asio::awaitable<T> inner, std::optional<T>& out) -> asio::awaitable<void> {
    out.emplace(co_await std::move(inner));
  };
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io_, store(std::move(task), result), [&](std::exception_ptr error) {
    failure = error;
    done = true;
  });
  if (io_.stopped()) io_.restart();
  while (!done) {
    if (io_.run_one() == 0) io_.restart();
  }
  // Port operations report errors as values; an exception here is a bug worth its crash.
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

}  // namespace ttynet::port
