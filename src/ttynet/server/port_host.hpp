#pragma once
// One exported port: the device, its listening sockets and its controlling clients (one, or
// up to SharingOptions::max_clients).
//
// The device is opened once and read continuously; its data goes to every controller and
// monitor, and into the scroll-back for clients that come later. A client beyond the limit is
// refused in one line, or replaces an idle controller (SharingOptions::takeover). When the
// last controller leaves, the settings and control lines the first one found are restored.
// When the device goes away the clients are told and dropped, and the device is opened again
// once it is back.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/server/admission.hpp"
#include "ttynet/server/device_lease.hpp"
#include "ttynet/server/monitor.hpp"
#include "ttynet/server/port_directory.hpp"
#include "ttynet/server/port_stats.hpp"
#include "ttynet/server/scrollback.hpp"
#include "ttynet/server/session.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::server {

struct PortHostConfig {
  std::string device_url;
  std::string name;  // how log lines name the port: its configured name; empty: the device URL
  std::optional<std::string> bind_address;  // nothing = all interfaces, IPv4 and IPv6
  std::uint16_t tcp_port = 2217;
  Protocol protocol = Protocol::rfc2217;
  std::optional<LineSettings> initial_settings;
  std::chrono::milliseconds reopen_interval{500};
  std::optional<EspResetConfig> esp_reset;  // `--esp`
  ClientLimits clients;
  SharingOptions sharing;
  // Read-only listeners: every client there gets the device's output; what they send is
  // dropped. Nothing = none.
  std::optional<std::uint16_t> monitor_port;
  // Access rules, TLS and identities of both listeners; null: plain TCP, open to all.
  std::shared_ptr<const PortSecurity> security;
  // The device's USB identity for the dashboard ("303a:1001 serial 7C9EBD..."); may be empty.
  std::string identity{};
  // The dashboard's list of ports (`--http`), which the host joins while it lives; null: none.
  std::shared_ptr<PortDirectory> directory{};
};

class PortHost {
 public:
  PortHost(asio::any_io_executor executor, PortHostConfig config);
  ~PortHost();

  // Opens the device and the listening sockets. The error's message is one sentence for the
  // user.
  asio::awaitable<MaybeError> start();
  // Serves until stop(). Call after a successful start().
  asio::awaitable<void> run();
  // Ends the client session (restoring the device), closes the device and the listeners.
  // With a reason, the client is told it (one text line) before it is dropped.
  void stop(std::string_view reason = {});

  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;
  const std::string& name() const { return config_.name; }
  PortStatus status() const;

  // A browser terminal of the dashboard, let in by the dashboard's gate: an RFC 2217 client on
  // `stream`, the server's end of a connection inside this process. It controls the port while
  // a controller's place is free and is read-only otherwise (it never takes a place over); it
  // gets the scroll-back as a monitor does. `peer` names the browser in the log. Nothing: the
  // port takes no client now (no device, or stopping), and `stream` is closed.
  std::optional<ClientRole> attach_browser(port::NetStream stream, const std::string& peer);

 private:
  asio::awaitable<void> accept_clients(asio::ip::tcp::acceptor& acceptor);
  // Lets the client through the gate, then makes it the controlling client, a monitor (a
  // monitor identity), or refuses it.
  asio::awaitable<void> admit_client(asio::ip::tcp::socket socket);
  std::shared_ptr<MonitorHub> monitor_hub();
  // One line when a listener is reachable beyond loopback by anyone.
  void warn_if_open_to_all() const;
  // A client beyond max_clients: the controller it may replace (SharingOptions::takeover), or
  // null.
  std::shared_ptr<Session> takeover_candidate() const;
  // Tells `replaced` it was taken over by `newcomer` and waits until it has left.
  asio::awaitable<void> take_over(std::shared_ptr<Session> replaced, const std::string& newcomer);
  // The last `n` bytes of device output, for a client that connects now.
  ByteBuffer earlier_output(std::size_t n) const;
  asio::awaitable<void> serve_client(std::shared_ptr<Session> session);
  // A monitor identity on an RFC 2217 listener: a read-only session beside the controller.
  asio::awaitable<void> serve_reader(std::shared_ptr<Session> reader);
  asio::awaitable<void> pump_device();
  asio::awaitable<void> reopen_device();
  void close_device();
  SessionConfig session_config() const;

  asio::any_io_executor executor_;
  PortHostConfig config_;
  std::shared_ptr<PortStats> stats_ = std::make_shared<PortStats>();
  std::vector<asio::ip::tcp::acceptor> acceptors_;
  std::shared_ptr<Gate> gate_;
  std::unique_ptr<port::Port> port_;
  std::list<std::shared_ptr<Session>> controllers_;   // in the order they came
  std::vector<std::shared_ptr<Session>> delivering_;  // pump_device()'s copy of controllers_
  // What the device held when the first of the present controllers came: restored when the
  // last one leaves.
  std::optional<DeviceState> found_by_first_;
  std::list<std::shared_ptr<Session>> readers_;  // read-only sessions
  std::shared_ptr<Scrollback> scrollback_;       // null when nobody gets any
  std::shared_ptr<DeviceLease> lease_;           // with several controllers
  // With monitor_port, or once a monitor identity connects to the main listener.
  std::shared_ptr<MonitorHub> monitors_;
  port::Notifier session_ended_;  // a controller's or a reader's
  asio::steady_timer reopen_timer_;
  bool is_device_up_ = false;  // opened and not yet failed
  bool is_stopping_ = false;
};

}  // namespace ttynet::server
