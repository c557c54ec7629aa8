#pragma once
// Socket options of every accepted client connection (controlling clients and monitors), and
// the refusal of one we will not serve.

#include <asio/ip/tcp.hpp>
#include <chrono>
#include <string_view>
#include <system_error>

#include "ttynet/port/net_stream.hpp"

namespace ttynet::server {

// TCP_NODELAY, and with a non-zero `keepalive` (ClientLimits::keepalive) the limits that drop
// a vanished or stuck peer within about that long: keepalive probes from half of it on, a
// third of the rest apart, three unanswered ones end the connection; and TCP_USER_TIMEOUT, so
// data that the peer neither acknowledges nor makes room for ends it too (keepalive is
// silent while data is outstanding). The first option that fails is returned; the socket
// is usable either way.
std::error_code configure_client_socket(asio::ip::tcp::socket& socket,
                                        std::chrono::seconds keepalive);

// Tells a client we will not serve why, in one line ("ttynet: REASON"), and closes it; logs
// "port PORT_NAME: refused PEER: REASON" within the limits on lines about peers. Inside TLS the
// line is written in the background, for at most a few seconds.
void refuse_client(port::NetStream stream, std::string_view port_name, std::string_view reason);

}  // namespace ttynet::server
