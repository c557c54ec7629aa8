#pragma once
// One TCP client bridged to one open port. RFC 2217 sessions run the client's bytes through
// an rfc2217::Server core and apply its requests to the port; raw sessions pass bytes
// untouched. Device data does not come from the session itself: the PortHost that owns the
// device reads it continuously and hands it over through from_device(), so the device is
// drained (and an unplug noticed) whether or not a client is connected.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "ttynet/esp/reset_detector.hpp"
#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/rfc2217/server.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::server {

struct SessionConfig {
  Protocol protocol = Protocol::rfc2217;
  std::string signature;  // the SIGNATURE reply
  std::chrono::milliseconds modem_poll_interval{1000};
  // Device data queued for the client above which the device is no longer read.
  std::size_t high_water = 256 * 1024;
  std::optional<EspResetConfig> esp_reset{};  // nothing: DTR/RTS requests go straight through
};

class Session {
 public:
  Session(asio::ip::tcp::socket socket, port::Port& port, SessionConfig config);

  // Serves the client until it leaves, close() is called, or the connection fails.
  asio::awaitable<void> run();
  // Delivers device data to the client. Waits while the client is slow or has suspended
  // the flow, so the device is read no faster than the client takes data. Returns at once
  // when the session is over.
  asio::awaitable<void> from_device(ByteView data);
  // Tells the client why it is being dropped (one text line) and ends the session.
  asio::awaitable<void> close_with_message(std::string_view line);
  void close();
  bool is_open() const { return socket_.is_open(); }
  const std::string& peer() const { return peer_; }

 private:
  asio::awaitable<void> client_to_device();
  asio::awaitable<void> poll_modem_lines();
  asio::awaitable<void> apply(const rfc2217::Event& event);
  asio::awaitable<void> answer_control(rfc2217::Control value);
  asio::awaitable<void> set_lines(std::optional<bool> dtr, std::optional<bool> rts);
  asio::awaitable<void> set_lines_for_esp(std::optional<bool> dtr, std::optional<bool> rts);
  // The lines as the client should see them: what it asked for, under --esp.
  ControlLines lines_for_client() const;
  asio::awaitable<void> refresh_modem_state();
  asio::awaitable<void> flush_to_client();
  asio::awaitable<void> write_to_device();
  asio::awaitable<void> change_settings(const LineSettings& wanted);

  asio::ip::tcp::socket socket_;
  port::Port& port_;
  SessionConfig config_;
  std::string peer_;
  std::optional<rfc2217::Server> core_;               // empty in raw mode
  std::optional<esp::ResetDetector> reset_detector_;  // with --esp
  // Sized like the device reads (port_host.cpp): a client's data goes to a tty anyway.
  static constexpr std::size_t receive_buffer_size = 16 * 1024;
  // Not zero-filled: pages become resident only as far as reads reach.
  std::unique_ptr<Byte[]> from_client_ =
      std::make_unique_for_overwrite<Byte[]>(receive_buffer_size);
  ByteBuffer to_client_;  // the bytes of the write in flight
  ByteBuffer to_device_;  // client data gathered from one read
  bool is_writing_ = false;
  bool is_suspended_ = false;
  port::Notifier flow_changed_;                // write finished, or the client resumed the flow
  std::set<std::error_code> protocol_errors_;  // kinds already logged
  std::size_t protocol_error_count_ = 0;
};

}  // namespace ttynet::server
