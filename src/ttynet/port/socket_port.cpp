#include "ttynet/port/socket_port.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <string>
#include <utility>

#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/net_stream.hpp"
#include "ttynet/port/settings_check.hpp"
#include "ttynet/port/tcp_connect.hpp"
#include "ttynet/port/tls_connect.hpp"

namespace ttynet::port {
namespace {

using tcp = asio::ip::tcp;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// A receive purge drains at most this much, so a peer that never stops sending cannot keep
// the event loop in purge().
constexpr std::size_t max_purge_bytes = 1024 * 1024;

// The kernel's TCP_INFO as an Asio socket option (get_option() reads it on a const socket).
// An older kernel fills only a prefix; the rest stays zero.
struct KernelTcpInfo {
  tcp_info info{};
  template <typename Protocol>
  int level(const Protocol& /*protocol*/) const {
    return IPPROTO_TCP;
  }
  template <typename Protocol>
  int name(const Protocol& /*protocol*/) const {
    return TCP_INFO;
  }
  template <typename Protocol>
  tcp_info* data(const Protocol& /*protocol*/) {
    return &info;
  }
  template <typename Protocol>
  std::size_t size(const Protocol& /*protocol*/) const {
    return sizeof info;
  }
  template <typename Protocol>
  void resize(const Protocol& /*protocol*/, std::size_t /*size*/) {}
};

std::string on_off(bool on) { return on ? "on" : "off"; }

// Reads and drops what has already arrived; returns how many bytes. Only available() bytes,
// which never make read_some() wait, so a read pending in another coroutine is not disturbed.
// Over TLS only what OpenSSL has decrypted already (SSL_pending()): the encrypted bytes the
// kernel holds belong to the stream's own reads. A plain function: the buffer stays out of the
// coroutine frame.
std::size_t discard_received(NetStream& stream) {
  std::array<Byte, 4096> sink{};
  std::size_t discarded = 0;
  while (discarded < max_purge_bytes) {
    std::size_t n = 0;
    if (SSL* tls = stream.tls_handle()) {
      const int pending = SSL_pending(tls);
      if (pending <= 0) break;
      const int got = SSL_read(tls, sink.data(), std::min(pending, static_cast<int>(sink.size())));
      if (got <= 0) break;
      n = static_cast<std::size_t>(got);
    } else {
      std::error_code ec;
      const std::size_t available = stream.socket().available(ec);
      if (ec || available == 0) break;
      n = stream.socket().read_some(asio::buffer(sink.data(), std::min(available, sink.size())),
                                    ec);
      if (ec || n == 0) break;
    }
    discarded += n;
  }
  return discarded;
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<SocketPort>, Error>> SocketPort::connect(
    asio::any_io_executor executor, SocketTarget target, SocketConnectOptions options) {
  std::string url =
      options.url.empty() ? tcp_url(options.tls ? "socket+tls" : "socket", target) : options.url;
  auto connected =
      co_await connect_net_stream(std::move(executor), std::move(target), std::move(options.tls),
                                  options.timeout, url, logger("port.socket"));
  if (!connected) co_return connected.error();
  PortInfo info;
  info.url = url;
  info.path = std::move(url);
  co_return std::unique_ptr<SocketPort>(new SocketPort(
      std::move(connected->stream), connected->remote, connected->connect_time, std::move(info)));
}

SocketPort::SocketPort(NetStream stream, tcp::endpoint remote, Duration connect_time, PortInfo info)
    : stream_(std::make_unique<NetStream>(std::move(stream))),
      remote_(std::move(remote)),
      connect_time_(connect_time),
      info_(std::move(info)),
      log_(logger("port.socket")) {}

SocketPort::~SocketPort() { close(); }

bool SocketPort::is_open() const { return stream_->is_open(); }

asio::awaitable<std::tuple<std::error_code, std::size_t>> SocketPort::read_some(
    MutableByteView into) {
  if (!is_open()) co_return std::make_tuple(make_error_code(errc::closed), std::size_t{0});
  auto [ec, n] =
      co_await stream_->async_read_some(asio::buffer(into.data(), into.size()), as_tuple_awaitable);
  co_return std::make_tuple(std::error_code(ec), n);
}

asio::awaitable<std::error_code> SocketPort::write(ByteView data) {
  if (!is_open()) co_return errc::closed;
  auto [ec, n] = co_await asio::async_write(*stream_, asio::buffer(data.data(), data.size()),
                                            as_tuple_awaitable);
  co_return ec;
}

asio::awaitable<std::error_code> SocketPort::apply_settings(const LineSettings& settings) {
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  if (!is_open()) co_return errc::closed;
  log_->debug("{}: socket:// has no line settings; ignoring {}", info_.url, to_string(settings));
  settings_ = settings;
  co_return std::error_code{};
}

LineSettings SocketPort::settings() const { return settings_; }

asio::awaitable<std::error_code> SocketPort::set_control_lines(std::optional<bool> dtr,
                                                               std::optional<bool> rts) {
  if (!is_open()) co_return errc::closed;
  if (dtr || rts) {
    std::string lines;
    if (dtr) lines = "DTR " + on_off(*dtr);
    if (rts) lines += (lines.empty() ? "RTS " : ", RTS ") + on_off(*rts);
    log_->debug("{}: socket:// has no control lines; ignoring {}", info_.url, lines);
  }
  if (dtr) control_lines_.dtr = *dtr;
  if (rts) control_lines_.rts = *rts;
  co_return std::error_code{};
}

ControlLines SocketPort::control_lines() const { return control_lines_; }

asio::awaitable<std::error_code> SocketPort::set_break(bool on) {
  if (!is_open()) co_return errc::closed;
  log_->debug("{}: socket:// has no BREAK; ignoring BREAK {}", info_.url, on_off(on));
  break_on_ = on;
  co_return std::error_code{};
}

bool SocketPort::break_state() const { return break_on_; }

asio::awaitable<std::error_code> SocketPort::purge(Purge which) {
  if (!is_open()) co_return errc::closed;
  if (which == Purge::transmit) {
    log_->debug("{}: socket:// cannot recall sent data; ignoring the transmit purge", info_.url);
    co_return std::error_code{};
  }
  log_->debug("{}: purge discarded {} received bytes", info_.url, discard_received(*stream_));
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> SocketPort::modem_state() {
  if (!is_open()) co_return std::error_code(errc::closed);
  co_return modem_state_without_lines;
}

bool SocketPort::has_modem_lines() const { return false; }

const PortInfo& SocketPort::info() const { return info_; }

std::optional<Duration> SocketPort::round_trip() const {
  if (!is_open()) return std::nullopt;
  KernelTcpInfo kernel;
  std::error_code ec;
  stream_->socket().get_option(kernel, ec);
  if (ec) return std::nullopt;
  if (kernel.info.tcpi_rtt == 0) return connect_time_;  // no sample yet
  return std::chrono::duration_cast<Duration>(std::chrono::microseconds{kernel.info.tcpi_rtt});
}

void SocketPort::close() {
  if (!is_open()) return;
  std::error_code ignored;
  stream_->socket().cancel(ignored);
  stream_->close();
}

asio::awaitable<void> SocketPort::shutdown(Duration linger) {
  if (!is_open()) co_return;
  std::error_code ignored;
  // A TCP half-close also inside TLS: NetStream sends no close_notify (net_stream.hpp).
  stream_->socket().shutdown(tcp::socket::shutdown_send, ignored);
  asio::steady_timer timer(stream_->get_executor(), linger);
  timer.async_wait([this](const std::error_code& ec) {
    if (!ec) close();  // the peer kept the connection open too long
  });
  ByteBuffer sink(4096);
  for (;;) {
    auto [ec, n] = co_await stream_->async_read_some(asio::buffer(sink), as_tuple_awaitable);
    if (ec) break;
  }
  timer.cancel();
  close();
}

asio::awaitable<OpenResult> open_socket_url(asio::any_io_executor executor, const PortUrl& url) {
  if (url.has_option("logging")) set_logging_level("port.socket", url.option("logging"));
  SocketConnectOptions options;
  options.url = url.text;
  options.tls = tls_client_options(url);
  auto opened = co_await SocketPort::connect(std::move(executor), SocketTarget{url.host, url.port},
                                             std::move(options));
  if (!opened) co_return opened.error();
  co_return OpenResult(std::unique_ptr<Port>(std::move(*opened)));
}

}  // namespace ttynet::port
