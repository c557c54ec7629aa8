#include "ttynet/port/net_stream.hpp"

namespace ttynet::port {

SSL* NetStream::tls_handle() {
  auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&layers_);
  return tls == nullptr ? nullptr : (*tls)->native_handle();
}

asio::ip::tcp::socket& NetStream::socket() {
  if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&layers_)) return (*tls)->next_layer();
  return std::get<asio::ip::tcp::socket>(layers_);
}

const asio::ip::tcp::socket& NetStream::socket() const {
  if (const auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&layers_)) {
    return (*tls)->next_layer();
  }
  return std::get<asio::ip::tcp::socket>(layers_);
}

void NetStream::close() {
  std::error_code ignored;
  socket().shutdown(asio::socket_base::shutdown_both, ignored);
  socket().close(ignored);
}

}  // namespace ttynet::port
