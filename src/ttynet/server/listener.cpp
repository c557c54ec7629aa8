#include "ttynet/server/listener.hpp"

#include <fmt/format.h>

#include <asio/ip/v6_only.hpp>

namespace ttynet::server {
namespace {

std::error_code listen_on(asio::ip::tcp::acceptor& acceptor,
                          const asio::ip::tcp::endpoint& endpoint, bool dual_stack) {
  std::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (endpoint.protocol() == asio::ip::tcp::v6())
    acceptor.set_option(asio::ip::v6_only(!dual_stack), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return ec;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

}  // namespace

std::string describe_endpoint(const asio::ip::tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6())
    return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

std::string describe_peer(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "(gone)";
  const auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return describe_endpoint(
        {asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()), endpoint.port()});
  }
  return describe_endpoint(endpoint);
}

Result<std::vector<asio::ip::tcp::acceptor>, Error> open_listeners(
    const asio::any_io_executor& executor, const std::optional<std::string>& bind_address,
    std::uint16_t port) {
  std::vector<asio::ip::tcp::acceptor> acceptors;
  if (!bind_address) {
    acceptors.emplace_back(executor);
    if (!listen_on(acceptors.back(), {asio::ip::address_v6::any(), port}, true)) return acceptors;
    acceptors.clear();
    acceptors.emplace_back(executor);
    if (auto ec = listen_on(acceptors.back(), {asio::ip::address_v4::any(), port}, false)) {
      return Error{ec, fmt::format("cannot listen on port {}: {}", port, ec.message())};
    }
    return acceptors;
  }
  std::string host = *bind_address;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  asio::ip::tcp::resolver resolver(executor);
  std::error_code ec;
  const auto results = resolver.resolve(
      host, std::to_string(port),
      asio::ip::tcp::resolver::passive | asio::ip::tcp::resolver::numeric_service, ec);
  if (ec) return Error{ec, fmt::format("cannot resolve bind address '{}': {}", host, ec.message())};
  for (const auto& entry : results) {
    auto endpoint = entry.endpoint();
    endpoint.port(port);
    acceptors.emplace_back(executor);
    if (auto listen_error = listen_on(acceptors.back(), endpoint, false)) {
      return Error{listen_error, fmt::format("cannot listen on {}: {}", describe_endpoint(endpoint),
                                             listen_error.message())};
    }
    // A port chosen by the system for the first address is kept for the others.
    if (port == 0) port = acceptors.back().local_endpoint().port();
  }
  return acceptors;
}

std::vector<asio::ip::tcp::endpoint> local_endpoints(
    const std::vector<asio::ip::tcp::acceptor>& acceptors) {
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& acceptor : acceptors) {
    std::error_code ec;
    auto endpoint = acceptor.local_endpoint(ec);
    if (!ec) endpoints.push_back(endpoint);
  }
  return endpoints;
}

}  // namespace ttynet::server
