#include "ttynet/port/tcp_connect.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ttynet::port {
namespace {

using asio::experimental::awaitable_operators::operator||;
using tcp = asio::ip::tcp;
using Clock = asio::steady_timer::clock_type;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// System messages start with a capital ("Connection refused"); ours follow a colon.
std::string lower_first(std::string text) {
  if (!text.empty() && text.front() >= 'A' && text.front() <= 'Z') {
    text.front() = static_cast<char>(text.front() - 'A' + 'a');
  }
  return text;
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
    asio::any_io_executor executor, const TcpTarget& target, Clock::time_point deadline,
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

// Each address in turn until one accepts, by `deadline` (`timeout` from the start, for the
// message).
asio::awaitable<Result<TcpConnection, Error>> connect_each(asio::any_io_executor executor,
                                                           std::vector<tcp::endpoint> endpoints,
                                                           Clock::time_point deadline,
                                                           std::chrono::milliseconds timeout,
                                                           std::string url,
                                                           std::shared_ptr<spdlog::logger> log) {
  const auto failed = [&](std::error_code code, std::string_view why) {
    return Error{code, fmt::format("{}: {}", url, why)};
  };
  std::error_code last_error = make_error_code(asio::error::host_not_found);
  for (const auto& endpoint : endpoints) {
    tcp::socket socket(executor);
    const auto attempt_start = Clock::now();
    last_error = co_await connect_before(socket, endpoint, deadline);
    if (!last_error) {
      const Duration connect_time = Clock::now() - attempt_start;
      std::error_code ec;
      socket.set_option(tcp::no_delay(true), ec);
      if (ec) log->debug("{}: cannot set TCP_NODELAY: {}", url, ec.message());
      log->debug("{}: connected to {} port {}", url, endpoint.address().to_string(),
                 endpoint.port());
      co_return TcpConnection{std::move(socket), endpoint, connect_time};
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

}  // namespace

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:g} s", static_cast<double>(duration.count()) / 1000.0);
}

std::string tcp_url(std::string_view scheme, const TcpTarget& target) {
  if (target.host.find(':') != std::string::npos) {
    return fmt::format("{}://[{}]:{}", scheme, target.host, target.port);
  }
  return fmt::format("{}://{}:{}", scheme, target.host, target.port);
}

asio::awaitable<Result<TcpConnection, Error>> connect_tcp(asio::any_io_executor executor,
                                                          TcpTarget target,
                                                          std::chrono::milliseconds timeout,
                                                          std::string url,
                                                          std::shared_ptr<spdlog::logger> log) {
  timeout = std::max(timeout, std::chrono::milliseconds::zero());
  const auto deadline = Clock::now() + timeout;
  auto endpoints = co_await resolve(executor, target, deadline, timeout);
  if (!endpoints) {
    co_return Error{endpoints.error().code, fmt::format("{}: {}", url, endpoints.error().message)};
  }
  co_return co_await connect_each(std::move(executor), std::move(*endpoints), deadline, timeout,
                                  std::move(url), std::move(log));
}

asio::awaitable<Result<TcpConnection, Error>> connect_first(
    asio::any_io_executor executor, std::vector<asio::ip::tcp::endpoint> endpoints,
    std::chrono::milliseconds timeout, std::string url, std::shared_ptr<spdlog::logger> log) {
  timeout = std::max(timeout, std::chrono::milliseconds::zero());
  co_return co_await connect_each(std::move(executor), std::move(endpoints), Clock::now() + timeout,
                                  timeout, std::move(url), std::move(log));
}

}  // namespace ttynet::port
