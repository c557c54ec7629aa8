#pragma once
// `ttynet forward`: a local server whose device is a port URL, typically a remote
// `ttynet serve --esp` (rfc2217://lab:4000).
//
// Unlike PortHost, the device is opened per client connection, not once: each accepted client
// gets its own upstream port, and a client that cannot have one (the far server refuses it, or
// cannot be reached) is refused with the open error. While the client stays, the upstream's
// output goes to it through a server::Session, as a device's would. When the client leaves,
// the upstream is restored as the client found it and shut down; when the upstream ends, the
// client is told and dropped.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/server/session.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::forward {

struct ForwardHostConfig {
  std::string upstream_url;
  std::optional<std::string> bind_address{};  // nothing = all interfaces, IPv4 and IPv6
  std::uint16_t tcp_port = 2217;
  server::Protocol protocol = server::Protocol::rfc2217;
  server::ClientLimits clients{};
  // The seam for ESP acceleration: applied to each upstream port right after it is opened; the
  // session then uses what it returns. Empty: the upstream port as opened.
  std::function<std::unique_ptr<port::Port>(std::unique_ptr<port::Port>)> wrap_upstream{};
};

class ForwardHost {
 public:
  ForwardHost(asio::any_io_executor executor, ForwardHostConfig config);
  ~ForwardHost();

  // Opens the listening sockets; nothing connects upstream before a client comes. The error's
  // message is one sentence for the user.
  asio::awaitable<MaybeError> start();
  // Serves until stop() and until every client's upstream is shut down. Call after a
  // successful start().
  asio::awaitable<void> run();
  // Closes the listeners and ends every client's session; upstream opens in progress are
  // cancelled.
  void stop();

  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;

 private:
  struct Link;  // one client and its upstream

  asio::awaitable<void> accept_clients(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> serve_client(asio::ip::tcp::socket socket);
  asio::awaitable<void> serve_link(Link& link, asio::ip::tcp::socket socket);
  asio::awaitable<Result<std::unique_ptr<port::Port>, Error>> open_upstream(Link& link);
  asio::awaitable<void> pump_upstream(Link& link, port::Port& upstream);
  // Once per process, at the first upstream: whether the far end paces ESP frames.
  void report_pacing(const port::Port& upstream);
  server::SessionConfig session_config(const port::Port& upstream) const;

  asio::any_io_executor executor_;
  ForwardHostConfig config_;
  std::vector<asio::ip::tcp::acceptor> acceptors_;
  std::set<std::shared_ptr<Link>> links_;
  port::Notifier links_changed_;  // a link ended, or stop() was called
  bool is_pacing_reported_ = false;
  bool is_stopping_ = false;
};

}  // namespace ttynet::forward
