#include "ttynet/port/tty_port.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>

#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/settings_check.hpp"
#include "ttynet/port/sysfs.hpp"
#include "ttynet/port/termios2.hpp"

namespace ttynet::port {
namespace {

// Unix 98 pty slaves (/dev/pts/N) have majors 136..143.
bool is_pseudo_terminal(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISCHR(status.st_mode)) return false;
  const unsigned int device_major = major(status.st_rdev);
  return device_major >= 136 && device_major <= 143;
}

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

std::error_code last_error() { return {errno, std::system_category()}; }

// Owns a descriptor until it is handed to the stream; undoes TIOCEXCL if it was set.
class DescriptorGuard {
 public:
  explicit DescriptorGuard(int fd) : fd_(fd) {}
  DescriptorGuard(const DescriptorGuard&) = delete;
  DescriptorGuard& operator=(const DescriptorGuard&) = delete;
  ~DescriptorGuard() {
    if (fd_ < 0) return;
    if (exclusive_) ::ioctl(fd_, TIOCNXCL);
    ::close(fd_);
  }
  int get() const { return fd_; }
  void mark_exclusive() { exclusive_ = true; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
  bool exclusive_ = false;
};

std::string real_path(const std::string& path) {
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(path, ec);
  return ec ? path : canonical.string();
}

}  // namespace

Result<std::unique_ptr<TtyPort>, Error> TtyPort::open(asio::any_io_executor executor,
                                                      std::string_view path, ModemIo& modem_io) {
  const std::string given(path);
  const auto failed = [&](std::error_code ec, std::string_view why) {
    return Error{ec, fmt::format("{}: {}", given, why)};
  };
  const auto busy = [&] {
    return failed(std::make_error_code(std::errc::device_or_resource_busy),
                  "device busy (another program has it open)");
  };

  const int fd = ::open(given.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const auto ec = last_error();
    if (ec == std::errc::device_or_resource_busy) return busy();
    return failed(ec, ec.message());
  }
  DescriptorGuard guard(fd);

  // Before TIOCEXCL: a busy device's exclusive flag belongs to its current user.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const auto ec = last_error();
    if (ec == std::errc::operation_would_block) return busy();
    return failed(ec, fmt::format("cannot lock: {}", ec.message()));
  }
  if (::isatty(fd) == 0) return failed(errc::not_a_tty, "not a serial device");
  if (::ioctl(fd, TIOCEXCL) != 0) {
    const auto ec = last_error();
    return failed(ec, fmt::format("cannot get exclusive use: {}", ec.message()));
  }
  guard.mark_exclusive();

  detail::Termios2 termios;
  if (auto ec = detail::read_termios2(fd, termios)) {
    return failed(ec, fmt::format("cannot read the line settings: {}", ec.message()));
  }
  detail::make_raw(termios);
  if (auto ec = detail::write_termios2(fd, termios)) {
    return failed(ec, fmt::format("cannot set raw mode: {}", ec.message()));
  }
  if (auto ec = detail::read_termios2(fd, termios)) {
    return failed(ec, fmt::format("cannot read the line settings: {}", ec.message()));
  }

  auto lines = modem_io.read_lines(fd);
  if (!lines && !is_refusal(lines.error())) {
    return failed(lines.error(),
                  fmt::format("cannot read the modem lines: {}", lines.error().message()));
  }

  PortInfo info;
  info.url = given;
  info.path = real_path(given);
  info.usb = usb_identity_of(info.path);

  asio::posix::stream_descriptor stream(std::move(executor));
  std::error_code assign_ec;
  stream.assign(fd, assign_ec);
  if (assign_ec) {
    return failed(assign_ec, fmt::format("cannot watch for data: {}", assign_ec.message()));
  }
  guard.release();
  std::unique_ptr<TtyPort> port(new TtyPort(std::move(stream), std::move(info), modem_io));
  port->is_pseudo_terminal_ = is_pseudo_terminal(fd);
  port->settings_ = detail::decode_line_settings(termios);
  if (lines) {
    port->control_lines_ = lines->output;
  } else {
    port->lose_modem_lines(lines.error());
  }
  return Result<std::unique_ptr<TtyPort>, Error>(std::move(port));
}

TtyPort::TtyPort(asio::posix::stream_descriptor stream, PortInfo info, ModemIo& modem_io)
    : stream_(std::move(stream)),
      fd_(stream_.native_handle()),
      info_(std::move(info)),
      modem_io_(&modem_io),
      log_(logger("port.tty")) {}

TtyPort::~TtyPort() { close(); }

asio::awaitable<std::tuple<std::error_code, std::size_t>> TtyPort::read_some(MutableByteView into) {
  if (fd_ < 0) co_return std::make_tuple(make_error_code(errc::closed), std::size_t{0});
  auto [ec, n] =
      co_await stream_.async_read_some(asio::buffer(into.data(), into.size()), as_tuple_awaitable);
  co_return std::make_tuple(std::error_code(ec), n);
}

asio::awaitable<std::error_code> TtyPort::write(ByteView data) {
  if (fd_ < 0) co_return errc::closed;
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(data.data(), data.size()),
                                            as_tuple_awaitable);
  co_return ec;
}

asio::awaitable<std::error_code> TtyPort::apply_settings(const LineSettings& settings) {
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  if (fd_ < 0) co_return errc::closed;
  detail::Termios2 before;
  if (auto ec = detail::read_termios2(fd_, before)) co_return ec;
  detail::Termios2 wanted = before;
  detail::encode_line_settings(settings, wanted);
  const auto ec = detail::write_termios2(fd_, wanted);
  if (ec) {
    // The refusal itself is the caller's to report (the error returned); this one is not.
    if (auto restore_ec = detail::write_termios2(fd_, before)) {
      log_->warn("{}: cannot restore the line settings: {}", info_.path, restore_ec.message());
    }
  }
  if (!ec) settings_ = settings;  // what a pty cannot hold is kept as asked (see held())
  detail::Termios2 now;
  if (!detail::read_termios2(fd_, now)) settings_ = held(now);
  if (!ec && settings_ != settings) {
    log_->debug("{}: asked for {}, the device holds {}", info_.path, to_string(settings),
                to_string(settings_));
  }
  co_return ec;
}

LineSettings TtyPort::settings() const {
  detail::Termios2 now;
  if (fd_ >= 0 && !detail::read_termios2(fd_, now)) return held(now);
  return settings_;
}

// A pseudo-terminal has no wire: Linux forces CS8 and clears PARENB on it, so reading them
// back would turn every accepted data-size or parity request into an apparent refusal.
// For a pty those two are what was last asked; everything else is read from the device.
LineSettings TtyPort::held(const detail::Termios2& termios) const {
  LineSettings now = detail::decode_line_settings(termios);
  if (is_pseudo_terminal_) {
    now.data_bits = settings_.data_bits;
    now.parity = settings_.parity;
  }
  return now;
}

asio::awaitable<std::error_code> TtyPort::set_control_lines(std::optional<bool> dtr,
                                                            std::optional<bool> rts) {
  if (fd_ < 0) co_return errc::closed;
  if (has_modem_lines_) {
    if (auto ec = modem_io_->write_lines(fd_, dtr, rts)) {
      if (!is_refusal(ec)) co_return ec;
      lose_modem_lines(ec);
    }
  }
  if (dtr) control_lines_.dtr = *dtr;
  if (rts) control_lines_.rts = *rts;
  co_return std::error_code{};
}

ControlLines TtyPort::control_lines() const { return control_lines_; }

asio::awaitable<std::error_code> TtyPort::set_break(bool on) {
  if (fd_ < 0) co_return errc::closed;
  if (has_break_) {
    if (auto ec = modem_io_->set_break(fd_, on)) {
      if (!is_refusal(ec)) co_return ec;
      has_break_ = false;
      log_->warn("{} does not support BREAK ({}): BREAK requests are acknowledged without effect",
                 info_.path, ec.message());
    }
  }
  break_on_ = on;
  co_return std::error_code{};
}

bool TtyPort::break_state() const { return break_on_; }

asio::awaitable<std::error_code> TtyPort::purge(Purge which) {
  if (fd_ < 0) co_return errc::closed;
  int queue = TCIOFLUSH;
  switch (which) {
    case Purge::receive:
      queue = TCIFLUSH;
      break;
    case Purge::transmit:
      queue = TCOFLUSH;
      break;
    case Purge::both:
      queue = TCIOFLUSH;
      break;
  }
  if (::tcflush(fd_, queue) != 0) co_return last_error();
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> TtyPort::modem_state() {
  if (fd_ < 0) co_return std::error_code(errc::closed);
  if (has_modem_lines_) {
    auto lines = modem_io_->read_lines(fd_);
    if (lines) co_return lines->input;
    if (!is_refusal(lines.error())) co_return lines.error();
    lose_modem_lines(lines.error());
  }
  co_return modem_state_without_lines;
}

bool TtyPort::has_modem_lines() const { return has_modem_lines_; }

const PortInfo& TtyPort::info() const { return info_; }

void TtyPort::close() {
  if (fd_ < 0) return;
  std::error_code ignored;
  stream_.cancel(ignored);
  ::ioctl(fd_, TIOCNXCL);
  stream_.close(ignored);
  fd_ = -1;
}

void TtyPort::lose_modem_lines(std::error_code why) {
  if (!has_modem_lines_) return;
  has_modem_lines_ = false;
  log_->warn(
      "{} does not support modem control lines ({}; a pseudo-terminal?): DTR/RTS requests are "
      "acknowledged without effect and the modem state reads CTS, DSR and CD on",
      info_.path, why.message());
}

asio::awaitable<OpenResult> open_tty_url(asio::any_io_executor executor, const PortUrl& url) {
  auto opened = TtyPort::open(std::move(executor), url.path);
  if (!opened) co_return opened.error();
  co_return OpenResult(std::unique_ptr<Port>(std::move(*opened)));
}

}  // namespace ttynet::port
