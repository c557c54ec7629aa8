#pragma once
// The TCP connection behind the network ports (socket://, rfc2217://): name lookup and a
// connect attempt to each address it yields, all within one timeout, with TCP_NODELAY on.

#include <spdlog/logger.h>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ttynet/port/port.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

// A constructor rather than an aggregate: g++ 12 destroys a brace-initialised aggregate
// temporary with a std::string member twice when it is created inside a co_await expression.
struct TcpTarget {
  TcpTarget(std::string host_name, std::uint16_t tcp_port)
      : host(std::move(host_name)), port(tcp_port) {}
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  std::uint16_t port = 0;
};

struct TcpConnection {
  asio::ip::tcp::socket socket;
  asio::ip::tcp::endpoint remote;
  // The successful attempt's SYN to SYN-ACK time: a first round-trip estimate.
  Duration connect_time{};
};

// Resolves target.host (numeric addresses without a lookup), then connects to each address in
// turn until one accepts. `timeout` bounds the whole. Errors start with `url`:
// "socket://127.0.0.1:4000: connection refused", "rfc2217://box:4000: cannot resolve 'box':
// ...", "socket://10.0.0.9:4000: no connection within 5 s" (std::errc::timed_out). Cancelling
// the calling coroutine ends it with asio::error::operation_aborted ("open cancelled").
asio::awaitable<Result<TcpConnection, Error>> connect_tcp(asio::any_io_executor executor,
                                                          TcpTarget target,
                                                          std::chrono::milliseconds timeout,
                                                          std::string url,
                                                          std::shared_ptr<spdlog::logger> log);

// connect_tcp() after the lookup: a connect attempt to each address in turn until one
// accepts, all within `timeout`; the errors as connect_tcp()'s.
asio::awaitable<Result<TcpConnection, Error>> connect_first(
    asio::any_io_executor executor, std::vector<asio::ip::tcp::endpoint> endpoints,
    std::chrono::milliseconds timeout, std::string url, std::shared_ptr<spdlog::logger> log);

// "socket://HOST:PORT", with brackets around an IPv6 literal.
std::string tcp_url(std::string_view scheme, const TcpTarget& target);
// "5 s", "0.25 s".
std::string seconds_text(std::chrono::milliseconds duration);

}  // namespace ttynet::port
