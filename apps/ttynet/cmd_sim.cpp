// `ttynet sim`: a simulated Espressif chip on a pseudo-terminal (port/sim_pty.hpp), for tools
// that open a local serial port (esptool.py --port LINK, pyserial, a terminal).

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "ttynet/port/sim_port.hpp"
#include "ttynet/port/sim_pty.hpp"
#include "ttynet/port/url.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::app {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

struct SimOptions {
  std::string chip = "esp32";
  std::string link;
  std::string flash_file;
  std::string flash_size;
  std::string mac;
  bool pace = false;
  int verbosity = 0;
};

// The sim:// URL these flags stand for.
Result<port::PortUrl, Error> sim_url(const SimOptions& options) {
  std::vector<port::UrlOption> url_options;
  if (!options.flash_size.empty()) url_options.push_back({"flash_size", options.flash_size});
  if (!options.flash_file.empty()) url_options.push_back({"flash_file", options.flash_file});
  if (!options.mac.empty()) url_options.push_back({"mac", options.mac});
  if (options.pace) url_options.push_back({"pace", "1"});
  return port::make_port_url("sim", options.chip, url_options);
}

int run_sim(const SimOptions& options) {
  configure_logging(options.verbosity);
  auto url = sim_url(options);
  if (!url) {
    print_error(url.error().message);
    return 1;
  }
  asio::io_context io(1);
  auto opened = port::SimPort::open(io.get_executor(), *url);
  if (!opened) {
    print_error(opened.error().message);
    return 1;
  }
  std::unique_ptr<port::SimPort> sim = std::move(*opened);
  auto pty = port::SimPty::open(io, *sim, options.link);
  if (!pty) {
    print_error(pty.error().message);
    return 1;
  }
  spdlog::info("simulated {} on {} (linked as {}); ROM download mode: a pty has no DTR/RTS",
               options.chip, (*pty)->slave_path(), options.link);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await ((*pty)->run() || [&]() -> asio::awaitable<void> {
          auto [ec, signal_number] = co_await signals.async_wait(as_tuple);
          if (!ec) {
            spdlog::info("{}: shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
          }
        }());
        sim->close();  // writes back the flash file
      },
      asio::detached);
  io.run();
  return 0;
}

}  // namespace

void add_sim_command(CLI::App& app) {
  auto options = std::make_shared<SimOptions>();
  auto* sim = app.add_subcommand(
      "sim",
      "A simulated Espressif chip on a pseudo-terminal. A pty has no DTR/RTS, so the chip "
      "starts in ROM download mode and stays there (esptool warns that it was NOT reset and "
      "goes on); it restarts into download mode whenever the last program closes the pty. "
      "For reset over DTR/RTS use `ttynet serve sim://CHIP` instead.");
  sim->add_option("--chip", options->chip, "Chip to simulate")
      ->capture_default_str()
      ->check(CLI::IsMember({"esp32", "esp32c3", "esp32s3"}));
  sim->add_option("--pty", options->link,
                  "Symlink to create to the pty's slave (replaces a stale link; removed at exit)")
      ->required();
  sim->add_option("--flash-file", options->flash_file,
                  "Keep the flash contents in this file (created erased when missing or of "
                  "another size)");
  sim->add_option("--flash-size", options->flash_size, "Flash size (default 4MB)")
      ->check(CLI::IsMember({"1MB", "2MB", "4MB", "8MB", "16MB"}));
  sim->add_option("--mac", options->mac, "Base MAC address, aa:bb:cc:dd:ee:ff");
  sim->add_flag("--pace", options->pace,
                "A chip strict in time: bytes take the time the UART's baud rate implies, "
                "flash work the time a real flash takes");
  sim->add_flag("-v,--verbose", options->verbosity, "More log output (repeatable)");
  sim->callback([options] { exit_code() = run_sim(*options); });
}

}  // namespace ttynet::app
