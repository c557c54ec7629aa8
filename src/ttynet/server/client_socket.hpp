#pragma once
// Socket options of every accepted client connection (controlling clients and monitors).

#include <asio/ip/tcp.hpp>
#include <chrono>
#include <system_error>

namespace ttynet::server {

// TCP_NODELAY, and with a non-zero `keepalive` (ClientLimits::keepalive) the limits that drop
// a vanished or stuck peer within about that long: keepalive probes from half of it on, a
// third of the rest apart, three unanswered ones end the connection; and TCP_USER_TIMEOUT, so
// data that the peer neither acknowledges nor makes room for ends it too (keepalive is
// silent while data is outstanding). The first option that fails is returned; the socket
// is usable either way.
std::error_code configure_client_socket(asio::ip::tcp::socket& socket,
                                        std::chrono::seconds keepalive);

}  // namespace ttynet::server
