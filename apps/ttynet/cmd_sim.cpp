// `ttynet sim`: a simulated Espressif chip on a pseudo-terminal, for tools that open a local
// serial port (esptool.py --port LINK, pyserial, a terminal).
//
// A pty carries no DTR/RTS, so the chip starts in the ROM's download mode and stays there:
// no reset reaches it. When the last program holding the pty closes it, the chip restarts
// into download mode, so that the next one finds the ROM loader and not a stub left running.
// The host's baud rate cannot be read back from the pty with every change, so it follows
// the chip's UART (a CHANGE_BAUDRATE never garbles bytes here, unlike over sim:// URLs).

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "ttynet/port/sim_port.hpp"
#include "ttynet/port/url.hpp"
#include "ttynet/util/error.hpp"

namespace ttynet::app {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// After the host closed the pty, reads fail until the next one opens it: look again this often.
constexpr auto hangup_retry = std::chrono::milliseconds(100);
constexpr std::size_t bridge_chunk = 4096;

// EIO on the master: no program has the slave open (any more).
bool is_hangup(const std::error_code& ec) {
  return ec == std::error_code(EIO, asio::error::get_system_category());
}

struct SimOptions {
  std::string chip = "esp32";
  std::string link;
  std::string flash_file;
  std::string flash_size;
  std::string mac;
  bool pace = false;
  int verbosity = 0;
};

// %-escapes everything but unreserved characters and '/', for a value inside a port URL.
std::string url_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string sim_url(const SimOptions& options) {
  std::string query;
  const auto add = [&](std::string_view name, std::string_view value) {
    query += query.empty() ? "?" : "&";
    query += fmt::format("{}={}", name, url_escape(value));
  };
  if (!options.flash_size.empty()) add("flash_size", options.flash_size);
  if (!options.flash_file.empty()) add("flash_file", options.flash_file);
  if (!options.mac.empty()) add("mac", options.mac);
  if (options.pace) add("pace", "1");
  return fmt::format("sim://{}{}", options.chip, query);
}

// The master of a new pty pair, its slave set to raw 8N1 (the setting outlives the open).
struct Pty {
  int master = -1;
  std::string slave_path;
};

// The errno of a failed call and the sentence for it.
Error system_error(int error, std::string message) {
  return {std::error_code(error, std::generic_category()), std::move(message)};
}

Result<Pty, Error> open_pty() {
  Pty pty;
  pty.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (pty.master < 0) {
    const int error = errno;
    return system_error(error,
                        fmt::format("cannot create a pseudo-terminal: {}", std::strerror(error)));
  }
  std::array<char, 128> name{};
  if (::grantpt(pty.master) != 0 || ::unlockpt(pty.master) != 0 ||
      ::ptsname_r(pty.master, name.data(), name.size()) != 0) {
    const int error = errno;
    ::close(pty.master);
    return system_error(error,
                        fmt::format("cannot set up the pseudo-terminal: {}", std::strerror(error)));
  }
  pty.slave_path = name.data();
  const int slave = ::open(pty.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave >= 0) {
    termios mode{};
    if (::tcgetattr(slave, &mode) == 0) {
      ::cfmakeraw(&mode);
      ::cfsetspeed(&mode, B115200);
      ::tcsetattr(slave, TCSANOW, &mode);
    }
    ::close(slave);
  }
  return pty;
}

// Points `link` at `target`; a stale symlink is replaced, anything else is left alone.
MaybeError make_link(const std::string& link, const std::string& target) {
  struct stat status {};
  if (::lstat(link.c_str(), &status) == 0) {
    if (!S_ISLNK(status.st_mode)) {
      return make_error(std::errc::file_exists,
                        fmt::format("{} exists and is not a symlink; not replacing it", link));
    }
    ::unlink(link.c_str());
  }
  if (::symlink(target.c_str(), link.c_str()) != 0) {
    const int error = errno;
    return system_error(
        error, fmt::format("cannot link {} to {}: {}", link, target, std::strerror(error)));
  }
  return std::nullopt;
}

class Bridge {
 public:
  Bridge(asio::io_context& io, int master, port::SimPort& sim)
      : master_(io, master), sim_(sim), retry_(io) {}

  // Host -> chip: what the host writes on the slave side arrives on the master.
  asio::awaitable<void> host_to_chip() {
    std::array<Byte, bridge_chunk> buffer{};
    for (;;) {
      auto [ec, n] = co_await master_.async_read_some(asio::buffer(buffer), as_tuple);
      if (!ec) {
        is_hung_up_ = false;
        co_await follow_chip_baud();
        if (co_await sim_.write(ByteView(buffer).first(n))) co_return;
        continue;
      }
      if (!is_hangup(ec)) {
        if (ec != asio::error::operation_aborted)
          spdlog::error("pty read failed: {}", ec.message());
        co_return;
      }
      if (!is_hung_up_) {
        is_hung_up_ = true;
        spdlog::debug("the host closed the pty; the chip restarts in download mode");
        sim_.restart_chip();
      }
      retry_.expires_after(hangup_retry);
      auto [wait_ec] = co_await retry_.async_wait(as_tuple);
      if (wait_ec) co_return;
    }
  }

  // Chip -> host.
  asio::awaitable<void> chip_to_host() {
    std::array<Byte, bridge_chunk> buffer{};
    for (;;) {
      auto [ec, n] = co_await sim_.read_some(buffer);
      if (ec) co_return;
      auto [write_ec, written] =
          co_await asio::async_write(master_, asio::buffer(buffer.data(), n), as_tuple);
      if (write_ec && !is_hangup(write_ec)) co_return;  // EIO: nobody listens
    }
  }

 private:
  // A pty does not tell when its baud changes; the host is taken to follow the chip.
  asio::awaitable<void> follow_chip_baud() {
    LineSettings settings = sim_.settings();
    if (settings.baud == sim_.chip().uart_baud()) co_return;
    settings.baud = sim_.chip().uart_baud();
    co_await sim_.apply_settings(settings);
  }

  asio::posix::stream_descriptor master_;
  port::SimPort& sim_;
  asio::steady_timer retry_;
  bool is_hung_up_ = false;
};

int run_sim(const SimOptions& options) {
  configure_logging(options.verbosity);
  auto url = port::parse_port_url(sim_url(options));
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

  auto pty = open_pty();
  if (!pty) {
    print_error(pty.error().message);
    return 1;
  }
  if (auto error = make_link(options.link, pty->slave_path)) {
    ::close(pty->master);
    print_error(error->message);
    return 1;
  }
  spdlog::info("simulated {} on {} (linked as {}); ROM download mode: a pty has no DTR/RTS",
               options.chip, pty->slave_path, options.link);

  Bridge bridge(io, pty->master, *sim);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await (bridge.host_to_chip() || bridge.chip_to_host() || [&]() -> asio::awaitable<void> {
          auto [ec, signal_number] = co_await signals.async_wait(as_tuple);
          if (!ec) {
            spdlog::info("{}: shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
          }
        }());
        sim->close();  // writes back the flash file
      },
      asio::detached);
  io.run();
  ::unlink(options.link.c_str());
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
