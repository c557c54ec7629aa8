#pragma once
// Read-only clients of one port ("monitors"): each gets the device's output as raw bytes, what
// they send is read and dropped. A monitor never slows the device or the controlling client:
// broadcast() only copies into each monitor's bounded queue, and a monitor too slow to keep up
// loses the bytes that do not fit (logged once per episode) instead of holding anyone back.
// A monitor that connects gets the port's scroll-back first.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ttynet/port/net_stream.hpp"
#include "ttynet/server/admission.hpp"
#include "ttynet/server/port_stats.hpp"
#include "ttynet/server/scrollback.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::server {

class MonitorHub : public std::enable_shared_from_this<MonitorHub> {
 public:
  // Device output queued per monitor beyond the write in flight.
  static constexpr std::size_t default_queue_limit = 64 * 1024;

  // `keepalive`: ClientLimits::keepalive for the monitors' connections.
  // `port_name`: how log lines name the port (PortHostConfig::name).
  // `gate`: the port's access rules, TLS and identities, which monitors pass too.
  // `scrollback`: the port's recent output, all of which a new monitor gets; may be null.
  // `stats`: where connections are counted; may be null.
  MonitorHub(asio::any_io_executor executor, std::string port_name, std::chrono::seconds keepalive,
             std::shared_ptr<Gate> gate, std::shared_ptr<const Scrollback> scrollback = nullptr,
             std::size_t queue_limit = default_queue_limit,
             std::shared_ptr<PortStats> stats = nullptr);

  // Opens the listening sockets (see open_listeners). The error's message is for the user.
  MaybeError listen(const std::optional<std::string>& bind_address, std::uint16_t port);
  // Starts accepting monitors; the coroutines keep this object alive until they end.
  void start();
  // Serves a client let in elsewhere as a monitor (a monitor identity on the main listener).
  void adopt(port::NetStream stream);
  // Copies `data` to every monitor's queue; never waits.
  void broadcast(ByteView data);
  // Closes the listeners and every monitor.
  void stop();

  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;
  std::size_t monitor_count() const { return clients_.size(); }
  // The monitors' addresses, in the order they came.
  std::vector<std::string> peers() const;

 private:
  struct Client;
  asio::awaitable<void> accept_monitors(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> admit(asio::ip::tcp::socket socket);
  asio::awaitable<void> serve(std::shared_ptr<Client> client);
  asio::awaitable<void> write_queue(std::shared_ptr<Client> client);
  asio::awaitable<void> discard_input(std::shared_ptr<Client> client);

  asio::any_io_executor executor_;
  std::string port_name_;
  std::chrono::seconds keepalive_;
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<const Scrollback> scrollback_;
  std::size_t queue_limit_;
  std::shared_ptr<PortStats> stats_;
  std::vector<asio::ip::tcp::acceptor> acceptors_;
  std::list<std::shared_ptr<Client>> clients_;
  bool is_stopping_ = false;
};

}  // namespace ttynet::server
