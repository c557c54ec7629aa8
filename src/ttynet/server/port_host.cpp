#include "ttynet/server/port_host.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/device_pump.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/version.hpp"

namespace ttynet::server {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

PortHost::PortHost(asio::any_io_executor executor, PortHostConfig config)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      session_ended_(executor_),
      reopen_timer_(executor_) {
  if (config_.name.empty()) config_.name = config_.device_url;
  gate_ = std::make_shared<Gate>(executor_, config_.name, config_.security, stats_);
  // Kept only where someone may get it: without a scroll-back asked for, only monitors and
  // browser terminals do, and a port has monitors only with a monitor listener or identities
  // (a monitor identity).
  const bool may_have_monitors =
      config_.monitor_port.has_value() || config_.directory != nullptr ||
      (config_.security && config_.security->identities && !config_.security->identities->empty());
  const std::size_t kept = config_.sharing.scrollback.has_value() || may_have_monitors
                               ? config_.sharing.for_monitors()
                               : 0;
  if (kept > 0) scrollback_ = std::make_shared<Scrollback>(kept);
  if (config_.sharing.max_clients > 1) lease_ = std::make_shared<DeviceLease>(executor_);
}

PortHost::~PortHost() {
  if (config_.directory) config_.directory->remove(*this);
}

asio::awaitable<MaybeError> PortHost::start() {
  auto opened = co_await port::open_port(executor_, config_.device_url,
                                         {.initial_settings = config_.initial_settings});
  if (!opened) co_return opened.error();
  port_ = std::move(*opened);
  is_device_up_ = true;
  auto listeners = open_listeners(executor_, config_.bind_address, config_.tcp_port);
  if (!listeners) {
    close_device();
    co_return listeners.error();
  }
  acceptors_ = std::move(*listeners);
  if (config_.monitor_port) {
    monitor_hub();
    if (auto error = monitors_->listen(config_.bind_address, *config_.monitor_port)) {
      monitors_.reset();
      acceptors_.clear();
      close_device();
      co_return error;
    }
  }
  // A port named after its device (`serve DEVICE`) would say the device twice.
  const std::string named =
      config_.name == config_.device_url ? "" : fmt::format("port {}: ", config_.name);
  warn_if_open_to_all();
  if (config_.directory) config_.directory->add(*this);
  for (const auto& endpoint : local_endpoints()) {
    log().info("{}serving {} on {} ({}{}, {})", named, port::describe(port_->info()),
               describe_endpoint(endpoint),
               config_.protocol == Protocol::raw ? "raw TCP" : "RFC 2217",
               gate_->is_tls() ? " over TLS" : "", to_string(port_->settings()));
  }
  co_return std::nullopt;
}

void PortHost::warn_if_open_to_all() const {
  if (const auto endpoint = gate_->open_to_all(local_endpoints())) {
    log().warn(
        "port {}: listening on {} without TLS or an allow list: anyone who can reach it can "
        "control {} (see \"Securing ports\" in the README)",
        config_.name, describe_endpoint(*endpoint), config_.device_url);
  }
}

std::shared_ptr<MonitorHub> PortHost::monitor_hub() {
  if (!monitors_) {
    monitors_ =
        std::make_shared<MonitorHub>(executor_, config_.name, config_.clients.keepalive, gate_,
                                     scrollback_, MonitorHub::default_queue_limit, stats_);
  }
  return monitors_;
}

std::vector<asio::ip::tcp::endpoint> PortHost::local_endpoints() const {
  return server::local_endpoints(acceptors_);
}

PortStatus PortHost::status() const {
  PortStatus status{.name = config_.name,
                    .device = config_.device_url,
                    .identity = config_.identity,
                    .protocol = config_.protocol,
                    .monitor_port = config_.monitor_port,
                    .is_esp = config_.esp_reset.has_value(),
                    .max_clients = config_.sharing.max_clients,
                    .stats = *stats_};
  for (const auto& endpoint : local_endpoints()) {
    if (std::find(status.tcp_ports.begin(), status.tcp_ports.end(), endpoint.port()) ==
        status.tcp_ports.end()) {
      status.tcp_ports.push_back(endpoint.port());
    }
  }
  if (port_ && is_device_up_) {
    status.settings = port_->settings();
    status.lines = port_->control_lines();
  }
  for (const auto& controller : controllers_) {
    status.clients.push_back({controller->peer(), ClientRole::controller});
  }
  for (const auto& reader : readers_)
    status.clients.push_back({reader->peer(), ClientRole::read_only});
  if (monitors_) {
    for (auto& peer : monitors_->peers())
      status.clients.push_back({std::move(peer), ClientRole::monitor});
  }
  if (!is_device_up_) {
    status.state = PortStatus::State::device_missing;
  } else if (!controllers_.empty()) {
    status.state = PortStatus::State::in_use;
  }
  return status;
}

std::optional<ClientRole> PortHost::attach_browser(port::NetStream stream,
                                                   const std::string& peer) {
  if (is_stopping_ || !is_device_up_) {
    ++stats_->refusals[Refusal::device_missing];
    stream.close();
    return std::nullopt;
  }
  // Always RFC 2217, whatever the listeners speak: the settings and resets travel in it.
  SessionConfig config = session_config();
  config.protocol = Protocol::rfc2217;
  config.peer_label = fmt::format("browser {}", peer);
  const ByteBuffer earlier = earlier_output(config_.sharing.for_monitors());
  if (controllers_.size() >= config_.sharing.max_clients) {
    config.read_only = true;
    config.esp_reset.reset();
    config.lease.reset();
    auto reader = std::make_shared<Session>(std::move(stream), *port_, config);
    reader->start_with(earlier);
    asio::co_spawn(executor_, serve_reader(std::move(reader)), asio::detached);
    return ClientRole::read_only;
  }
  auto session = std::make_shared<Session>(std::move(stream), *port_, config);
  session->start_with(earlier);
  if (controllers_.empty()) found_by_first_ = device_state(*port_);
  controllers_.push_back(session);
  asio::co_spawn(executor_, serve_client(std::move(session)), asio::detached);
  return ClientRole::controller;
}

asio::awaitable<void> PortHost::run() {
  if (monitors_) monitors_->start();
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(executor_, accept_clients(acceptor), asio::detached);
  }
  while (!is_stopping_) {
    if (!port_) {
      co_await reopen_device();
      continue;
    }
    co_await pump_device();
    is_device_up_ = false;
    if (!is_stopping_) {
      log().warn("port {}: device {} is gone; waiting for it to come back", config_.name,
                 config_.device_url);
      ++stats_->device_losses;
      stats_->last_error = fmt::format("device {} disconnected", config_.device_url);
      port_->close();
      const std::string gone = fmt::format("device {} disconnected", config_.device_url);
      for (const auto& reader : std::list(readers_)) co_await reader->close_with_message(gone);
      for (const auto& controller : std::list(controllers_)) {
        controller->device_lost();
        co_await controller->close_with_message(gone);
      }
    }
    // The sessions hold the device: they end before it goes.
    while (!controllers_.empty() || !readers_.empty()) co_await session_ended_.wait();
    port_.reset();
  }
  co_await gate_->close();
}

void PortHost::stop(std::string_view reason) {
  if (is_stopping_) return;
  is_stopping_ = true;
  for (auto& acceptor : acceptors_) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  reopen_timer_.cancel();
  if (monitors_) monitors_->stop();
  for (const auto& reader : readers_) reader->close();
  if (controllers_.empty()) {
    close_device();
    return;
  }
  // serve_client restores the device once the last session has ended, then closes it.
  for (const auto& controller : controllers_) {
    if (reason.empty()) {
      controller->close();
      continue;
    }
    asio::co_spawn(
        executor_,
        [controller, line = std::string(reason)]() -> asio::awaitable<void> {
          co_await controller->close_with_message(line);
        },
        asio::detached);
  }
}

void PortHost::close_device() {
  if (port_) port_->close();
}

SessionConfig PortHost::session_config() const {
  SessionConfig config;
  config.protocol = config_.protocol;
  config.port_name = config_.name;
  config.signature = fmt::format("ttynet {} {}", version, port::describe(port_->info()));
  config.esp_reset = config_.esp_reset;
  config.clients = config_.clients;
  config.lease = lease_;
  config.stats = stats_;
  return config;
}

asio::awaitable<void> PortHost::accept_clients(asio::ip::tcp::acceptor& acceptor) {
  asio::steady_timer backoff(executor_);  // its own: reopen_timer_ belongs to the device loop
  while (!is_stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(as_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || is_stopping_) co_return;
      log().warn("port {}: accept failed: {}", config_.name, ec.message());
      // Out of file descriptors and the like: give the system a moment instead of spinning.
      backoff.expires_after(config_.reopen_interval);
      co_await backoff.async_wait(as_tuple);
      continue;
    }
    if (gate_->passes_rules(socket)) {
      asio::co_spawn(executor_, admit_client(std::move(socket)), asio::detached);
    }
  }
}

asio::awaitable<void> PortHost::admit_client(asio::ip::tcp::socket socket) {
  auto admitted = co_await gate_->admit(std::move(socket));
  if (!admitted) co_return;
  if (is_stopping_) {
    admitted->stream.close();
    co_return;
  }
  const bool is_monitor = admitted->permission == Permission::monitor;
  if (is_monitor && config_.protocol == Protocol::raw) {
    monitor_hub()->adopt(std::move(admitted->stream));
    co_return;
  }
  if (!is_device_up_) {
    ++stats_->refusals[Refusal::device_missing];
    refuse_client(std::move(admitted->stream), config_.name,
                  fmt::format("device {} is not available", config_.device_url));
    co_return;
  }
  if (is_monitor) {
    SessionConfig config = session_config();
    config.read_only = true;
    config.esp_reset.reset();
    config.lease.reset();
    auto reader = std::make_shared<Session>(std::move(admitted->stream), *port_, config);
    reader->start_with(earlier_output(config_.sharing.for_monitors()));
    co_await serve_reader(std::move(reader));
    co_return;
  }
  if (controllers_.size() >= config_.sharing.max_clients) {
    const auto replaced = takeover_candidate();
    if (!replaced) {
      ++stats_->refusals[Refusal::in_use];
      refuse_client(
          std::move(admitted->stream), config_.name,
          fmt::format("{} is in use by {}", config_.device_url, controllers_.front()->peer()));
      co_return;
    }
    co_await take_over(replaced, describe_peer(admitted->stream.socket()));
    // Meanwhile the port may have stopped, lost its device, or filled up again.
    if (is_stopping_ || !is_device_up_ || controllers_.size() >= config_.sharing.max_clients) {
      ++stats_->refusals[Refusal::in_use];
      refuse_client(std::move(admitted->stream), config_.name,
                    fmt::format("{} is not available", config_.device_url));
      co_return;
    }
  }
  auto session = std::make_shared<Session>(std::move(admitted->stream), *port_, session_config());
  session->start_with(earlier_output(config_.sharing.for_controllers()));
  if (controllers_.empty()) found_by_first_ = device_state(*port_);
  controllers_.push_back(session);
  co_await serve_client(std::move(session));
}

std::shared_ptr<Session> PortHost::takeover_candidate() const {
  if (config_.sharing.takeover == Takeover::never || controllers_.empty()) return nullptr;
  const auto idlest =
      std::max_element(controllers_.begin(), controllers_.end(),
                       [](const auto& a, const auto& b) { return a->idle_for() < b->idle_for(); });
  if (config_.sharing.takeover == Takeover::idle &&
      (*idlest)->idle_for() < config_.sharing.takeover_idle) {
    return nullptr;
  }
  return *idlest;
}

asio::awaitable<void> PortHost::take_over(std::shared_ptr<Session> replaced,
                                          const std::string& newcomer) {
  replaced->report()(
      spdlog::level::info,
      fmt::format(": taken over by {} after {} s without input", newcomer,
                  std::chrono::duration_cast<std::chrono::seconds>(replaced->idle_for()).count()));
  co_await replaced->close_with_message(
      fmt::format("{} was taken over by {}", config_.name, newcomer));
  // serve_client restores the device and lets go of the session.
  while (std::find(controllers_.begin(), controllers_.end(), replaced) != controllers_.end()) {
    co_await session_ended_.wait();
  }
}

ByteBuffer PortHost::earlier_output(std::size_t n) const {
  return scrollback_ ? scrollback_->last(n) : ByteBuffer{};
}

asio::awaitable<void> PortHost::serve_client(std::shared_ptr<Session> session) {
  ++stats_->connects;
  session->report()(spdlog::level::info, " connected");
  co_await session->run();
  session->report()(spdlog::level::info, " disconnected");
  // The last controller puts the device back as the first found it; while others remain,
  // the device is theirs as it is.
  const bool is_last = controllers_.size() == 1;
  if (is_last && is_device_up_) co_await session->restore_device(found_by_first_);
  controllers_.remove(session);
  session_ended_.notify();
  if (is_stopping_ && controllers_.empty()) close_device();
}

asio::awaitable<void> PortHost::serve_reader(std::shared_ptr<Session> reader) {
  readers_.push_back(reader);
  ++stats_->connects;
  reader->report()(spdlog::level::info, " connected (read-only)");
  co_await reader->run();
  reader->report()(spdlog::level::info, " disconnected");
  readers_.remove(reader);
  session_ended_.notify();
}

asio::awaitable<void> PortHost::pump_device() {
  const auto ec =
      co_await pump_device_output(*port_, [this](ByteView data) -> asio::awaitable<void> {
        stats_->bytes_from_device += data.size();
        if (scrollback_) scrollback_->append(data);
        if (monitors_) monitors_->broadcast(data);
        for (const auto& reader : readers_) reader->offer_from_device(data);
        // Each controller takes the data in turn; the slowest sets the pace, as in ser2net.
        // A copy, as controllers come and go meanwhile; reused, so a read allocates nothing.
        delivering_.assign(controllers_.begin(), controllers_.end());
        for (const auto& controller : delivering_) co_await controller->from_device(data);
        delivering_.clear();
      });
  if (!is_stopping_) log().debug("port {}: device read ended: {}", config_.name, ec.message());
}

asio::awaitable<void> PortHost::reopen_device() {
  if (is_stopping_) co_return;  // stop() came before the timer was armed: nothing to cancel
  reopen_timer_.expires_after(config_.reopen_interval);
  co_await reopen_timer_.async_wait(as_tuple);
  if (is_stopping_) co_return;
  auto opened = co_await port::open_port(executor_, config_.device_url,
                                         {.initial_settings = config_.initial_settings});
  if (!opened) {
    log().debug("port {}: device still unavailable: {}", config_.name, opened.error().message);
    stats_->last_error = opened.error().message;
    co_return;
  }
  port_ = std::move(*opened);
  is_device_up_ = true;
  log().info("port {}: device {} is back", config_.name, port::describe(port_->info()));
}

}  // namespace ttynet::server
