#pragma once
// rfc2217://HOST:PORT[?OPTS]: a serial port on an RFC 2217 server, with pyserial's rfc2217://
// semantics (docs/reference/rfc2217-peers.md §3). The protocol is rfc2217::Client's; this
// backend gives it a TCP connection, a clock and the Port interface. rfc2217+tls://HOST:PORT is
// the same over TLS (tls_connect.hpp): the negotiation starts once the handshake and the token
// line are done.
//
// Opening connects (within `timeout`, at least 5 s), then runs the client's open sequence:
// COM-PORT agreement, the four line settings, flow control, DTR and RTS on (pyserial's
// defaults), both purges. Every awaited answer has `timeout`; a silent or refusing server is an
// open error naming what was not answered ("rfc2217://h:4000: server did not answer
// SET-BAUDRATE within 3 s").
//
// Operations wait for the server's confirmation and fail with rfc2217::errc::reply_timeout or
// value_rejected (the details are logged at warning level on "port.rfc2217"). With
// ign_set_control, SET-CONTROL requests (DTR, RTS, BREAK, flow control) are sent without
// waiting, as pyserial does. modem_state() reports the last NOTIFY-MODEMSTATE, or with
// poll_modem asks for a fresh one. Settings identical to the confirmed ones are not resent.
//
// Data: what write() takes is queued (at most write_high_water before write() waits) and sent
// with 0xFF doubled, never while the server has suspended the flow. Received data is buffered
// up to read_high_water; beyond that the connection is not read, so TCP pushes back on the
// server. The server closing the connection ends read_some() with asio::error::eof once the
// buffered data is read.
//
// Paced ESP frames (docs/design/paced-esp-frames.md): the port asks for the extension in its
// first flight unless told not to; it costs nothing against servers that refuse it, and only
// `ttynet serve --esp` agrees. send_paced_esp() queues like write() (same order, same
// write_high_water); the server's reports are kept, at most max_paced_esp_reports of them
// (the oldest dropped first), until take_paced_esp_report(), and logged at debug level.

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "ttynet/port/port.hpp"
#include "ttynet/port/tcp_connect.hpp"
#include "ttynet/port/tls_options.hpp"
#include "ttynet/port/url.hpp"
#include "ttynet/rfc2217/client.hpp"

namespace ttynet::port {

// tls_connect.hpp; held by pointer, so that this header, which the registry includes, needs no
// OpenSSL (see socket_port.hpp).
struct TlsClientOptions;

// The option table of rfc2217:// (url.hpp): pyserial's options.
inline constexpr std::array<OptionSpec, 4> rfc2217_url_options{{
    {"ign_set_control", OptionType::flag, "",
     "do not wait for answers to SET-CONTROL (DTR, RTS, BREAK, flow control)"},
    {"poll_modem", OptionType::flag, "",
     "ask the server for the modem state instead of relying on its notifications"},
    {"timeout", OptionType::seconds, "3",
     "time the server has for each answer, negotiation included"},
    {"logging", OptionType::choice, "", "level of the port.rfc2217 logger",
     "debug|info|warning|error"},
}};
// The option table of rfc2217+tls://.
inline constexpr auto rfc2217_tls_url_options = with_tls_options(rfc2217_url_options);

struct Rfc2217Limits {
  std::size_t read_high_water = 1024 * 1024;  // received data buffered before reading stops
  std::size_t write_high_water = 64 * 1024;   // data queued for the server before write() waits
};

// A constructor rather than an aggregate, for the reason given at TcpTarget.
struct Rfc2217ConnectOptions {
  Rfc2217ConnectOptions() { client.paced_esp = true; }
  rfc2217::ClientOptions client;                 // paced_esp on: every rfc2217:// port asks for it
  LineSettings settings;                         // sent by the open sequence
  ControlLines lines{.dtr = true, .rts = true};  // likewise; pyserial opens with both on
  // PortInfo::url and the prefix of errors; empty: "rfc2217://HOST:PORT", or
  // "rfc2217+tls://HOST:PORT" with tls.
  std::string url;
  Rfc2217Limits limits;
  std::shared_ptr<const TlsClientOptions> tls;  // TLS over the connection; null: plain TCP
};

// Declared only: this header also serves the URL grammar (url.cpp), which needs no TLS.
class NetStream;

class Rfc2217Port final : public Port {
 public:
  static asio::awaitable<Result<std::unique_ptr<Rfc2217Port>, Error>> connect(
      asio::any_io_executor executor, TcpTarget target, Rfc2217ConnectOptions options = {});
  // The open sequence over a connection made already (a client inside the server's process:
  // the dashboard's browser terminals). options.url names the port in errors; tls is unused.
  static asio::awaitable<Result<std::unique_ptr<Rfc2217Port>, Error>> open_over(
      asio::any_io_executor executor, NetStream stream, Rfc2217ConnectOptions options);
  ~Rfc2217Port() override;

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
  const PortInfo& info() const override;
  // The client core's estimate: the shortest recent reply to a request the server answers at
  // once (rfc2217::Client::round_trip). It spans the whole path to the server, proxies
  // included, so the kernel's TCP estimate (first hop only) would add nothing.
  std::optional<Duration> round_trip() const override;
  bool paces_esp_frames() const override;
  std::uint8_t paced_esp_features() const override;
  asio::awaitable<std::error_code> send_paced_esp(
      const rfc2217::paced_esp::Message& message) override;
  std::optional<rfc2217::paced_esp::Message> take_paced_esp_report() override;
  asio::awaitable<std::optional<rfc2217::paced_esp::Message>> next_paced_esp_report() override;
  static constexpr std::size_t max_paced_esp_reports = 64;
  void close() override;
  // Waits (within `linger`) for the queue to be sent, half-closes the connection and reads on,
  // discarding, until the server closes: closing with replies unread would reset the connection,
  // and a server may then drop requests it has read but not handled yet.
  asio::awaitable<void> shutdown(Duration linger) override;

  // The server's SIGNATURE, when it sent one.
  std::optional<std::string> signature() const;

 private:
  struct State;
  explicit Rfc2217Port(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

// The registry's opener for rfc2217:// and rfc2217+tls:// (url.hpp).
asio::awaitable<OpenResult> open_rfc2217_url(asio::any_io_executor executor, const PortUrl& url);

}  // namespace ttynet::port
