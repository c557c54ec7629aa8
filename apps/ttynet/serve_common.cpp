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

std::unique_ptr<server::HttpHost> open_dashboard(asio::io_context& io,
                                                 const server::HttpOptions& options,
                                                 std::shared_ptr<server::PortDirectory> directory) {
  auto security = server::make_port_security(options.security, {}, "the dashboard");
  if (!security) {
    print_error(security.error().message);
    return nullptr;
  }
  auto dashboard = std::make_unique<server::HttpHost>(
      io.get_executor(), server::HttpHostConfig{.bind_address = options.listen.bind_address,
                                                .tcp_port = options.listen.tcp_port,
                                                .security = std::move(*security),
                                                .directory = std::move(directory)});
  if (auto error = dashboard->start()) {
    print_error(fmt::format("the dashboard: {}", error->message));
    return nullptr;
  }
  return dashboard;
}

CLI::Option* add_http_option(CLI::App& command, std::optional<server::HttpListen>& listen) {
  return command
      .add_option_function<std::string>(
          "--http",
          [&listen](const std::string& text) {
            listen = server::parse_http_listen(text);
            if (!listen) throw CLI::ValidationError("--http", "give PORT, ADDRESS:PORT or *:PORT");
          },
          "Serve the web dashboard, browser terminals, /api/ports and /metrics here: PORT (on "
          "loopback), ADDRESS:PORT, or *:PORT for all interfaces")
      ->type_name("ADDR:PORT");
}

int serve_ports(server::ServerConfig config, const ServePortsOptions& options) {
  server::AsyncLog async_log;
  asio::io_context io(1);
  std::shared_ptr<server::PortDirectory> directory;
  std::unique_ptr<server::HttpHost> dashboard;
  // --http overrides [http]'s address, and keeps its TLS and access rules.
  std::optional<server::HttpOptions> http = config.http;
  if (options.http) {
    if (!http) http.emplace();
    http->listen = *options.http;
  }
  if (http) {
    directory = std::make_shared<server::PortDirectory>();
    dashboard = open_dashboard(io, *http, directory);
    if (!dashboard) return finish(async_log, 1);
  }
  std::optional<server::DnsSdPublisher> publisher;
  if (options.dns_sd) publisher.emplace(io.get_executor());
  server::PortManagerOptions manager_options;
  manager_options.directory = directory;
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
    if (dashboard) dashboard->stop();
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
  if (dashboard) asio::co_spawn(io, dashboard->run(), asio::detached);
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
