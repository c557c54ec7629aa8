#pragma once
// socket://HOST:PORT: a raw TCP connection used as a serial port, with pyserial's socket://
// semantics (docs/reference/rfc2217-peers.md §4). Bytes pass untouched both ways: no Telnet,
// 0xFF is data. socket+tls://HOST:PORT is the same over TLS (tls_connect.hpp).
//
// There is no serial line behind a TCP socket, so line settings, DTR/RTS and BREAK are accepted,
// remembered (settings(), control_lines(), break_state() report what was asked) and logged at
// debug level on the "port.socket" logger, never sent. Like a tty that refuses modem-line ioctls
// (tty_port.hpp), has_modem_lines() is false and modem_state() reads CTS|DSR|CD on, RI off:
// what pyserial's socket:// reports, and nothing is worth polling. A receive purge discards the
// bytes that have already arrived (what TCIFLUSH does to a tty, and pyserial's
// reset_input_buffer on socket://); over TLS only those TLS has already decrypted, as the rest
// can only be decrypted by a read. A transmit purge does nothing, as bytes handed to TCP cannot
// be recalled.
//
// The peer closing the connection ends read_some() with asio::error::eof; a reset with
// asio::error::connection_reset.

#include <spdlog/logger.h>
#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ttynet/port/port.hpp"
#include "ttynet/port/tcp_connect.hpp"
#include "ttynet/port/tls_options.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

// Held by pointer here (net_stream.hpp, tls_connect.hpp), so that this header needs no OpenSSL:
// the registry includes it, and the URL fuzz target builds the registry without OpenSSL.
class NetStream;
struct TlsClientOptions;

// The option table of socket:// (url.hpp): pyserial's one option.
inline constexpr std::array<OptionSpec, 1> socket_url_options{{
    {"logging", OptionType::choice, "",
     "level of the port.socket logger (line settings ignored, connection)",
     "debug|info|warning|error"},
}};
// The option table of socket+tls://.
inline constexpr auto socket_tls_url_options = with_tls_options(socket_url_options);

using SocketTarget = TcpTarget;

// A constructor rather than an aggregate, for the reason given at TcpTarget.
struct SocketConnectOptions {
  SocketConnectOptions() {}  // NOLINT(modernize-use-equals-default): keeps it no aggregate
  // Bounds the whole open: name lookup plus a connect attempt to each address it yields, and
  // the TLS handshake and token line.
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  // PortInfo::url of the opened port, and the prefix of errors; empty: "socket://HOST:PORT", or
  // "socket+tls://HOST:PORT" with tls.
  std::string url;
  // TLS over the connection (socket+tls://, tls_client_options()); null: plain TCP.
  std::shared_ptr<const TlsClientOptions> tls;
};

class SocketPort final : public Port {
 public:
  // CTS|DSR|CD: the modem state a socket reports.
  static constexpr std::uint8_t modem_state_without_lines = modem::cts | modem::dsr | modem::cd;

  // Resolves target.host (numeric addresses without a lookup), then connects to each address
  // in turn until one accepts, with TCP_NODELAY on; with options.tls, then the TLS handshake
  // and the token line (connect_net_stream()). Errors say what failed, prefixed by the
  // URL: "socket://127.0.0.1:4000: connection refused", "socket://box:4000: cannot resolve
  // 'box': ...", "socket://10.0.0.9:4000: no connection within 5 s" (std::errc::timed_out),
  // "socket+tls://box:4000: TLS handshake failed: certificate has expired".
  // Cancelling the calling coroutine ends the open with asio::error::operation_aborted.
  static asio::awaitable<Result<std::unique_ptr<SocketPort>, Error>> connect(
      asio::any_io_executor executor, SocketTarget target, SocketConnectOptions options = {});
  ~SocketPort() override;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override;
  asio::awaitable<std::error_code> write(ByteView data) override;
  // Checks the range every backend accepts, then only remembers and logs.
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
  // The kernel's smoothed round-trip time of the connection (TCP_INFO), or the connect time
  // before the kernel has a sample; nothing once closed. Through a TCP proxy or a tunnel this
  // is only the first hop's.
  std::optional<Duration> round_trip() const override;
  void close() override;
  // Half-closes the connection and reads on, discarding, until the peer closes or `linger`
  // passes: closing with received bytes unread would reset the connection, and the reset
  // discards what the kernel has not sent yet.
  asio::awaitable<void> shutdown(Duration linger) override;

  // The address the connection went to.
  const asio::ip::tcp::endpoint& remote_endpoint() const { return remote_; }

 private:
  SocketPort(NetStream stream, asio::ip::tcp::endpoint remote, Duration connect_time,
             PortInfo info);
  bool is_open() const;

  std::unique_ptr<NetStream> stream_;  // never null
  asio::ip::tcp::endpoint remote_;
  Duration connect_time_;
  PortInfo info_;
  std::shared_ptr<spdlog::logger> log_;
  LineSettings settings_;
  ControlLines control_lines_;
  bool break_on_ = false;
};

// The registry's opener for socket:// and socket+tls:// (url.hpp): applies `logging=` to the
// "port.socket" logger, then connects with the default timeout.
asio::awaitable<OpenResult> open_socket_url(asio::any_io_executor executor, const PortUrl& url);

}  // namespace ttynet::port
