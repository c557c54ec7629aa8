#include "ttynet/port/blocking_port.hpp"

#include <algorithm>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <utility>

#include "ttynet/port/error.hpp"

namespace ttynet::port {
namespace {

constexpr std::size_t read_chunk = 16 * 1024;
// How long close() lets the port's own coroutines wind down.
constexpr auto close_grace = std::chrono::seconds(1);

}  // namespace

template <typename Done>
bool BlockingPort::run_until(Done done, TimePoint deadline) {
  if (io_.stopped()) io_.restart();
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io_.run_one_until(deadline) == 0 && io_.stopped()) {
      // Nothing left to run: nothing will change before the deadline.
      io_.restart();
      return done();
    }
  }
  return true;
}

Result<std::unique_ptr<BlockingPort>, Error> BlockingPort::open(std::string_view url,
                                                                OpenOptions options) {
  std::unique_ptr<BlockingPort> blocking(new BlockingPort());
  auto opened = blocking->run(open_port(blocking->io_.get_executor(), url, std::move(options)));
  if (!opened) return opened.error();
  blocking->port_ = std::move(*opened);
  asio::co_spawn(blocking->io_, blocking->read_device(), asio::detached);
  return blocking;
}

BlockingPort::~BlockingPort() { close(); }

asio::awaitable<void> BlockingPort::read_device() {
  ByteBuffer chunk(read_chunk);
  for (;;) {
    while (buffered() >= read_buffer_limit) co_await space_ready_.wait();
    auto [ec, n] = co_await port_->read_some(chunk);
    if (ec) {
      read_error_ = ec;
      co_return;
    }
    // Compact before growing, so a long session does not keep a consumed prefix.
    if (head_ > 0 && head_ == buffer_.size()) {
      buffer_.clear();
      head_ = 0;
    }
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

ByteBuffer BlockingPort::take(std::size_t count) {
  count = std::min(count, buffered());
  const auto from = buffer_.begin() + static_cast<std::ptrdiff_t>(head_);
  ByteBuffer out(from, from + static_cast<std::ptrdiff_t>(count));
  head_ += count;
  if (head_ == buffer_.size()) {
    buffer_.clear();
    head_ = 0;
  } else if (head_ > read_buffer_limit) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  space_ready_.notify();
  return out;
}

Result<std::size_t> BlockingPort::read_some(MutableByteView into, Duration timeout) {
  if (closed_) return std::error_code(errc::closed);
  run_until([&] { return buffered() > 0 || read_error_; }, Clock::now() + timeout);
  if (buffered() == 0 && read_error_) return read_error_;
  const ByteBuffer got = take(into.size());
  std::copy(got.begin(), got.end(), into.begin());
  return got.size();
}

Result<ByteBuffer> BlockingPort::read(std::size_t count, Duration timeout) {
  if (closed_) return std::error_code(errc::closed);
  run_until([&] { return buffered() >= count || read_error_; }, Clock::now() + timeout);
  if (buffered() == 0 && read_error_ && count > 0) return read_error_;
  return take(count);
}

Result<ByteBuffer> BlockingPort::read_until(ByteView delimiter, Duration timeout,
                                            std::size_t max_size) {
  if (closed_) return std::error_code(errc::closed);
  std::size_t found = 0;  // bytes up to and including the delimiter; 0: not yet
  std::size_t searched = 0;
  const auto seen = [&] {
    const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(head_);
    const auto end = begin + static_cast<std::ptrdiff_t>(std::min(buffered(), max_size));
    const auto from = begin + static_cast<std::ptrdiff_t>(
                                  searched >= delimiter.size() ? searched - delimiter.size() : 0);
    const auto hit = std::search(from, end, delimiter.begin(), delimiter.end());
    searched = static_cast<std::size_t>(end - begin);
    if (hit != end && !delimiter.empty()) {
      found = static_cast<std::size_t>(hit - begin) + delimiter.size();
      return true;
    }
    return searched >= max_size || read_error_;
  };
  run_until(seen, Clock::now() + timeout);
  if (found == 0 && buffered() == 0 && read_error_) return read_error_;
  return take(found > 0 ? found : std::min(buffered(), max_size));
}

std::size_t BlockingPort::available() {
  if (!closed_) {
    if (io_.stopped()) io_.restart();
    io_.poll();
  }
  return buffered();
}

std::error_code BlockingPort::write(ByteView data) {
  if (closed_) return errc::closed;
  return run(port_->write(data));
}

std::error_code BlockingPort::write(std::string_view text) { return write(as_bytes(text)); }

std::error_code BlockingPort::send_paced_esp(const rfc2217::paced_esp::Message& message) {
  if (closed_) return errc::closed;
  return run(port_->send_paced_esp(message));
}

std::optional<rfc2217::paced_esp::Message> BlockingPort::take_paced_esp_report() {
  available();
  return port_->take_paced_esp_report();
}

std::error_code BlockingPort::flush() {
  if (closed_) return errc::closed;
  return run(port_->drain());
}

std::error_code BlockingPort::set_settings(const LineSettings& settings) {
  if (closed_) return errc::closed;
  return run(port_->apply_settings(settings));
}

std::error_code BlockingPort::set_baud(std::uint32_t baud) {
  if (closed_) return errc::closed;
  LineSettings settings = port_->settings();
  settings.baud = baud;
  return set_settings(settings);
}

std::error_code BlockingPort::set_control_lines(std::optional<bool> dtr, std::optional<bool> rts) {
  if (closed_) return errc::closed;
  return run(port_->set_control_lines(dtr, rts));
}

std::error_code BlockingPort::set_break(bool on) {
  if (closed_) return errc::closed;
  return run(port_->set_break(on));
}

std::error_code BlockingPort::purge(Purge which) {
  if (closed_) return errc::closed;
  if (which != Purge::transmit) take(buffered());
  return run(port_->purge(which));
}

Result<std::uint8_t> BlockingPort::modem_state() {
  if (closed_) return std::error_code(errc::closed);
  return run(port_->modem_state());
}

void BlockingPort::pause(Duration duration) {
  const auto sleep = [](asio::any_io_executor executor, Duration wait) -> asio::awaitable<bool> {
    asio::steady_timer timer(executor, wait);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    co_return true;
  };
  run(sleep(io_.get_executor(), duration));
}

void BlockingPort::close() {
  if (closed_ || !port_) return;
  closed_ = true;
  // What was asked for last (a line change sent with ign_set_control) must not be lost.
  if (!read_error_) {
    const auto shutdown = [](Port& port) -> asio::awaitable<bool> {
      co_await port.shutdown(close_grace);
      co_return true;
    };
    run(shutdown(*port_));
  }
  port_->close();
  space_ready_.notify();
  // Let the port's coroutines see the close and end before the port goes away.
  run_until([&] { return read_error_.operator bool(); }, Clock::now() + close_grace);
  io_.poll();
}

}  // namespace ttynet::port
