#include "ttynet/port/tls.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "ttynet/port/tcp_connect.hpp"

namespace ttynet::port {
namespace {

using asio::experimental::awaitable_operators::operator||;
using tcp = asio::ip::tcp;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// The first byte of every TLS record that opens a handshake.
constexpr unsigned char tls_handshake_record = 0x16;

Error file_error(std::string_view what, const std::string& path, const std::error_code& ec) {
  // OpenSSL's reasons ("no such file", "bad end line") say what went wrong with the file.
  return Error{ec, fmt::format("cannot load {} {}: {}", what, path, ec.message())};
}

// Loads what both sides share: a certificate chain and its key, when given.
MaybeError load_identity(asio::ssl::context& context, const std::string& certificate,
                         const std::string& key) {
  if (certificate.empty() && key.empty()) return std::nullopt;
  if (certificate.empty() || key.empty()) {
    return make_error(std::errc::invalid_argument,
                      "a TLS certificate needs its key and a key its certificate");
  }
  if (auto problem = private_file_problem(key)) {
    return make_error(std::errc::permission_denied, *problem);
  }
  std::error_code ec;
  context.use_certificate_chain_file(certificate, ec);
  if (ec) return file_error("certificate", certificate, ec);
  context.use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec) return file_error("key", key, ec);
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    ERR_clear_error();
    return make_error(std::errc::invalid_argument,
                      fmt::format("key {} does not belong to certificate {}", key, certificate));
  }
  return std::nullopt;
}

asio::ssl::context make_context(asio::ssl::context::method method) {
  asio::ssl::context context(method);
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  return context;
}

// Why a handshake failed, in words: the certificate check's own reason when that is what
// failed ("certificate has expired"), otherwise OpenSSL's ("tlsv1 alert unknown ca").
std::string handshake_failure(NetStream::TlsStream& tls, const std::error_code& ec) {
  const long verify = SSL_get_verify_result(tls.native_handle());
  if (verify != X509_V_OK) {
    return fmt::format("TLS handshake failed: {}", X509_verify_cert_error_string(verify));
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "TLS handshake failed: the peer closed the connection";
  }
  std::string reason = ec.message();
  // Asio appends the library's name: "tlsv1 alert unknown ca (SSL routines)".
  if (const auto paren = reason.rfind(" ("); paren != std::string::npos) reason.resize(paren);
  return fmt::format("TLS handshake failed: {}", reason);
}

// Runs `tls`'s handshake by the timer's deadline; nothing or why it failed.
asio::awaitable<std::optional<std::string>> handshake_by(
    NetStream::TlsStream& tls, asio::ssl::stream_base::handshake_type type,
    asio::steady_timer& timer, std::chrono::milliseconds timeout) {
  auto outcome = co_await (tls.async_handshake(type, as_tuple_awaitable) ||
                           timer.async_wait(as_tuple_awaitable));
  if (outcome.index() == 1) {
    co_return fmt::format("no TLS handshake within {}", seconds_text(timeout));
  }
  const auto [ec] = std::get<0>(outcome);
  if (ec) co_return handshake_failure(tls, ec);
  co_return std::nullopt;
}

}  // namespace

std::optional<std::string> private_file_problem(const std::string& path, std::string_view what) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno));
  }
  return private_file_problem(path, status, what);
}

std::optional<std::string> private_file_problem(const std::string& path, const struct stat& status,
                                                std::string_view what) {
  if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fmt::format("{} {} is readable by group or others (chmod 600 it)", what, path);
  }
  return std::nullopt;
}

Result<TlsContext, Error> make_server_tls_context(const TlsServerFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(make_context(asio::ssl::context::tls_server));
  if (files.certificate.empty() || files.key.empty()) {
    return make_error(std::errc::invalid_argument, "TLS needs both a certificate and a key");
  }
  if (auto error = load_identity(*context, files.certificate, files.key)) return *error;
  if (!files.client_ca.empty()) {
    std::error_code ec;
    context->load_verify_file(files.client_ca, ec);
    if (ec) return file_error("client CA", files.client_ca, ec);
    auto mode = asio::ssl::verify_peer;
    if (files.require_client_certificate) mode |= asio::ssl::verify_fail_if_no_peer_cert;
    context->set_verify_mode(mode);
  }
  return context;
}

Result<TlsContext, Error> make_client_tls_context(const TlsClientFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(make_context(asio::ssl::context::tls_client));
  std::error_code ec;
  if (files.ca.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) return Error{ec, fmt::format("cannot load the system's CA store: {}", ec.message())};
  } else {
    context->load_verify_file(files.ca, ec);
    if (ec) return file_error("CA", files.ca, ec);
  }
  if (auto error = load_identity(*context, files.certificate, files.key)) return *error;
  context->set_verify_mode(asio::ssl::verify_peer);
  return context;
}

asio::awaitable<Result<NetStream, std::string>> accept_tls(tcp::socket socket,
                                                           const TlsContext& context,
                                                           std::chrono::milliseconds timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  // A plain client's first byte is not a TLS record's: tell it apart from a failed handshake.
  auto first = co_await (socket.async_wait(tcp::socket::wait_read, as_tuple_awaitable) ||
                         timer.async_wait(as_tuple_awaitable));
  if (first.index() == 1) {
    co_return fmt::format("no TLS handshake within {}", seconds_text(timeout));
  }
  std::array<unsigned char, 1> head{};
  std::error_code ec;
  const std::size_t peeked = socket.receive(asio::buffer(head), tcp::socket::message_peek, ec);
  if (ec || peeked == 0) co_return std::string("closed before the TLS handshake");
  if (head[0] != tls_handshake_record) co_return std::string("not TLS (a plain client?)");

  auto tls = std::make_unique<NetStream::TlsStream>(std::move(socket), *context);
  if (auto failure = co_await handshake_by(*tls, asio::ssl::stream_base::server, timer, timeout)) {
    co_return *failure;
  }
  co_return NetStream(std::move(tls));
}

asio::awaitable<Result<NetStream, std::string>> connect_tls(tcp::socket socket,
                                                            const TlsContext& context,
                                                            std::string server_name,
                                                            std::chrono::milliseconds timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto tls = std::make_unique<NetStream::TlsStream>(std::move(socket), *context);
  SSL* ssl = tls->native_handle();
  // SNI takes a name, never an address; the certificate check takes either.
  std::error_code not_address;
  asio::ip::make_address(server_name, not_address);
  if (not_address) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (SSL_set1_host(ssl, server_name.c_str()) != 1) {
    ERR_clear_error();
    co_return fmt::format("cannot check the server's name '{}'", server_name);
  }
  if (auto failure = co_await handshake_by(*tls, asio::ssl::stream_base::client, timer, timeout)) {
    co_return *failure;
  }
  co_return NetStream(std::move(tls));
}

bool looks_like_tls_hello(ByteView first_bytes) {
  return first_bytes.size() >= 2 && first_bytes[0] == tls_handshake_record && first_bytes[1] == 3;
}

std::string verified_peer_subject(NetStream& stream) {
  SSL* ssl = stream.tls_handle();
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return {};
  BIO* text = BIO_new(BIO_s_mem());
  if (text == nullptr) return {};
  X509_NAME_print_ex(text, X509_get_subject_name(certificate), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(text, &data);
  std::string subject(data, static_cast<std::size_t>(size));
  BIO_free(text);
  return subject;
}

}  // namespace ttynet::port
