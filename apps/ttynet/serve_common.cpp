#include "serve_common.hpp"

#include <asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

#include "ttynet/server/dnssd.hpp"
#include "ttynet/server/port_manager.hpp"

namespace ttynet::app {
namespace {

constexpr auto log_close_limit = std::chrono::seconds(1);

}  // namespace

int serve_ports(server::ServerConfig config, const ServePortsOptions& options) {
  server::AsyncLog async_log;
  asio::io_context io(1);
  std::optional<server::DnsSdPublisher> publisher;
  if (options.dns_sd) publisher.emplace(io.get_executor());
  server::PortManagerOptions manager_options;
  manager_options.on_started = [&](const server::ServedPort& port) {
    if (publisher) publisher->publish(port);
  };
  manager_options.on_stopped = [&](const server::ServedPort& port) {
    if (publisher) publisher->withdraw(port);
  };
  server::PortManager manager(io.get_executor(), std::move(config), std::move(manager_options));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::signal_set hangup(io, SIGHUP);
  signals.async_wait([&](std::error_code ec, int signal_number) {
    if (ec) return;
    spdlog::info("{}: shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    hangup.cancel();
    manager.stop();
  });
  std::function<void()> await_hangup = [&] {
    hangup.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      if (options.config_file.empty()) {
        spdlog::info("SIGHUP: no configuration file to read again");
        await_hangup();
        return;
      }
      auto reloaded = server::load_config(options.config_file);
      if (!reloaded) {
        spdlog::error("SIGHUP: keeping the running configuration: {}", reloaded.error().message);
      } else {
        spdlog::info("SIGHUP: reloading {}", options.config_file);
        manager.reload(std::move(*reloaded));
      }
      await_hangup();
    });
  };
  await_hangup();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await manager.run();
        if (publisher) publisher->stop();
        signals.cancel();
        hangup.cancel();
      },
      asio::detached);
  io.run();
  return finish(async_log, 0);
}

int finish(server::AsyncLog& log, int code) {
  if (!log.close(log_close_limit)) {
    std::fflush(stdout);
    std::_Exit(code);
  }
  return code;
}

CLI::Range client_limit_range() {
  return CLI::Range(std::uint32_t{0}, static_cast<std::uint32_t>(server::max_client_limit.count()));
}

CLI::Option* add_keepalive_option(CLI::App& command, std::uint32_t& seconds) {
  return command
      .add_option("--keepalive", seconds,
                  "Seconds until a client that vanished (or takes no data) is dropped and "
                  "its port freed: TCP keepalive and TCP_USER_TIMEOUT (0 = never)")
      ->capture_default_str()
      ->check(client_limit_range());
}

}  // namespace ttynet::app
