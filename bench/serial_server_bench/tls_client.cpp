// The client's TLS (--tls-ca): a context trusting one CA, and a session per connection that
// reads and writes through OpenSSL on the connection's non-blocking socket.

#include "tls_client.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

namespace {

// The name the server's certificate must carry, also sent as SNI (tests/tls/make_certs.sh).
constexpr const char* server_name = "localhost";

// OpenSSL's error queue as one line, emptying it.
std::string openssl_errors() {
  std::string text;
  for (int i = 0; i < 16; ++i) {
    const unsigned long code = ERR_get_error();
    if (code == 0) {
      break;
    }
    char line[256];
    ERR_error_string_n(code, line, sizeof line);
    text += text.empty() ? line : std::string{"; "} + line;
  }
  return text.empty() ? std::string{"no details from OpenSSL"} : text;
}

// Why an OpenSSL call on the session failed; `error` is what SSL_get_error() returned.
std::string describe_failure(int error) {
  if (error == SSL_ERROR_ZERO_RETURN) {
    return "the server closed the connection";
  }
  if (error == SSL_ERROR_SYSCALL) {
    return errno != 0 ? std::strerror(errno) : "the server closed the connection";
  }
  return openssl_errors();
}

int clamp_to_int(std::size_t size) {
  return static_cast<int>(std::min<std::size_t>(size, INT_MAX));
}

}  // namespace

TlsContext::TlsContext(const std::string& ca_file) : context_{SSL_CTX_new(TLS_client_method())} {
  if (!context_) {
    fail("TLS: cannot create a context: {}", openssl_errors());
  }
  SSL_CTX_set_min_proto_version(context_.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(context_.get(), ca_file.c_str(), nullptr) != 1) {
    fail("--tls-ca {}: {}", ca_file, openssl_errors());
  }
  SSL_CTX_set_verify(context_.get(), SSL_VERIFY_PEER, nullptr);
  // One recv() takes what has arrived, often several records, as one plain recv() would.
  SSL_CTX_set_read_ahead(context_.get(), 1);
  // write() reports every record sent, as send() reports bytes; the queue it writes from may
  // grow, and move, before a write that could not finish is repeated. read() goes on past
  // records without data (session tickets) to the data read ahead behind them.
  SSL_CTX_set_mode(context_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
  // A server ending without close_notify ends the stream, as a plain FIN does.
  SSL_CTX_set_options(context_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
}

TlsSession::TlsSession(const TlsContext& context, int fd) : ssl_{SSL_new(context.get())} {
  if (!ssl_ || SSL_set_fd(ssl_.get(), fd) != 1 ||
      SSL_set_tlsext_host_name(ssl_.get(), server_name) != 1 ||
      SSL_set1_host(ssl_.get(), server_name) != 1) {
    fail("TLS: cannot set up a session: {}", openssl_errors());
  }
}

void TlsSession::handshake(const Deadline& deadline, const std::string& peer) {
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    ERR_clear_error();
    errno = 0;
    const int status = SSL_connect(ssl_.get());
    if (status == 1) {
      // What came with the last handshake records is waiting inside OpenSSL already.
      has_unread_input_ = SSL_has_pending(ssl_.get()) == 1;
      return;
    }
    const int error = SSL_get_error(ssl_.get(), status);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      const long verified = SSL_get_verify_result(ssl_.get());
      fail("TLS handshake with {}: {}", peer,
           verified != X509_V_OK ? X509_verify_cert_error_string(verified)
                                 : describe_failure(error));
    }
    pollfd ready{SSL_get_fd(ssl_.get()),
                 static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (::poll(&ready, 1, deadline.poll_ms()) == 0 && deadline.passed()) {
      fail("TLS handshake with {}: timed out", peer);
    }
  }
  fail("TLS handshake with {}: gave up after {} rounds", peer, max_loop_rounds);
}

std::optional<std::size_t> TlsSession::read(std::span<Byte> buffer) {
  if (has_ended_) {
    return std::nullopt;
  }
  has_unread_input_ = false;
  std::size_t filled = 0;
  // Ends: every round but the last adds at least a byte.
  while (filled < buffer.size()) {
    ERR_clear_error();
    errno = 0;
    const int n =
        SSL_read(ssl_.get(), buffer.data() + filled, clamp_to_int(buffer.size() - filled));
    if (n > 0) {
      filled += static_cast<std::size_t>(n);
      // Nothing buffered: the socket is asked again only when poll() says it has more, as
      // with plain recv(); a call now would mostly end in EAGAIN.
      if (SSL_has_pending(ssl_.get()) == 0) {
        break;
      }
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), n);
    if (error == SSL_ERROR_WANT_READ) {
      break;
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      has_unread_input_ = true;
      break;
    }
    if (error == SSL_ERROR_ZERO_RETURN ||
        (error == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET))) {
      // The bytes before the end are returned first; the next read reports the end.
      has_ended_ = true;
      return filled > 0 ? std::optional{filled} : std::nullopt;
    }
    fail("TLS read from server: {}", describe_failure(error));
  }
  // A full buffer may leave decrypted bytes (SSL_pending) or whole records read ahead; the
  // socket would not wake poll() for them.
  has_unread_input_ =
      has_unread_input_ || (filled == buffer.size() && SSL_has_pending(ssl_.get()) == 1);
  return filled;
}

std::size_t TlsSession::write(ByteView data) {
  ERR_clear_error();
  errno = 0;
  const int n = SSL_write(ssl_.get(), data.data(), clamp_to_int(data.size()));
  if (n > 0) {
    return static_cast<std::size_t>(n);
  }
  const int error = SSL_get_error(ssl_.get(), n);
  if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
    return 0;
  }
  fail("TLS write to server: {}", describe_failure(error));
}

void TlsSession::close() {
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
}

}  // namespace ttynet::bench
