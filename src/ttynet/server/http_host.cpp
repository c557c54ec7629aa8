#include "ttynet/server/http_host.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/http/metrics_text.hpp"
#include "ttynet/http/websocket_channel.hpp"
#include "ttynet/http/websocket_handshake.hpp"
#include "ttynet/port/reset_player.hpp"
#include "ttynet/port/rfc2217_port.hpp"
#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/server/port_host.hpp"
#include "ttynet/server/port_report.hpp"
#include "ttynet/server/web_assets.hpp"

namespace ttynet::server {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// How log lines name the dashboard, where a port's name goes.
constexpr std::string_view log_name = "http";

const WebAsset* find_asset(std::string_view path) {
  const auto assets = web_assets();
  const auto found = std::find_if(assets.begin(), assets.end(),
                                  [path](const WebAsset& asset) { return asset.path == path; });
  return found == assets.end() ? nullptr : &*found;
}

http::Response asset_response(const WebAsset& asset) {
  return {.status = 200,
          .content_type = std::string(asset.content_type),
          .body = std::string(asset.body),
          .headers = {{"Content-Security-Policy",
                       "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'"},
                      {"X-Content-Type-Options", "nosniff"}}};
}

http::Response text_response(int status, std::string text) {
  return {.status = status, .body = std::move(text) + "\n"};
}

std::vector<PortStatus> statuses(const PortDirectory& directory) {
  std::vector<PortStatus> ports;
  for (const PortHost* host : directory.ports()) ports.push_back(host->status());
  return ports;
}

// The server's end and the client's end of a TCP connection on loopback, made inside this
// process: a browser terminal is an RFC 2217 client of its port through it.
asio::awaitable<std::optional<std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket>>>
connected_pair(const asio::any_io_executor& executor) {
  std::error_code ec;
  asio::ip::tcp::acceptor acceptor(executor);
  acceptor.open(asio::ip::tcp::v4(), ec);
  if (!ec) acceptor.bind({asio::ip::address_v4::loopback(), 0}, ec);
  if (!ec) acceptor.listen(1, ec);
  if (ec) co_return std::nullopt;
  asio::ip::tcp::socket client(executor);
  auto [connect_error] = co_await client.async_connect(acceptor.local_endpoint(ec), as_tuple);
  if (connect_error) co_return std::nullopt;
  const auto client_end = client.local_endpoint(ec);
  // Another local program may have connected to the fresh port first: its connection is not
  // ours, and is closed.
  for (int attempt = 0; attempt < 4 && !ec; ++attempt) {
    auto [accept_error, server] = co_await acceptor.async_accept(as_tuple);
    if (accept_error) co_return std::nullopt;
    std::error_code remote_error;
    if (server.remote_endpoint(remote_error) == client_end && !remote_error) {
      co_return std::pair{std::move(server), std::move(client)};
    }
  }
  co_return std::nullopt;
}

}  // namespace

struct HttpHost::Connection {
  explicit Connection(port::NetStream s)
      : stream(std::move(s)), peer(describe_peer(stream.socket())) {}
  port::NetStream stream;
  std::string peer;
};

// A WebSocket over one connection: the channel, and the loops that move its bytes.
struct WebSocketLink {
  WebSocketLink(port::NetStream& s, std::string_view leftover)
      : stream(s), output_ready(s.get_executor()) {
    channel.receive(leftover);
  }

  // Writes the channel's output as it comes, until the channel is closing and all is written,
  // or the connection fails.
  asio::awaitable<void> write_all() {
    while (stream.is_open()) {
      const std::string_view out = channel.pending_output();
      if (out.empty()) {
        if (channel.closing()) co_return;
        co_await output_ready.wait();
        continue;
      }
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), as_tuple);
      if (ec) {
        stream.close();
        co_return;
      }
      channel.consume_output(n);
    }
  }

  // Reads messages and hands each to `on_message` until the channel closes or the connection
  // fails.
  template <typename OnMessage>
  asio::awaitable<void> read_all(OnMessage on_message) {
    std::array<char, 4096> buffer{};
    while (true) {
      for (auto& message : channel.take_messages()) co_await on_message(message);
      output_ready.notify();
      if (channel.closing()) co_return;
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), as_tuple);
      if (ec) co_return;
      channel.receive({buffer.data(), n});
    }
  }

  void send_json(const nlohmann::json& message) {
    channel.send_text(message.dump());
    output_ready.notify();
  }

  port::NetStream& stream;
  http::WebSocketChannel channel;
  port::Notifier output_ready;
};

HttpHost::HttpHost(asio::any_io_executor executor, HttpHostConfig config)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      gate_(std::make_shared<Gate>(executor_, std::string(log_name), config_.security)),
      connection_ended_(executor_) {}

HttpHost::~HttpHost() = default;

MaybeError HttpHost::start() {
  auto listeners = open_listeners(executor_, config_.bind_address, config_.tcp_port);
  if (!listeners) return listeners.error();
  acceptors_ = std::move(*listeners);
  warn_if_open_to_all();
  for (const auto& endpoint : local_endpoints()) {
    log().info("dashboard on {}://{}/", gate_->is_tls() ? "https" : "http",
               describe_endpoint(endpoint));
  }
  return std::nullopt;
}

void HttpHost::warn_if_open_to_all() const {
  if (const auto endpoint = gate_->open_to_all(local_endpoints())) {
    log().warn(
        "dashboard: listening on {} without TLS or an allow list: anyone who can reach it can "
        "use every port's terminal (see \"Securing ports\" in the README)",
        describe_endpoint(*endpoint));
  }
}

std::vector<asio::ip::tcp::endpoint> HttpHost::local_endpoints() const {
  return server::local_endpoints(acceptors_);
}

asio::awaitable<void> HttpHost::run() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(executor_, accept_connections(acceptor), asio::detached);
  }
  while (!is_stopping_ || !connections_.empty()) co_await connection_ended_.wait();
  co_await gate_->close();
}

void HttpHost::stop() {
  if (is_stopping_) return;
  is_stopping_ = true;
  for (auto& acceptor : acceptors_) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  for (Connection* connection : connections_) connection->stream.close();
  connection_ended_.notify();
}

asio::awaitable<void> HttpHost::accept_connections(asio::ip::tcp::acceptor& acceptor) {
  asio::steady_timer backoff(executor_);
  while (!is_stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(as_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || is_stopping_) co_return;
      log().warn("dashboard: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(500));
      co_await backoff.async_wait(as_tuple);
      continue;
    }
    if (connections_.size() >= max_connections) {
      std::error_code ignored;
      socket.close(ignored);
      continue;
    }
    if (gate_->passes_rules(socket)) {
      asio::co_spawn(executor_, serve_connection(std::move(socket)), asio::detached);
    }
  }
}

asio::awaitable<void> HttpHost::serve_connection(asio::ip::tcp::socket socket) {
  auto admitted = co_await gate_->admit(std::move(socket));
  if (!admitted) co_return;
  Connection connection(std::move(admitted->stream));
  if (is_stopping_) co_return;
  std::ignore = configure_client_socket(connection.stream.socket(), config_.keepalive);
  connections_.insert(&connection);
  co_await serve_requests(connection);
  connection.stream.close();
  connections_.erase(&connection);
  connection_ended_.notify();
}

asio::awaitable<void> HttpHost::serve_requests(Connection& connection) {
  http::RequestReader reader;
  std::string buffered;
  std::array<char, 8192> buffer{};
  asio::steady_timer deadline(executor_);
  while (connection.stream.is_open()) {
    deadline.expires_after(request_timeout);
    while (reader.state() == http::RequestReader::State::need_more) {
      if (buffered.empty()) {
        auto outcome =
            co_await (connection.stream.async_read_some(asio::buffer(buffer), as_tuple) ||
                      deadline.async_wait(as_tuple));
        if (outcome.index() == 1) co_return;  // no request in time: the connection ends
        const auto [ec, n] = std::get<0>(outcome);
        if (ec) co_return;
        buffered.assign(buffer.data(), n);
      }
      buffered.erase(0, reader.feed(buffered));
    }
    if (reader.state() == http::RequestReader::State::failed) {
      log().debug("dashboard: {}: bad request: {}", connection.peer, reader.error());
      const auto response = text_response(reader.error_status(), std::string(reader.error()));
      co_await asio::async_write(connection.stream, asio::buffer(http::serialize(response, false)),
                                 as_tuple);
      co_return;
    }
    const http::Request& request = reader.request();
    if (request.path.starts_with("/ws/")) {
      co_await serve_websocket(connection, request, std::move(buffered));
      co_return;
    }
    const auto response = respond(request);
    const bool keep_alive = request.keep_alive && !is_stopping_;
    auto [ec, n] = co_await asio::async_write(
        connection.stream, asio::buffer(http::serialize(response, keep_alive)), as_tuple);
    if (ec || !keep_alive) co_return;
    reader.reset();
  }
}

http::Response HttpHost::respond(const http::Request& request) const {
  if (request.method != "GET") {
    auto response = text_response(405, "only GET is served here");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  const std::string& path = request.path;
  if (path == "/api/ports") {
    return {.content_type = "application/json",
            .body = ports_json(statuses(*config_.directory), Clock::now())};
  }
  if (path == "/metrics") {
    return {.content_type = std::string(http::MetricsText::content_type),
            .body = ports_metrics(statuses(*config_.directory))};
  }
  if (path.starts_with("/ports/")) {
    const std::string_view name = std::string_view(path).substr(std::string_view("/ports/").size());
    if (config_.directory->find(name) == nullptr) {
      return text_response(404, fmt::format("no port named {}", name));
    }
    return asset_response(*find_asset("/terminal"));
  }
  if (path != "/terminal") {
    if (const WebAsset* asset = find_asset(path)) return asset_response(*asset);
  }
  return text_response(404, "not found");
}

asio::awaitable<void> HttpHost::serve_websocket(Connection& connection,
                                                const http::Request& request,
                                                std::string leftover) {
  PortHost* host = nullptr;
  constexpr std::string_view terminals = "/ws/ports/";
  if (request.path.starts_with(terminals)) {
    host = config_.directory->find(std::string_view(request.path).substr(terminals.size()));
  }
  const bool is_known = request.path == "/ws/events" || host != nullptr;
  // Same origin only: a page from elsewhere may not open a terminal in the user's browser.
  auto answer = http::answer_websocket_upgrade(request, request.header("host").value_or(""));
  if (!is_known) answer = {.accepted = false, .response = text_response(404, "not found")};
  auto [ec, n] = co_await asio::async_write(
      connection.stream, asio::buffer(http::serialize(answer.response, false)), as_tuple);
  if (ec || !answer.accepted) co_return;
  WebSocketLink link(connection.stream, leftover);
  if (host == nullptr) {
    co_await serve_events(connection, link);
  } else {
    co_await serve_terminal(connection, link, *host);
  }
}

asio::awaitable<void> HttpHost::serve_events(Connection& connection, WebSocketLink& link) {
  auto send_updates = [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(executor_);
    std::string sent;
    while (connection.stream.is_open() && !link.channel.closing()) {
      std::string snapshot = ports_json(statuses(*config_.directory), Clock::now());
      // Uptimes change every time: a browser that takes nothing gets nothing more.
      if (snapshot != sent && link.channel.output_bytes() < terminal_queue_limit) {
        link.channel.send_text(snapshot);
        link.output_ready.notify();
        sent = std::move(snapshot);
      }
      timer.expires_after(update_interval);
      co_await timer.async_wait(as_tuple);
    }
  };
  auto session = [&]() -> asio::awaitable<void> {
    co_await (link.read_all([](const http::WebSocketChannel::Message&) -> asio::awaitable<void> {
      co_return;  // the dashboard only listens
    }) || send_updates());
    if (!link.channel.closing()) link.channel.close(1001, "server going away");
    link.output_ready.notify();
  };
  co_await (session() && link.write_all());
}

asio::awaitable<void> HttpHost::serve_terminal(Connection& connection, WebSocketLink& link,
                                               PortHost& host) {
  const std::string port_name = host.name();
  auto pair = co_await connected_pair(executor_);
  if (!pair) {
    link.channel.close(1011, "could not connect to the port");
    co_await link.write_all();
    co_return;
  }
  const PortStatus before = host.status();
  const auto role = host.attach_browser(port::NetStream(std::move(pair->first)), connection.peer);
  if (!role) {
    link.channel.close(1013, "the port's device is not available");
    co_await link.write_all();
    co_return;
  }
  // The open sequence asks for what the device holds already: a browser changes nothing by
  // connecting.
  port::Rfc2217ConnectOptions options;
  options.client.paced_esp = false;
  options.client.purge_at_open = false;  // the device is shared; the scroll-back is wanted
  options.url = fmt::format("terminal of {}", port_name);
  if (before.settings) options.settings = *before.settings;
  if (before.lines) options.lines = *before.lines;
  auto opened = co_await port::Rfc2217Port::open_over(
      executor_, port::NetStream(std::move(pair->second)), options);
  if (!opened) {
    log().warn("dashboard: {}: {}", connection.peer, opened.error().message);
    link.channel.close(1011, "the port did not answer");
    co_await link.write_all();
    co_return;
  }
  std::unique_ptr<port::Rfc2217Port> port = std::move(*opened);

  auto send_state = [&] {
    const ControlLines lines = port->control_lines();
    link.send_json({{"state",
                     {{"role", to_string(*role)},
                      {"port", port_name},
                      {"esp", before.is_esp},
                      {"baud", port->settings().baud},
                      {"dtr", lines.dtr},
                      {"rts", lines.rts}}}});
  };
  auto notice = [&](std::string text) { link.send_json({{"notice", std::move(text)}}); };
  send_state();

  auto from_device = [&]() -> asio::awaitable<void> {
    std::vector<Byte> buffer(16 * 1024);
    std::size_t dropped = 0;
    while (true) {
      auto [ec, n] = co_await port->read_some(buffer);
      if (ec) {
        notice(fmt::format("{} closed: {}", port_name, ec.message()));
        co_return;
      }
      if (link.channel.output_bytes() + n > terminal_queue_limit) {
        if (dropped == 0) notice("this browser is too slow: output is being dropped");
        dropped += n;
        continue;
      }
      dropped = 0;
      link.channel.send_binary(std::string_view(reinterpret_cast<const char*>(buffer.data()), n));
      link.output_ready.notify();
    }
  };

  auto on_message = [&](const http::WebSocketChannel::Message& message) -> asio::awaitable<void> {
    if (!message.text) {
      if (*role == ClientRole::controller) co_await port->write(as_bytes(message.data));
      co_return;
    }
    if (*role != ClientRole::controller) {
      notice("read-only: another client controls the port");
      co_return;
    }
    const auto control = nlohmann::json::parse(message.data, nullptr, false);
    if (!control.is_object()) {
      notice("controls are JSON objects");
      co_return;
    }
    std::error_code ec;
    if (const auto baud = control.find("baud"); baud != control.end()) {
      if (!baud->is_number_unsigned() || baud->get<std::uint64_t>() == 0 ||
          baud->get<std::uint64_t>() > 100'000'000) {
        notice("baud: a positive whole number");
        co_return;
      }
      LineSettings settings = port->settings();
      settings.baud = baud->get<std::uint32_t>();
      ec = co_await port->apply_settings(settings);
    }
    for (const char* line : {"dtr", "rts"}) {
      if (const auto value = control.find(line); !ec && value != control.end()) {
        if (!value->is_boolean()) {
          notice(fmt::format("{}: true or false", line));
          co_return;
        }
        const bool on = value->get<bool>();
        const bool is_dtr = std::string_view(line) == "dtr";
        const auto dtr = is_dtr ? std::optional(on) : std::nullopt;
        const auto rts = is_dtr ? std::nullopt : std::optional(on);
        ec = co_await port->set_control_lines(dtr, rts);
      }
    }
    if (const auto reset = control.find("reset"); !ec && reset != control.end()) {
      if (!before.is_esp) {
        notice("resets are played on ports served with --esp only");
        co_return;
      }
      const std::string kind = reset->is_string() ? reset->get<std::string>() : "";
      if (kind != "bootloader" && kind != "application") {
        notice("reset: \"bootloader\" or \"application\"");
        co_return;
      }
      // The server's reset handling recognises esptool's sequences on the lines and plays
      // them on the device.
      // A named value: GCC 12 destroys a temporary in a conditional under co_await twice.
      const esp::ResetSequence sequence =
          kind == "bootloader" ? esp::classic_reset() : esp::hard_reset();
      ec = co_await port::play_reset(*port, sequence);
    }
    if (ec) notice(fmt::format("{} refused: {}", port_name, ec.message()));
    send_state();
  };

  auto session = [&]() -> asio::awaitable<void> {
    co_await (link.read_all(on_message) || from_device());
    if (!link.channel.closing()) link.channel.close(1000, "");
    link.output_ready.notify();
  };
  co_await (session() && link.write_all());
  port->close();
}

}  // namespace ttynet::server
