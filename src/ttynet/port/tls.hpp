#pragma once
// TLS for network connections, through OpenSSL and Asio's SSL support: contexts made from PEM
// files, the handshake under a deadline, and what a finished handshake tells about the peer.
// Both sides use it: the server's listeners (`serve --tls-cert`) and the `+tls` port URLs.
//
// Key files must be private to their owner: one that group or others may read or write is
// refused, naming the file. Errors and log lines name files, never their contents.

#include <sys/stat.h>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ttynet/port/net_stream.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

using TlsContext = std::shared_ptr<asio::ssl::context>;

// A listener's certificate chain and key, and the CA its clients' certificates must chain to
// (empty: client certificates are not asked for).
struct TlsServerFiles {
  std::string certificate{};
  std::string key{};
  std::string client_ca{};
  // With client_ca: refuse a client without a certificate in the handshake. Off when the port
  // also admits clients by token, who have none.
  bool require_client_certificate = true;
};

// The CA that signs the server's certificate (empty: the system's default store), and the
// client's own certificate and key (both or neither).
struct TlsClientFiles {
  std::string ca{};
  std::string certificate{};
  std::string key{};
};

// TLS 1.2 at least. Errors are one sentence naming the file at fault.
Result<TlsContext, Error> make_server_tls_context(const TlsServerFiles& files);
Result<TlsContext, Error> make_client_tls_context(const TlsClientFiles& files);

// Nothing when only the owner may read and write `path`; otherwise why not, naming it:
// "key file /etc/k.pem is readable by group or others (chmod 600 it)".
std::optional<std::string> private_file_problem(const std::string& path,
                                                std::string_view what = "key file");
// The same for a file already opened, from its fstat().
std::optional<std::string> private_file_problem(const std::string& path, const struct stat& status,
                                                std::string_view what);

// The server's handshake on an accepted connection, ended by the deadline. Errors are short
// phrases for a log line about the peer: "not TLS (a plain client?)", "no TLS handshake within
// 10 s", "TLS handshake failed: certificate has expired".
asio::awaitable<Result<NetStream, std::string>> accept_tls(asio::ip::tcp::socket socket,
                                                           const TlsContext& context,
                                                           std::chrono::milliseconds timeout);

// The client's handshake: sends `server_name` (SNI) and checks that the server's certificate
// names it. Errors as accept_tls()'s ("TLS handshake failed: hostname mismatch").
asio::awaitable<Result<NetStream, std::string>> connect_tls(asio::ip::tcp::socket socket,
                                                            const TlsContext& context,
                                                            std::string server_name,
                                                            std::chrono::milliseconds timeout);

// Whether a connection's first bytes are a TLS ClientHello's record header (16 03 0x): a TLS
// client on a plain port. Needs the first two bytes.
bool looks_like_tls_hello(ByteView first_bytes);

// The subject of the peer's verified certificate, as RFC 2253 text ("CN=ci-runner,O=lab");
// empty on a plain connection or without a verified certificate.
std::string verified_peer_subject(NetStream& stream);

}  // namespace ttynet::port
