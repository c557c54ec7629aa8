#pragma once
// What `ttynet serve` and `ttynet forward` share: a host served until SIGINT or SIGTERM, the
// end of a run with the asynchronous log, and the client limit options.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "ttynet/server/config.hpp"
#include "ttynet/server/http_host.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/server/options.hpp"

namespace ttynet::app {

// Ends a server run: a log sink that stays blocked (nobody reads its pipe) must not keep the
// process alive, and its writer thread cannot be joined, so the process ends at once.
int finish(server::AsyncLog& log, int code);

// Runs `host` (PortHost or forward::ForwardHost) on `io`: start(), then run() until SIGINT or
// SIGTERM calls stop(); the dashboard, when given, beside it. The exit code: 1 when start()
// failed (its message printed), else 0.
template <typename Host>
int serve_until_signalled(asio::io_context& io, Host& host, server::HttpHost* dashboard = nullptr) {
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int code = 0;
  signals.async_wait([&](std::error_code ec, int signal_number) {
    if (ec) return;
    spdlog::info("{}: shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    host.stop();
  });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if (auto error = co_await host.start()) {
          print_error(error->message);
          code = 1;
        } else {
          if (dashboard != nullptr) asio::co_spawn(io, dashboard->run(), asio::detached);
          co_await host.run();
        }
        if (dashboard != nullptr) dashboard->stop();
        signals.cancel();
      },
      asio::detached);
  io.run();
  return code;
}

struct ServePortsOptions {
  std::string config_file{};                 // read again on SIGHUP; empty: SIGHUP changes nothing
  bool dns_sd = false;                       // announce the ports through avahi-daemon
  std::optional<server::HttpListen> http{};  // --http; nothing: [http] of the config, if any
};
// Serves the ports of `config` (PortManager) until SIGINT or SIGTERM; logging is set up
// already. The exit code.
int serve_ports(server::ServerConfig config, const ServePortsOptions& options);

// The dashboard, listening already (nothing: it could not, and the error is printed). Its
// ports join `directory`.
std::unique_ptr<server::HttpHost> open_dashboard(asio::io_context& io,
                                                 const server::HttpOptions& options,
                                                 std::shared_ptr<server::PortDirectory> directory);
// `--http ADDR:PORT`, checked as it is parsed.
CLI::Option* add_http_option(CLI::App& command, std::optional<server::HttpListen>& listen);

// --keepalive and --idle-timeout take seconds up to server::max_client_limit.
CLI::Range client_limit_range();
inline constexpr std::uint32_t default_keepalive_seconds =
    static_cast<std::uint32_t>(server::ClientLimits{}.keepalive.count());
// --keepalive SECONDS (default: default_keepalive_seconds).
CLI::Option* add_keepalive_option(CLI::App& command, std::uint32_t& seconds);

}  // namespace ttynet::app
