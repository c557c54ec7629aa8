#pragma once
// Listening sockets for one TCP port.

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

// With no bind address: one dual-stack socket on [::] (IPv4 clients too), or 0.0.0.0 where
// IPv6 is off. With an address (a literal or a host name): one socket per resolved address.
// Port 0 picks a free port (see local_port). The error is the resolver's or the socket's code
// with a sentence for the user.
Result<std::vector<asio::ip::tcp::acceptor>, Error> open_listeners(
    const asio::any_io_executor& executor, const std::optional<std::string>& bind_address,
    std::uint16_t port);

std::string describe_endpoint(const asio::ip::tcp::endpoint& endpoint);
// The connected peer of `socket`, IPv4-mapped addresses as IPv4: "192.0.2.7:40112"; "(gone)"
// when the socket has none (a client that reset the connection before it was accepted).
std::string describe_peer(const asio::ip::tcp::socket& socket);

// The addresses the listeners are bound to (those that can still say).
std::vector<asio::ip::tcp::endpoint> local_endpoints(
    const std::vector<asio::ip::tcp::acceptor>& acceptors);

}  // namespace ttynet::server
