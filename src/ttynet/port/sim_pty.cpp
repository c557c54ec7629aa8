#include "ttynet/port/sim_pty.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ttynet/port/log.hpp"

namespace ttynet::port {
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

Error system_error(std::string message) {
  const std::error_code code(errno, std::system_category());
  return Error{code, fmt::format("{}: {}", message, code.message())};
}

// Sets the slave to raw 8N1; the setting outlives this open.
void make_raw(const std::string& slave_path) {
  const int slave = ::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return;
  termios mode{};
  if (::tcgetattr(slave, &mode) == 0) {
    ::cfmakeraw(&mode);
    ::cfsetspeed(&mode, B115200);
    ::tcsetattr(slave, TCSANOW, &mode);
  }
  ::close(slave);
}

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
    return system_error(fmt::format("cannot link {} to {}", link, target));
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<SimPty>, Error> SimPty::open(asio::io_context& io, SimPort& sim,
                                                    std::string link) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return system_error("cannot create a pseudo-terminal");
  std::array<char, 128> name{};
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
      ::ptsname_r(master, name.data(), name.size()) != 0) {
    auto error = system_error("cannot set up the pseudo-terminal");
    ::close(master);
    return error;
  }
  std::string slave_path = name.data();
  make_raw(slave_path);
  if (auto error = make_link(link, slave_path)) {
    ::close(master);
    return std::move(*error);
  }
  return std::unique_ptr<SimPty>(
      new SimPty(io, master, sim, std::move(slave_path), std::move(link)));
}

SimPty::SimPty(asio::io_context& io, int master, SimPort& sim, std::string slave_path,
               std::string link)
    : master_(io, master),
      sim_(sim),
      retry_(io),
      slave_path_(std::move(slave_path)),
      link_(std::move(link)) {}

SimPty::~SimPty() { ::unlink(link_.c_str()); }

asio::awaitable<void> SimPty::run() { co_await (host_to_chip() || chip_to_host()); }

// What the host writes on the slave side arrives on the master.
asio::awaitable<void> SimPty::host_to_chip() {
  std::array<Byte, bridge_chunk> buffer{};
  for (;;) {
    auto [ec, n] = co_await master_.async_read_some(asio::buffer(buffer), as_tuple);
    if (!ec) {
      is_hung_up_ = false;
      co_await follow_chip_baud();
      const auto write_ec = co_await sim_.write(ByteView(buffer).first(n));
      if (write_ec) co_return;
      continue;
    }
    if (!is_hangup(ec)) {
      if (ec != asio::error::operation_aborted)
        logger("port.sim")->error("pty read failed: {}", ec.message());
      co_return;
    }
    if (!is_hung_up_) {
      is_hung_up_ = true;
      logger("port.sim")->debug("the host closed the pty; the chip restarts in download mode");
      sim_.restart_chip();
    }
    retry_.expires_after(hangup_retry);
    auto [wait_ec] = co_await retry_.async_wait(as_tuple);
    if (wait_ec) co_return;
  }
}

asio::awaitable<void> SimPty::chip_to_host() {
  std::array<Byte, bridge_chunk> buffer{};
  for (;;) {
    auto [ec, n] = co_await sim_.read_some(buffer);
    if (ec) co_return;
    auto [write_ec, written] =
        co_await asio::async_write(master_, asio::buffer(buffer.data(), n), as_tuple);
    if (write_ec && !is_hangup(write_ec)) co_return;  // EIO: nobody listens
  }
}

// A pty does not tell when its baud changes; the host is taken to follow the chip.
asio::awaitable<void> SimPty::follow_chip_baud() {
  LineSettings settings = sim_.settings();
  if (settings.baud == sim_.chip().uart_baud()) co_return;
  settings.baud = sim_.chip().uart_baud();
  co_await sim_.apply_settings(settings);
}

}  // namespace ttynet::port
