#include "ttynet/server/monitor.hpp"

#include <spdlog/spdlog.h>

#include <array>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ttynet/port/notifier.hpp"
#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t discard_buffer_size = 512;

}  // namespace

struct MonitorHub::Client {
  Client(port::NetStream s, PeerReporter r)
      : stream(std::move(s)), report(std::move(r)), queued(stream.get_executor()) {}

  void close() {
    stream.close();
    queued.notify();
  }

  port::NetStream stream;
  PeerReporter report;
  ByteBuffer queue;      // waiting for the next write
  ByteBuffer in_flight;  // the write in progress (at first, the scroll-back)
  port::Notifier queued;
  std::size_t dropped = 0;  // bytes lost in the current overflow
};

MonitorHub::MonitorHub(asio::any_io_executor executor, std::string port_name,
                       std::chrono::seconds keepalive, std::shared_ptr<Gate> gate,
                       std::shared_ptr<const Scrollback> scrollback, std::size_t queue_limit,
                       std::shared_ptr<PortStats> stats)
    : executor_(std::move(executor)),
      port_name_(std::move(port_name)),
      keepalive_(keepalive),
      gate_(std::move(gate)),
      scrollback_(std::move(scrollback)),
      queue_limit_(queue_limit),
      stats_(std::move(stats)) {}

std::vector<std::string> MonitorHub::peers() const {
  std::vector<std::string> peers;
  peers.reserve(clients_.size());
  for (const auto& client : clients_) peers.push_back(client->report.peer());
  return peers;
}

MaybeError MonitorHub::listen(const std::optional<std::string>& bind_address, std::uint16_t port) {
  auto listeners = open_listeners(executor_, bind_address, port);
  if (!listeners)
    return Error{listeners.error().code, "monitor port: " + listeners.error().message};
  acceptors_ = std::move(*listeners);
  for (const auto& endpoint : local_endpoints()) {
    log().info("port {}: monitors on {} (read-only)", port_name_, describe_endpoint(endpoint));
  }
  return std::nullopt;
}

std::vector<asio::ip::tcp::endpoint> MonitorHub::local_endpoints() const {
  return server::local_endpoints(acceptors_);
}

void MonitorHub::start() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(executor_, accept_monitors(acceptor), asio::detached);
  }
}

void MonitorHub::stop() {
  is_stopping_ = true;
  for (auto& acceptor : acceptors_) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  for (auto& client : clients_) client->close();
}

void MonitorHub::broadcast(ByteView data) {
  for (auto& client : clients_) {
    const std::size_t room = queue_limit_ - std::min(queue_limit_, client->queue.size());
    const std::size_t taken = std::min(room, data.size());
    client->queue.insert(client->queue.end(), data.begin(), data.begin() + taken);
    if (taken < data.size()) {
      if (client->dropped == 0) {
        client->report(spdlog::level::warn, " is too slow: dropping device output");
      }
      client->dropped += data.size() - taken;
    }
    if (taken > 0) client->queued.notify();
  }
}

asio::awaitable<void> MonitorHub::accept_monitors(asio::ip::tcp::acceptor& acceptor) {
  auto self = shared_from_this();
  while (!is_stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(as_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || is_stopping_) co_return;
      log().warn("port {}: monitor accept failed: {}", port_name_, ec.message());
      continue;
    }
    if (gate_->passes_rules(socket)) {
      asio::co_spawn(executor_, admit(std::move(socket)), asio::detached);
    }
  }
}

asio::awaitable<void> MonitorHub::admit(asio::ip::tcp::socket socket) {
  auto self = shared_from_this();
  auto admitted = co_await gate_->admit(std::move(socket));
  // Either permission may watch.
  if (admitted) adopt(std::move(admitted->stream));
}

void MonitorHub::adopt(port::NetStream stream) {
  if (is_stopping_) {
    stream.close();
    return;
  }
  PeerReporter report(port_name_, "monitor", describe_peer(stream.socket()));
  auto client = std::make_shared<Client>(std::move(stream), std::move(report));
  if (auto failed = configure_client_socket(client->stream.socket(), keepalive_)) {
    client->report(spdlog::level::warn, fmt::format(": keepalive not set: {}", failed.message()));
  }
  // The first write; the scroll-back has its own bound, and live output queues behind it.
  if (scrollback_) client->in_flight = scrollback_->last(scrollback_->capacity());
  clients_.push_back(client);
  asio::co_spawn(executor_, serve(std::move(client)), asio::detached);
}

asio::awaitable<void> MonitorHub::serve(std::shared_ptr<Client> client) {
  auto self = shared_from_this();
  if (stats_) ++stats_->connects;
  client->report(spdlog::level::info, " connected");
  co_await (write_queue(client) || discard_input(client));
  client->close();
  clients_.remove(client);
  client->report(spdlog::level::info, " disconnected");
}

asio::awaitable<void> MonitorHub::write_queue(std::shared_ptr<Client> client) {
  for (;;) {
    if (client->in_flight.empty()) {  // else the scroll-back goes first
      while (client->queue.empty() && client->stream.is_open()) co_await client->queued.wait();
      std::swap(client->queue, client->in_flight);
      client->queue.clear();
    }
    if (!client->stream.is_open()) co_return;
    auto [ec, n] =
        co_await asio::async_write(client->stream, asio::buffer(client->in_flight), as_tuple);
    client->in_flight.clear();
    if (ec) {
      client->report.connection_lost(ec, client->stream.is_open());
      co_return;
    }
    // One line per episode: said when the monitor has room again, not at every write.
    if (client->dropped > 0 && client->queue.size() < queue_limit_ / 2) {
      client->report(spdlog::level::info,
                     fmt::format(" is keeping up again; {} bytes of device output were dropped",
                                 client->dropped));
      client->dropped = 0;
    }
  }
}

asio::awaitable<void> MonitorHub::discard_input(std::shared_ptr<Client> client) {
  std::array<std::uint8_t, discard_buffer_size> buffer{};
  for (;;) {
    auto [ec, n] = co_await client->stream.async_read_some(asio::buffer(buffer), as_tuple);
    if (ec) {
      if (ec != asio::error::eof) client->report.connection_lost(ec, client->stream.is_open());
      co_return;
    }
  }
}

}  // namespace ttynet::server
