#pragma once
// The dashboard of `serve --http` (docs/design/dashboard.md): an HTTP listener on the ports'
// own event loop. It serves the dashboard page, each port's browser terminal, /api/ports and
// /metrics, from the PortDirectory the ports join. The port's access rules and TLS apply to it
// through the same Gate as the ports'.
//
// A browser never holds the loop or a device: requests are read within limits and a deadline,
// the live updates are coalesced, and a terminal whose browser falls behind loses output like a
// slow monitor.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/http/request_reader.hpp"
#include "ttynet/port/net_stream.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/server/admission.hpp"
#include "ttynet/server/port_directory.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::server {

struct HttpHostConfig {
  std::optional<std::string> bind_address{};  // nothing = all interfaces
  std::uint16_t tcp_port = 8080;
  std::shared_ptr<const PortSecurity> security{};  // TLS and access rules; null: plain, open
  std::shared_ptr<PortDirectory> directory{};
  std::chrono::seconds keepalive{10};
};

class HttpHost {
 public:
  // Bytes queued for one browser beyond which its terminal output is dropped.
  static constexpr std::size_t terminal_queue_limit = 64 * 1024;
  // Connections at once; more are closed at accept.
  static constexpr std::size_t max_connections = 256;
  // A request must be complete within this, and a kept-alive connection idle no longer.
  static constexpr std::chrono::seconds request_timeout{30};
  // The dashboard's updates: at most one per interval per browser, and only on a change.
  static constexpr std::chrono::milliseconds update_interval{250};

  HttpHost(asio::any_io_executor executor, HttpHostConfig config);
  ~HttpHost();
  HttpHost(const HttpHost&) = delete;
  HttpHost& operator=(const HttpHost&) = delete;

  // Opens the listening sockets. The error's message is one sentence for the user.
  MaybeError start();
  // Serves until stop(), then until every connection has ended.
  asio::awaitable<void> run();
  void stop();

  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;

 private:
  struct Connection;
  asio::awaitable<void> accept_connections(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket);
  asio::awaitable<void> serve_requests(Connection& connection);
  http::Response respond(const http::Request& request) const;
  asio::awaitable<void> serve_websocket(Connection& connection, const http::Request& request,
                                        std::string leftover);
  asio::awaitable<void> serve_events(Connection& connection, struct WebSocketLink& link);
  asio::awaitable<void> serve_terminal(Connection& connection, WebSocketLink& link, PortHost& host);
  void warn_if_open_to_all() const;

  asio::any_io_executor executor_;
  HttpHostConfig config_;
  std::shared_ptr<Gate> gate_;
  std::vector<asio::ip::tcp::acceptor> acceptors_;
  std::set<Connection*> connections_;
  port::Notifier connection_ended_;
  bool is_stopping_ = false;
};

}  // namespace ttynet::server
