#pragma once
// One TCP client bridged to one open port: the I/O around a SessionCore (session_core.hpp),
// which decides what each RFC 2217 request does; raw sessions pass bytes untouched. Device
// data does not come from the session itself: the host that owns the device (PortHost, or
// `ttynet forward`'s ForwardHost) reads it continuously and hands it over through
// from_device(), so the device is drained (and an unplug noticed) whether or not a client is
// connected.

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ttynet/port/net_stream.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/server/device_lease.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/server/port_stats.hpp"
#include "ttynet/server/session_core.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::server {

struct SessionConfig {
  std::string port_name{};  // how log lines name the port (PortHostConfig::name)
  Protocol protocol = Protocol::rfc2217;
  std::string signature;  // the SIGNATURE reply
  std::chrono::milliseconds modem_poll_interval{1000};
  // Device data queued for the client above which the device is no longer read.
  std::size_t high_water = 256 * 1024;
  std::optional<EspResetConfig> esp_reset{};  // nothing: DTR/RTS requests go straight through
  ClientLimits clients{};
  // A monitor identity on the main listener (SessionPolicy::read_only): fed through
  // offer_from_device(), never the controlling client. RFC 2217 only.
  bool read_only = false;
  // A controller of a port shared by several (SharingOptions::max_clients > 1): the flash
  // lease they all see. Null: the port's only controller.
  std::shared_ptr<DeviceLease> lease{};
  // How log lines name the client; empty: its address.
  std::string peer_label{};
  // Where the port's counters are kept (bytes to the device, resets, negotiation time); may be
  // null.
  std::shared_ptr<PortStats> stats{};
};

// What `port` holds now, as a session core sees the device.
DeviceState device_state(const port::Port& port);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(port::NetStream stream, port::Port& port, SessionConfig config);

  // Before run(): device output from before the client came (scroll-back), which it gets
  // ahead of anything else from the device.
  void start_with(ByteView earlier_output);
  // Serves the client until it leaves, close() is called, or the connection fails.
  asio::awaitable<void> run();
  // Delivers device data to the client. Waits while the client is slow or has suspended
  // the flow, so the device is read no faster than the client takes data. Returns at once
  // when the session is over.
  asio::awaitable<void> from_device(ByteView data);
  // For a read-only session: queues device data for the client and returns at once. Like a
  // monitor, it never holds the device back: what does not fit under high_water is dropped
  // (one line per episode). Only for sessions owned by a shared_ptr.
  void offer_from_device(ByteView data);
  // Tells the client why it is being dropped (one text line) and ends the session.
  asio::awaitable<void> close_with_message(std::string_view line);
  void close();
  // The device went away: paced batches in progress are reported aborted to the client (sent
  // by close_with_message(), which comes next).
  void device_lost();
  // After run(): drops device output the client left unwritten and puts the device's
  // settings, lines and BREAK back as the client found them, or as `to` says (a shared port
  // is put back by its last controller, as its first found it).
  asio::awaitable<void> restore_device(const std::optional<DeviceState>& to = std::nullopt);
  // How long the client has sent nothing.
  Duration idle_for() const { return Clock::now() - last_input_; }
  bool is_open() const { return stream_.is_open(); }
  const std::string& peer() const { return report_.peer(); }
  // Logs "port NAME: PEER TEXT" within the limits on lines about peers.
  const PeerReporter& report() const { return report_; }

 private:
  // Paced ESP frames come with --esp: the reset handling already says the device is an ESP.
  bool is_paced() const { return config_.esp_reset.has_value(); }
  asio::awaitable<void> client_to_device();
  bool is_shared() const { return config_.lease != nullptr; }
  // On a shared port: waits while another controller flashes (one line says so), then
  // renews this session's own lease, if it holds it.
  asio::awaitable<void> hold_input_during_flash();
  // Writes client data to the device until it is taken or abandoned: a device that takes
  // nothing (its flow control held by a hung board) must not keep a session that is over.
  // close() abandons a write in flight, and so does watch_device_writes().
  asio::awaitable<std::error_code> write_to_device(ByteView data);
  void abandon_device_write();
  // While a device write is in flight, checks every stuck_write_poll whether the client's
  // connection ended, which nothing else notices while no client data is read; if so, closes
  // the session. Idle (no timer) while no write is in flight.
  asio::awaitable<void> watch_device_writes();
  bool has_client_left();
  static constexpr std::chrono::milliseconds stuck_write_poll{250};
  // With ClientLimits::idle_timeout: closes the session, with a notice, once the client has
  // sent nothing for that long. Without one, waits until the session ends.
  asio::awaitable<void> close_when_idle();
  asio::awaitable<void> poll_modem_lines();
  // Waits for the paced frames' reply deadline and expires it; re-armed when it changes.
  asio::awaitable<void> expire_paced_frames();
  void follow_pacer_deadline();
  // Performs the core's actions until it has none; one caller at a time, the others wait.
  asio::awaitable<void> drive_core();
  asio::awaitable<ActionResult> perform(const action::Write& write);
  asio::awaitable<ActionResult> perform(const action::ApplySettings& apply);
  asio::awaitable<ActionResult> perform(const action::SetLines& lines);
  asio::awaitable<ActionResult> perform(const action::PlayReset& reset);
  asio::awaitable<ActionResult> perform(const action::SetBreak& set);
  asio::awaitable<ActionResult> perform(const action::Wait& wait);
  asio::awaitable<ActionResult> perform(const action::Purge& purge);
  asio::awaitable<ActionResult> perform(const action::ReadModemState& read);
  asio::awaitable<ActionResult> perform(const action::Log& line);
  asio::awaitable<ActionResult> perform(const action::Disconnect& disconnect);
  // The device's state after an action that may change it: one settings read.
  ActionResult device_after(std::error_code ec) const;
  asio::awaitable<void> flush_to_client();
  // The client's connection failed: says why (once, not for our own cancellations) and closes.
  void lose_client(std::error_code ec);

  port::NetStream stream_;  // the client's connection, plain or TLS
  port::Port& port_;
  SessionConfig config_;
  PeerReporter report_;
  std::optional<SessionCore> core_;  // empty in raw mode
  // Sized like the device reads (device_pump.cpp): a client's data goes to a tty anyway.
  static constexpr std::size_t receive_buffer_size = 16 * 1024;
  // Not zero-filled: pages become resident only as far as reads reach.
  std::unique_ptr<Byte[]> from_client_ =
      std::make_unique_for_overwrite<Byte[]>(receive_buffer_size);
  bool is_writing_ = false;
  bool is_driving_ = false;
  port::Notifier flow_changed_;         // write finished, or the client resumed the flow
  port::Notifier core_idle_;            // drive_core() finished
  port::Notifier client_input_wanted_;  // the paced frames drained below their limit
  port::Notifier device_write_began_;
  asio::cancellation_signal abandon_device_write_;  // cancels the device write in flight
  asio::steady_timer pacer_timer_;
  std::optional<TimePoint> pacer_timer_deadline_;  // what pacer_timer_ is armed for
  TimePoint last_input_ = Clock::now();            // the client's latest bytes
  TimePoint connected_ = Clock::now();
  bool is_negotiation_counted_ = false;  // COM-PORT's agreement went into the stats
  bool is_device_writing_ = false;
  std::uint64_t device_writes_ = 0;       // started so far: tells one stuck write from the next
  bool device_output_abandoned_ = false;  // a device write was given up
  std::size_t offered_dropped_ = 0;       // device bytes offer_from_device() dropped lately
  // A raw session's scroll-back, written by run() before any device data (from_device()
  // waits for it).
  ByteBuffer replay_;
  bool is_replaying_ = false;
};

}  // namespace ttynet::server
