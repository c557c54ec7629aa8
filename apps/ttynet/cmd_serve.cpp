// `ttynet serve`: export one port over RFC 2217 or raw TCP.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "ttynet/server/port_host.hpp"

namespace ttynet::app {
namespace {

struct ServeOptions {
  std::string device;
  std::uint16_t tcp_port = 2217;
  std::string bind;
  bool raw = false;
  std::uint32_t baud = 115200;
  int verbosity = 0;
};

int run_serve(const ServeOptions& options) {
  configure_logging(options.verbosity);
  asio::io_context io(1);
  server::PortHostConfig config;
  config.device_url = options.device;
  config.tcp_port = options.tcp_port;
  if (!options.bind.empty()) config.bind_address = options.bind;
  config.protocol = options.raw ? server::Protocol::raw : server::Protocol::rfc2217;
  LineSettings initial;
  initial.baud = options.baud;
  config.initial_settings = initial;

  server::PortHost host(io.get_executor(), config);
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
          print_error(*error);
          code = 1;
        } else {
          co_await host.run();
        }
        signals.cancel();
      },
      asio::detached);
  io.run();
  return code;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand("serve", "Export a serial port over RFC 2217 or raw TCP");
  serve
      ->add_option("DEVICE", options->device,
                   "Port to export: a device path, loop://, or another port URL")
      ->required();
  serve->add_option("-p,--port", options->tcp_port, "TCP port to listen on (0 = any free port)")
      ->capture_default_str();
  serve->add_option("--bind", options->bind,
                    "Address to listen on (default: all interfaces, IPv4 and IPv6)");
  serve->add_flag("--raw", options->raw, "Raw TCP instead of RFC 2217 (bytes pass untouched)");
  serve->add_option("-b,--baud", options->baud, "Initial baud rate")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100'000'000u));
  serve->add_flag("-v,--verbose", options->verbosity, "More log output (repeatable)");
  serve->callback([options] { exit_code() = run_serve(*options); });
}

}  // namespace ttynet::app
