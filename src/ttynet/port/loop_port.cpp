#include "ttynet/port/loop_port.hpp"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <vector>

#include "ttynet/port/error.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/settings_check.hpp"

namespace ttynet::port {

struct LoopPort::Channel {
  Channel(const asio::any_io_executor& executor, std::size_t capacity)
      : ring(capacity), data_ready(executor), space_ready(executor) {}

  void clear() {
    head = 0;
    size = 0;
    space_ready.notify();
  }

  std::vector<Byte> ring;  // fixed capacity
  std::size_t head = 0;    // index of the oldest byte
  std::size_t size = 0;
  Notifier data_ready;
  Notifier space_ready;
  bool closed = false;
};

LoopPort::LoopPort(const asio::any_io_executor& executor, std::string url, LoopPortLimits limits)
    : channel_(std::make_shared<Channel>(executor, std::max<std::size_t>(limits.buffer_size, 1))) {
  info_.url = url;
  info_.path = std::move(url);
}

LoopPort::~LoopPort() { close(); }

std::size_t LoopPort::buffered() const { return channel_->size; }

asio::awaitable<std::tuple<std::error_code, std::size_t>> LoopPort::read_some(
    MutableByteView into) {
  const std::shared_ptr<Channel> channel = channel_;  // `this` may be gone when a wait ends
  while (!channel->closed && channel->size == 0 && !into.empty()) {
    if (auto ec = co_await channel->data_ready.wait_while_open(channel->closed)) {
      co_return std::make_tuple(ec, std::size_t{0});
    }
  }
  if (channel->closed) co_return std::make_tuple(make_error_code(errc::closed), std::size_t{0});

  auto& ring = channel->ring;
  const std::size_t n = std::min(into.size(), channel->size);
  const std::size_t first = std::min(n, ring.size() - channel->head);
  std::copy_n(ring.begin() + static_cast<std::ptrdiff_t>(channel->head), first, into.begin());
  std::copy_n(ring.begin(), n - first, into.begin() + static_cast<std::ptrdiff_t>(first));
  channel->head = (channel->head + n) % ring.size();
  channel->size -= n;
  if (n > 0) channel->space_ready.notify();
  co_return std::make_tuple(std::error_code{}, n);
}

asio::awaitable<std::error_code> LoopPort::write(ByteView data) {
  const std::shared_ptr<Channel> channel = channel_;  // `this` may be gone when a wait ends
  auto& ring = channel->ring;
  while (!data.empty()) {
    if (channel->closed) co_return errc::closed;
    if (channel->size == ring.size()) {
      if (auto ec = co_await channel->space_ready.wait_while_open(channel->closed)) co_return ec;
      continue;
    }
    const std::size_t tail = (channel->head + channel->size) % ring.size();
    const std::size_t n = std::min(data.size(), ring.size() - channel->size);
    const std::size_t first = std::min(n, ring.size() - tail);
    std::copy_n(data.begin(), first, ring.begin() + static_cast<std::ptrdiff_t>(tail));
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(first), n - first, ring.begin());
    channel->size += n;
    data = data.subspan(n);
    channel->data_ready.notify();
  }
  co_return channel->closed ? make_error_code(errc::closed) : std::error_code{};
}

asio::awaitable<std::error_code> LoopPort::apply_settings(const LineSettings& settings) {
  if (channel_->closed) co_return errc::closed;
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  settings_ = settings;
  co_return std::error_code{};
}

LineSettings LoopPort::settings() const { return settings_; }

asio::awaitable<std::error_code> LoopPort::set_control_lines(std::optional<bool> dtr,
                                                             std::optional<bool> rts) {
  if (channel_->closed) co_return errc::closed;
  if (dtr) control_lines_.dtr = *dtr;
  if (rts) control_lines_.rts = *rts;
  co_return std::error_code{};
}

ControlLines LoopPort::control_lines() const { return control_lines_; }

asio::awaitable<std::error_code> LoopPort::set_break(bool on) {
  if (channel_->closed) co_return errc::closed;
  break_on_ = on;
  co_return std::error_code{};
}

bool LoopPort::break_state() const { return break_on_; }

asio::awaitable<std::error_code> LoopPort::purge(Purge /*which*/) {
  // One buffer is both directions: what was written is what would be read.
  if (channel_->closed) co_return errc::closed;
  channel_->clear();
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> LoopPort::modem_state() {
  if (channel_->closed) co_return std::error_code(errc::closed);
  std::uint8_t state = modem::cd;
  if (control_lines_.rts) state |= modem::cts;
  if (control_lines_.dtr) state |= modem::dsr;
  co_return state;
}

bool LoopPort::has_modem_lines() const { return true; }

const PortInfo& LoopPort::info() const { return info_; }

void LoopPort::close() {
  if (channel_->closed) return;
  channel_->closed = true;
  channel_->clear();
  channel_->data_ready.notify();
}

asio::awaitable<OpenResult> open_loop_url(asio::any_io_executor executor, const PortUrl& url) {
  std::unique_ptr<Port> port = std::make_unique<LoopPort>(std::move(executor), url.text);
  co_return std::move(port);
}

}  // namespace ttynet::port
