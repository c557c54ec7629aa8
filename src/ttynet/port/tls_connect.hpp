#pragma once
// The connection under the network ports, plain or TLS: TLS is a transport under socket:// and
// rfc2217://, not a copy of them. Both open through connect_net_stream() and then carry their
// protocol over the NetStream it makes. The +tls URLs' options (tls_options.hpp) become a
// TlsClientOptions here.
//
// A TLS open connects TCP (connect_tcp()), runs the handshake (connect_tls(): SNI, the server's
// certificate checked against the CA and the name), then, with a token file, writes
// `TTYNET-TOKEN <token>\r\n` as the first bytes inside TLS; all of it within the open's
// timeout. The token is read just before connecting and wiped once sent; no error or log line
// holds it.

#include <spdlog/logger.h>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "ttynet/port/net_stream.hpp"
#include "ttynet/port/tcp_connect.hpp"
#include "ttynet/port/tls.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

// What the client side of TLS asks for besides the address.
struct TlsClientOptions {
  TlsClientFiles files;     // the CA (empty: the system's store), our certificate and key
  std::string server_name;  // checked against the server's certificate, sent as SNI; empty: host
  std::string token_file;   // empty: no token line
};

// The TLS options of a +tls URL; null for any other. Shared and on the heap, as the options of
// an open travel in coroutine frames, which must stay small.
std::shared_ptr<const TlsClientOptions> tls_client_options(const PortUrl& url);

// The connection under a network port.
struct NetConnection {
  NetStream stream;
  asio::ip::tcp::endpoint remote;
  // The TCP connect's SYN to SYN-ACK time: a first round-trip estimate.
  Duration connect_time{};
};

// connect_tcp(), then with `tls` (not null) the handshake and the token line, all within
// `timeout`. The files are loaded before connecting. Errors start with `url` and say which
// step failed: "rfc2217+tls://box:4000: TLS handshake failed: certificate verify failed",
// "socket+tls://box:4000: token file /x is readable by group or others (chmod 600 it)",
// "socket+tls://box:4000: cannot load CA /x: ...", "...: no TLS handshake within 5 s"
// (std::errc::timed_out). Cancelled, it ends with asio::error::operation_aborted.
asio::awaitable<Result<NetConnection, Error>> connect_net_stream(
    asio::any_io_executor executor, TcpTarget target, std::shared_ptr<const TlsClientOptions> tls,
    std::chrono::milliseconds timeout, std::string url, std::shared_ptr<spdlog::logger> log);

}  // namespace ttynet::port
