#include "ttynet/server/client_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <string>

#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr int keepalive_probes = 3;
// A peer that takes no refusal line inside TLS is not waited for longer.
constexpr std::chrono::seconds refusal_write_limit{3};

std::error_code set_tcp_option(int fd, int option, int value) {
  if (::setsockopt(fd, IPPROTO_TCP, option, &value, sizeof value) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

}  // namespace

std::error_code configure_client_socket(asio::ip::tcp::socket& socket,
                                        std::chrono::seconds keepalive) {
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec) return ec;
  socket.set_option(asio::socket_base::keep_alive(keepalive.count() > 0), ec);
  if (ec || keepalive.count() == 0) return ec;
  const int total = static_cast<int>(keepalive.count());
  const int idle = std::max(1, total / 2);
  const int interval = std::max(1, (total - idle) / keepalive_probes);
  const int fd = socket.native_handle();
  const std::array<std::pair<int, int>, 4> options = {{
      {TCP_KEEPIDLE, idle},
      {TCP_KEEPINTVL, interval},
      {TCP_KEEPCNT, keepalive_probes},
      {TCP_USER_TIMEOUT, total * 1000},
  }};
  for (const auto& [option, value] : options) {
    if (auto failed = set_tcp_option(fd, option, value)) return failed;
  }
  return {};
}

void refuse_client(port::NetStream stream, std::string_view port_name, std::string_view reason) {
  PeerReporter(port_name, "refused", describe_peer(stream.socket()))(spdlog::level::info,
                                                                     fmt::format(": {}", reason));
  std::string line = fmt::format("ttynet: {}\r\n", reason);
  if (!stream.is_tls()) {
    // The line is tiny, so one non-blocking write goes straight into the empty socket buffer.
    std::error_code ignored;
    stream.socket().non_blocking(true, ignored);
    stream.socket().write_some(asio::buffer(line), ignored);
    stream.close();
    return;
  }
  auto executor = stream.get_executor();
  asio::co_spawn(
      executor,
      [stream = std::move(stream), line = std::move(line)]() mutable -> asio::awaitable<void> {
        asio::steady_timer limit(stream.get_executor(), refusal_write_limit);
        co_await (asio::async_write(stream, asio::buffer(line), as_tuple) ||
                  limit.async_wait(as_tuple));
        stream.close();
      },
      asio::detached);
}

}  // namespace ttynet::server
