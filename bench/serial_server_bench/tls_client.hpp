#pragma once
// The client's TLS (--tls-ca): a context trusting one CA, and a session per connection that
// reads and writes through OpenSSL on the connection's non-blocking socket.

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "deadline.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::bench {

// TLS 1.2 or later; the server's certificate must chain to the CA and name "localhost".
class TlsContext {
 public:
  explicit TlsContext(const std::string& ca_file);
  SSL_CTX* get() const { return context_.get(); }

 private:
  struct Free {
    void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
  };
  std::unique_ptr<SSL_CTX, Free> context_;
};

// One TLS connection over a connected non-blocking socket it does not own.
class TlsSession {
 public:
  TlsSession(const TlsContext& context, int fd);

  // Completes the handshake, waiting in poll() for the socket as OpenSSL asks; fails at the
  // deadline or when the server is not trusted. `peer` names the server in errors.
  void handshake(const Deadline& deadline, const std::string& peer);

  // Decrypts what has arrived into `buffer`, record after record until nothing more is there
  // now or the buffer is full. Returns the byte count (0: nothing now), nothing at the end of
  // the stream.
  std::optional<std::size_t> read(std::span<Byte> buffer);

  // Encrypts and sends as much of `data` as the socket takes now; returns the bytes taken.
  // After a short write the next call must start with the bytes not taken.
  std::size_t write(ByteView data);

  // True when read() must run again before waiting in poll(): the last read filled the buffer
  // and left input inside OpenSSL (decrypted bytes, records read ahead), which would not make
  // the socket readable, or it had to wait for the socket to take output.
  bool has_unread_input() const { return has_unread_input_; }

  // Sends close_notify if the socket takes it now.
  void close();

 private:
  struct Free {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  std::unique_ptr<SSL, Free> ssl_;
  bool has_unread_input_ = false;
  bool has_ended_ = false;  // the stream ended: every later read() says so
};

}  // namespace ttynet::bench
