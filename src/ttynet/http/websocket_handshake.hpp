#pragma once
// The server's half of the WebSocket opening handshake (RFC 6455 section 4.2): checks an
// upgrade request and builds the 101 answer. Sans-I/O; SHA-1 and base64 from OpenSSL.

#include <string>
#include <string_view>
#include <variant>

#include "ttynet/http/request_reader.hpp"

namespace ttynet::http {

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept value for a client's key.
std::string websocket_accept_key(std::string_view client_key);

// For a request that asks for a WebSocket: the 101 Switching Protocols response to send, or
// the error response (400 for a malformed handshake: not GET, no or bad Sec-WebSocket-Key,
// which must be base64 of 16 bytes; 426 with "Sec-WebSocket-Version: 13" for another version).
// `allowed_origin_host`, when not empty, must equal the Origin header's host[:port] (a page
// from elsewhere may not open a terminal); a browser always sends Origin, other clients may
// omit it, and that is allowed. A refusal for Origin is 403.
struct HandshakeAnswer {
  bool accepted = false;
  Response response;
};
HandshakeAnswer answer_websocket_upgrade(const Request& request,
                                         std::string_view allowed_origin_host);

}  // namespace ttynet::http
