#pragma once
// A TCP connection carrying bytes, plain or inside TLS: one stream type for the server's client
// connections and for the network ports, so every reader and writer has one path whether the
// connection is encrypted or not. It is an Asio AsyncReadStream and AsyncWriteStream
// (asio::async_write and write_output() take it); socket() is the TCP socket underneath, for
// socket options, TCP_INFO and closing.

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>
#include <variant>

namespace ttynet::port {

class NetStream {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
  using executor_type = asio::any_io_executor;

  NetStream(asio::ip::tcp::socket socket)  // NOLINT(google-explicit-constructor): plain is usual
      : layers_(std::move(socket)) {}
  // A TLS stream whose handshake is done. Held on the heap: it is large, and its place never
  // changes while NetStream moves.
  explicit NetStream(std::unique_ptr<TlsStream> tls) : layers_(std::move(tls)) {}

  executor_type get_executor() { return socket().get_executor(); }
  bool is_tls() const { return std::holds_alternative<std::unique_ptr<TlsStream>>(layers_); }
  // The TLS session (OpenSSL's SSL*), or null on a plain connection.
  SSL* tls_handle();

  asio::ip::tcp::socket& socket();
  const asio::ip::tcp::socket& socket() const;
  bool is_open() const { return socket().is_open(); }
  // Shuts the connection down both ways and closes it, ignoring errors. No TLS close_notify:
  // the peer learns of the end from TCP, as a plain peer does.
  void close();

  // A peer that closes without TLS's close_notify (most do, ttynet included) ends the
  // stream with asio::error::eof, as a plain peer does, not with stream_truncated.
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& into) {
          if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&layers_)) {
            read_tls(**tls, into, std::move(handler));
          } else {
            std::get<asio::ip::tcp::socket>(layers_).async_read_some(into, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& from) {
          std::visit(
              [&](auto& layer) { io_layer(layer).async_write_some(from, std::move(handler)); },
              layers_);
        },
        token, buffers);
  }

 private:
  template <typename MutableBuffers, typename Handler>
  static void read_tls(TlsStream& tls, const MutableBuffers& into, Handler handler) {
    asio::async_compose<Handler, void(std::error_code, std::size_t)>(
        [&tls, into, is_started = false](auto& self, std::error_code ec = {},
                                         std::size_t n = 0) mutable {
          if (!is_started) {
            is_started = true;
            tls.async_read_some(into, std::move(self));
            return;
          }
          if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
          self.complete(ec, n);
        },
        handler, tls);
  }

  // The layer that reads and writes: the socket, or the TLS stream over it.
  static asio::ip::tcp::socket& io_layer(asio::ip::tcp::socket& socket) { return socket; }
  static TlsStream& io_layer(std::unique_ptr<TlsStream>& tls) { return *tls; }

  std::variant<asio::ip::tcp::socket, std::unique_ptr<TlsStream>> layers_;
};

}  // namespace ttynet::port
