#include "ttynet/server/client_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

constexpr int keepalive_probes = 3;

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

void refuse_client(asio::ip::tcp::socket socket, std::string_view port_name,
                   std::string_view reason) {
  PeerReporter(port_name, "refused", describe_peer(socket))(spdlog::level::info,
                                                            fmt::format(": {}", reason));
  // The line is tiny, so one non-blocking write goes straight into the empty socket buffer.
  std::error_code ignored;
  socket.non_blocking(true, ignored);
  const std::string line = fmt::format("ttynet: {}\r\n", reason);
  socket.write_some(asio::buffer(line), ignored);
  socket.shutdown(asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace ttynet::server
