#include "ttynet/port/socket_port.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/settings_check.hpp"

namespace ttynet::port {
namespace {

using asio::experimental::awaitable_operators::operator||;
using tcp = asio::ip::tcp;
using Clock = asio::steady_timer::clock_type;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// A receive purge drains at most this much, so a peer that never stops sending cannot keep
// the event loop in purge().
constexpr std::size_t max_purge_bytes = 1024 * 1024;

// System messages start with a capital ("Connection refused"); ours follow a colon.
std::string lower_first(std::string text) {
  if (!text.empty() && text.front() >= 'A' && text.front() <= 'Z') {
    text.front() = static_cast<char>(text.front() - 'A' + 'a');
  }
  return text;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:g} s", static_cast<double>(duration.count()) / 1000.0);
}

std::string default_url(const SocketTarget& target) {
  if (target.host.find(':') != std::string::npos) {
    return fmt::format("socket://[{}]:{}", target.host, target.port);
  }
  return fmt::format("socket://{}:{}", target.host, target.port);
}

std::string on_off(bool on) { return on ? "on" : "off"; }

// Reads and drops what has already arrived; returns how many bytes. Only available() bytes,
// which never make read_some() wait, so a read pending in another coroutine is not disturbed.
// A plain function: the buffer stays out of the coroutine frame.
std::size_t discard_received(tcp::socket& socket) {
  std::array<Byte, 4096> sink{};
  std::size_t discarded = 0;
  while (discarded < max_purge_bytes) {
    std::error_code ec;
    const std::size_t available = socket.available(ec);
    if (ec || available == 0) break;
    const std::size_t n =
        socket.read_some(asio::buffer(sink.data(), std::min(available, sink.size())), ec);
    if (ec || n == 0) break;
    discarded += n;
  }
  return discarded;
}

// How a step of the open ended when it did not succeed.
struct StepError {
  std::error_code code;
  std::string message;
};

// A name lookup handed to the resolver's background thread. The resolver has no per-operation
// cancellation and a lookup in progress cannot be interrupted, so the opener waits on `done`
// (expiring at the deadline, cancelled by the completion) and may leave before the lookup
// ends; the completion handler keeps this state alive until then.
struct Lookup {
  explicit Lookup(const asio::any_io_executor& executor) : resolver(executor), done(executor) {}
  tcp::resolver resolver;
  asio::steady_timer done;
  bool is_finished = false;
  std::error_code code;
  std::vector<tcp::endpoint> endpoints;
};

asio::awaitable<Result<std::vector<tcp::endpoint>, StepError>> resolve(
    asio::any_io_executor executor, const SocketTarget& target, Clock::time_point deadline,
    std::chrono::milliseconds timeout) {
  std::error_code not_numeric;
  const auto address = asio::ip::make_address(target.host, not_numeric);
  if (!not_numeric) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, target.port)};

  auto lookup = std::make_shared<Lookup>(executor);
  lookup->done.expires_at(deadline);
  lookup->resolver.async_resolve(
      target.host, std::to_string(target.port), tcp::resolver::numeric_service,
      [lookup](const std::error_code& code, const tcp::resolver::results_type& results) {
        lookup->is_finished = true;
        lookup->code = code;
        for (const auto& entry : results) lookup->endpoints.push_back(entry.endpoint());
        lookup->done.cancel();
      });
  auto [wait_ec] = co_await lookup->done.async_wait(as_tuple_awaitable);
  if (lookup->is_finished) {
    if (lookup->code) {
      co_return StepError{lookup->code, fmt::format("cannot resolve '{}': {}", target.host,
                                                    lower_first(lookup->code.message()))};
    }
    if (lookup->endpoints.empty()) {
      co_return StepError{make_error_code(asio::error::host_not_found),
                          fmt::format("cannot resolve '{}': no addresses", target.host)};
    }
    co_return std::move(lookup->endpoints);
  }
  lookup->resolver.cancel();
  if (!wait_ec) {  // the timer expired: the deadline passed
    co_return StepError{
        std::make_error_code(std::errc::timed_out),
        fmt::format("cannot resolve '{}' within {}", target.host, seconds_text(timeout))};
  }
  co_return StepError{make_error_code(asio::error::operation_aborted), "open cancelled"};
}

// One connection attempt, ended by the deadline. No error: `socket` is connected.
asio::awaitable<std::error_code> connect_before(tcp::socket& socket, const tcp::endpoint& endpoint,
                                                Clock::time_point deadline) {
  std::error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (ec) co_return ec;
  asio::steady_timer timer(socket.get_executor(), deadline);
  auto outcome = co_await (socket.async_connect(endpoint, as_tuple_awaitable) ||
                           timer.async_wait(as_tuple_awaitable));
  if (outcome.index() == 0) {
    ec = std::get<0>(std::get<0>(outcome));
  } else {
    // The timer ended first: the deadline passed, or the open was cancelled.
    const auto [timer_ec] = std::get<1>(outcome);
    ec = timer_ec ? make_error_code(asio::error::operation_aborted)
                  : std::make_error_code(std::errc::timed_out);
  }
  if (ec) {
    std::error_code ignored;
    socket.close(ignored);
  }
  co_return ec;
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<SocketPort>, OpenError>> SocketPort::connect(
    asio::any_io_executor executor, SocketTarget target, SocketConnectOptions options) {
  const std::string url = options.url.empty() ? default_url(target) : options.url;
  const auto failed = [&](std::error_code code, std::string_view why) {
    return OpenError{code, fmt::format("{}: {}", url, why)};
  };
  const auto timeout = std::max(options.timeout, std::chrono::milliseconds::zero());
  const auto deadline = Clock::now() + timeout;
  auto log = logger("port.socket");

  auto endpoints = co_await resolve(executor, target, deadline, timeout);
  if (!endpoints) co_return failed(endpoints.error().code, endpoints.error().message);

  std::error_code last_error = make_error_code(asio::error::host_not_found);
  for (const auto& endpoint : *endpoints) {
    tcp::socket socket(executor);
    last_error = co_await connect_before(socket, endpoint, deadline);
    if (!last_error) {
      std::error_code ec;
      socket.set_option(tcp::no_delay(true), ec);
      if (ec) log->debug("{}: cannot set TCP_NODELAY: {}", url, ec.message());
      log->debug("{}: connected to {} port {}", url, endpoint.address().to_string(),
                 endpoint.port());
      PortInfo info;
      info.url = url;
      info.path = url;
      co_return std::unique_ptr<SocketPort>(
          new SocketPort(std::move(socket), endpoint, std::move(info)));
    }
    if (last_error == std::errc::timed_out || last_error == asio::error::operation_aborted) break;
    log->debug("{}: {}: {}", url, endpoint.address().to_string(), last_error.message());
  }
  if (last_error == std::errc::timed_out) {
    co_return failed(last_error, fmt::format("no connection within {}", seconds_text(timeout)));
  }
  if (last_error == asio::error::operation_aborted) co_return failed(last_error, "open cancelled");
  co_return failed(last_error, lower_first(last_error.message()));
}

SocketPort::SocketPort(tcp::socket socket, tcp::endpoint remote, PortInfo info)
    : socket_(std::move(socket)),
      remote_(std::move(remote)),
      info_(std::move(info)),
      log_(logger("port.socket")) {}

SocketPort::~SocketPort() { close(); }

asio::awaitable<std::tuple<std::error_code, std::size_t>> SocketPort::read_some(
    MutableByteView into) {
  if (!is_open()) co_return std::make_tuple(make_error_code(errc::closed), std::size_t{0});
  auto [ec, n] =
      co_await socket_.async_read_some(asio::buffer(into.data(), into.size()), as_tuple_awaitable);
  co_return std::make_tuple(std::error_code(ec), n);
}

asio::awaitable<std::error_code> SocketPort::write(ByteView data) {
  if (!is_open()) co_return errc::closed;
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                                            as_tuple_awaitable);
  co_return ec;
}

asio::awaitable<std::error_code> SocketPort::apply_settings(const LineSettings& settings) {
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  if (!is_open()) co_return errc::closed;
  log_->debug("{}: socket:// has no line settings; ignoring {}", info_.url, to_string(settings));
  settings_ = settings;
  co_return std::error_code{};
}

LineSettings SocketPort::settings() const { return settings_; }

asio::awaitable<std::error_code> SocketPort::set_control_lines(std::optional<bool> dtr,
                                                               std::optional<bool> rts) {
  if (!is_open()) co_return errc::closed;
  if (dtr || rts) {
    std::string lines;
    if (dtr) lines = "DTR " + on_off(*dtr);
    if (rts) lines += (lines.empty() ? "RTS " : ", RTS ") + on_off(*rts);
    log_->debug("{}: socket:// has no control lines; ignoring {}", info_.url, lines);
  }
  if (dtr) control_lines_.dtr = *dtr;
  if (rts) control_lines_.rts = *rts;
  co_return std::error_code{};
}

ControlLines SocketPort::control_lines() const { return control_lines_; }

asio::awaitable<std::error_code> SocketPort::set_break(bool on) {
  if (!is_open()) co_return errc::closed;
  log_->debug("{}: socket:// has no BREAK; ignoring BREAK {}", info_.url, on_off(on));
  break_on_ = on;
  co_return std::error_code{};
}

bool SocketPort::break_state() const { return break_on_; }

asio::awaitable<std::error_code> SocketPort::purge(Purge which) {
  if (!is_open()) co_return errc::closed;
  if (which == Purge::transmit) {
    log_->debug("{}: socket:// cannot recall sent data; ignoring the transmit purge", info_.url);
    co_return std::error_code{};
  }
  log_->debug("{}: purge discarded {} received bytes", info_.url, discard_received(socket_));
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> SocketPort::modem_state() {
  if (!is_open()) co_return std::error_code(errc::closed);
  co_return modem_state_without_lines;
}

bool SocketPort::has_modem_lines() const { return false; }

const PortInfo& SocketPort::info() const { return info_; }

void SocketPort::close() {
  if (!is_open()) return;
  std::error_code ignored;
  socket_.cancel(ignored);
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

asio::awaitable<OpenResult> open_socket_url(asio::any_io_executor executor, const PortUrl& url) {
  if (url.has_option("logging")) {
    const auto level = url.option("logging");
    logger("port.socket")
        ->set_level(level == "debug"     ? spdlog::level::debug
                    : level == "info"    ? spdlog::level::info
                    : level == "warning" ? spdlog::level::warn
                                         : spdlog::level::err);
  }
  SocketConnectOptions options;
  options.url = url.text;
  auto opened = co_await SocketPort::connect(std::move(executor), SocketTarget{url.host, url.port},
                                             std::move(options));
  if (!opened) co_return opened.error();
  co_return OpenResult(std::unique_ptr<Port>(std::move(*opened)));
}

}  // namespace ttynet::port
