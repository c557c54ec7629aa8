// `ttynet term`: an interactive terminal on any port URL, or a pipe to it.

#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "ttynet/term/terminal.hpp"

namespace ttynet::app {
namespace {

struct TermOptions {
  std::string url;
  std::uint32_t baud = 115200;
  std::optional<int> dtr;
  std::optional<int> rts;
  bool echo = false;
  double drain_seconds = 0.5;
  int verbosity = 0;
};

constexpr const char* term_help_footer = R"(
Interactive mode (standard input is a terminal): the terminal is switched to raw mode and
restored at exit. Keys are sent to the port as typed (Enter sends CR, no translation);
port output is shown as received.
  Ctrl-]          quit
  Ctrl-T d        DTR on/off             Ctrl-T r   RTS on/off
  Ctrl-T b        send BREAK (0.25 s)    Ctrl-T B   change the baud rate
  Ctrl-T h        hex view on/off        Ctrl-T t   timestamps on/off
  Ctrl-T l        log port output to a file on/off (default name ttynet-term.log)
  Ctrl-T e        ESP reset into the application (DTR off, RTS on for 0.1 s)
  Ctrl-T s        status: port, settings, DTR/RTS, modem lines
  Ctrl-T ?        help
  Ctrl-T Ctrl-T   send Ctrl-T         Ctrl-T Ctrl-]  send Ctrl-]

Pipe mode (standard input is not a terminal): standard input goes to the port and port
output to standard output, with no menu and no banner. At the end of the input the port is
flushed and its output copied until it has been quiet for --drain seconds; then exit 0.

Exit status: 0 on quit, end of input or SIGINT/SIGTERM; 1 when the port cannot be opened
or fails (one line on stderr).)";

int run_term(const TermOptions& options) {
  configure_logging(options.verbosity);
  // The terminal's screen is the user's: without -v only warnings and errors join it.
  if (options.verbosity == 0) spdlog::set_level(spdlog::level::warn);
  term::TerminalConfig config;
  config.url = options.url;
  config.settings.baud = options.baud;
  if (options.dtr) config.dtr = *options.dtr != 0;
  if (options.rts) config.rts = *options.rts != 0;
  config.local_echo = options.echo;
  config.drain_time = std::chrono::milliseconds(static_cast<long>(options.drain_seconds * 1000));
  const auto result = term::run_terminal(config);
  if (result.exit_code != 0) print_error(result.error);
  return result.exit_code;
}

}  // namespace

void add_term_command(CLI::App& app) {
  auto options = std::make_shared<TermOptions>();
  auto* term = app.add_subcommand(
      "term", "Serial terminal on a port (like pyserial-miniterm); exit Ctrl-], menu Ctrl-T");
  term->footer(term_help_footer);
  term->add_option("URL", options->url,
                   "Port: a device path, rfc2217://HOST:PORT, socket://HOST:PORT, their "
                   "+tls forms (rfc2217+tls://...), loop://, sim://esp32, ...")
      ->required();
  term->add_option("-b,--baud", options->baud, "Baud rate, applied at open")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100'000'000u));
  term->add_option("--dtr", options->dtr, "DTR after open (default: as the port opens)")
      ->check(CLI::IsMember({0, 1}));
  term->add_option("--rts", options->rts, "RTS after open (default: as the port opens)")
      ->check(CLI::IsMember({0, 1}));
  term->add_flag("--echo", options->echo, "Show typed keys too (interactive mode)");
  term->add_option("--drain", options->drain_seconds,
                   "Pipe mode: quiet time on the port, after the end of input, before exiting")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  term->add_flag("-v,--verbose", options->verbosity, "More log output (repeatable)");
  term->callback([options] { exit_code() = run_term(*options); });
}

}  // namespace ttynet::app
