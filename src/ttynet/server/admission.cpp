#include "ttynet/server/admission.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <utility>

#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/server/token_hello.hpp"

namespace ttynet::server {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// What a refused client is told when its identity gives it nothing here: the same words for a
// wrong token and an unknown certificate, so a guesser learns nothing.
constexpr std::string_view not_authorised = "not authorised";

IpAddress peer_address(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v4()) return IpAddress::v4(address.to_v4().to_bytes());
  return IpAddress::v6(address.to_v6().to_bytes());
}

// Logs a refusal and closes the connection without a word: used where the peer could not read
// one (before TLS, or after a failed handshake).
void drop(asio::ip::tcp::socket& socket, std::string_view port_name, std::string_view reason) {
  PeerReporter(port_name, "refused", describe_peer(socket))(spdlog::level::info,
                                                            fmt::format(": {}", reason));
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

Result<std::shared_ptr<const PortSecurity>, Error> make_port_security(
    const SecurityOptions& options, std::span<const IdentityOptions> identities,
    std::string_view port_name) {
  auto security = std::make_shared<PortSecurity>();
  auto rules = AccessRules::parse(options.allow, options.deny);
  if (!rules) return make_error(std::errc::invalid_argument, rules.error());
  security->rules = std::move(*rules);

  auto known = std::make_shared<Identities>();
  for (const auto& identity : identities) {
    Identity entry;
    entry.ports = identity.ports.empty() ? std::vector<std::string>{"*"} : identity.ports;
    entry.permission = identity.permission;
    if (!identity.token_file.empty()) {
      auto digest = read_token_file(identity.token_file);
      if (!digest) return make_error(std::errc::permission_denied, digest.error());
      entry.name = *digest;
    } else {
      entry.name = CertificateSubject{identity.certificate_subject};
    }
    known->add(std::move(entry));
  }
  const bool has_tokens = known->has_tokens_for(port_name);
  const bool has_subjects = known->has_certificate_subjects_for(port_name);
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    auto context =
        port::make_server_tls_context({.certificate = options.tls_cert,
                                       .key = options.tls_key,
                                       .client_ca = options.tls_client_ca,
                                       // A client with a token has no certificate to show.
                                       .require_client_certificate = !has_tokens});
    if (!context) return context.error();
    security->tls = std::move(*context);
  }
  if ((has_tokens || has_subjects) && !security->tls) {
    return make_error(std::errc::invalid_argument,
                      fmt::format("port {}: identities apply to it, but it has no TLS to check "
                                  "them over (give tls_cert and tls_key)",
                                  port_name));
  }
  if (has_subjects && options.tls_client_ca.empty()) {
    return make_error(std::errc::invalid_argument,
                      fmt::format("port {}: certificate identities apply to it, but it has no "
                                  "tls_client_ca to verify certificates with",
                                  port_name));
  }
  if (has_tokens || has_subjects) security->identities = std::move(known);
  return std::shared_ptr<const PortSecurity>(std::move(security));
}

Gate::Gate(const asio::any_io_executor& executor, std::string port_name,
           std::shared_ptr<const PortSecurity> security, std::shared_ptr<PortStats> stats)
    : port_name_(std::move(port_name)),
      security_(std::move(security)),
      stats_(std::move(stats)),
      admission_ended_(executor) {}

void Gate::count(Refusal refusal) {
  if (stats_) ++stats_->refusals[refusal];
}

std::optional<asio::ip::tcp::endpoint> Gate::open_to_all(
    const std::vector<asio::ip::tcp::endpoint>& endpoints) const {
  if (is_tls() || (security_ && security_->rules.has_allow_list())) return std::nullopt;
  for (const auto& endpoint : endpoints) {
    if (!endpoint.address().is_loopback()) return endpoint;
  }
  return std::nullopt;
}

bool Gate::passes_rules(asio::ip::tcp::socket& socket) {
  if (pending_.size() >= max_pending) {
    count(Refusal::busy);
    drop(socket, port_name_, "too many connections waiting to be let in");
    return false;
  }
  if (!security_ || security_->rules.empty()) return true;
  std::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) {
    count(Refusal::access_rule);
    drop(socket, port_name_, "its address is gone");
    return false;
  }
  if (auto refusal = security_->rules.refusal(peer_address(peer))) {
    count(Refusal::access_rule);
    drop(socket, port_name_, *refusal);
    return false;
  }
  return true;
}

asio::awaitable<std::optional<Admitted>> Gate::admit(asio::ip::tcp::socket socket) {
  if (is_closed_) {
    count(Refusal::busy);
    drop(socket, port_name_, "the port is closing");
    co_return std::nullopt;
  }
  const int descriptor = socket.native_handle();
  pending_.insert(descriptor);
  auto admitted = co_await admit_plain_or_tls(std::move(socket));
  pending_.erase(pending_.find(descriptor));
  admission_ended_.notify();
  if (admitted && is_closed_) {
    admitted->stream.close();
    co_return std::nullopt;
  }
  co_return admitted;
}

asio::awaitable<void> Gate::close() {
  is_closed_ = true;
  for (const int descriptor : pending_) ::shutdown(descriptor, SHUT_RDWR);
  while (!pending_.empty()) co_await admission_ended_.wait();
}

asio::awaitable<std::optional<Admitted>> Gate::admit_plain_or_tls(asio::ip::tcp::socket socket) {
  if (!is_tls()) {
    // A TLS client on a plain port: its ClientHello is usually here by now. (A later one is
    // caught by the session's first read.)
    std::array<Byte, 2> head{};
    std::error_code ec;
    if (socket.available(ec) >= head.size() &&
        socket.receive(asio::buffer(head), asio::ip::tcp::socket::message_peek, ec) ==
            head.size() &&
        port::looks_like_tls_hello(head)) {
      count(Refusal::tls);
      drop(socket, port_name_, "TLS on a plain port");
      co_return std::nullopt;
    }
    co_return co_await identify(port::NetStream(std::move(socket)));
  }
  const std::string peer = describe_peer(socket);
  auto secured = co_await port::accept_tls(
      std::move(socket), security_->tls,
      std::chrono::duration_cast<std::chrono::milliseconds>(handshake_timeout));
  if (!secured) {
    count(Refusal::tls);
    PeerReporter(port_name_, "refused", peer)(spdlog::level::info,
                                              fmt::format(": {}", secured.error()));
    co_return std::nullopt;  // accept_tls has closed the connection
  }
  co_return co_await identify(std::move(*secured));
}

asio::awaitable<std::optional<Admitted>> Gate::identify(port::NetStream stream) {
  const Identities* identities = security_ ? security_->identities.get() : nullptr;
  if (identities == nullptr || identities->empty()) {
    co_return Admitted{std::move(stream), Permission::control};
  }
  // A verified certificate names the peer; without one, a port with tokens asks for one.
  const std::string subject = port::verified_peer_subject(stream);
  std::optional<Permission> permission;
  if (!subject.empty()) {
    permission = identities->for_certificate_subject(port_name_, subject);
    if (!permission) {
      count(Refusal::identity);
      refuse_client(std::move(stream), port_name_,
                    fmt::format("{} (certificate {})", not_authorised, subject));
      co_return std::nullopt;
    }
  } else if (stream.is_tls() && identities->has_tokens_for(port_name_)) {
    permission = co_await read_token(stream);
    if (!permission) {
      count(Refusal::identity);
      co_return std::nullopt;
    }
  } else {
    count(Refusal::identity);
    refuse_client(
        std::move(stream), port_name_,
        fmt::format("{} (no certificate{})", not_authorised, stream.is_tls() ? "" : " and no TLS"));
    co_return std::nullopt;
  }
  co_return Admitted{std::move(stream), *permission};
}

asio::awaitable<std::optional<Permission>> Gate::read_token(port::NetStream& stream) {
  asio::steady_timer deadline(stream.get_executor(), token_timeout);
  TokenHello hello;
  Byte byte = 0;
  while (hello.state() == TokenHello::State::need_more) {
    auto outcome = co_await (stream.async_read_some(asio::buffer(&byte, 1), as_tuple) ||
                             deadline.async_wait(as_tuple));
    if (outcome.index() == 1) {
      refuse_client(std::move(stream), port_name_,
                    fmt::format("no token within {} s", token_timeout.count()));
      co_return std::nullopt;
    }
    const auto [ec, n] = std::get<0>(outcome);
    if (ec) {
      PeerReporter(port_name_, "refused", describe_peer(stream.socket()))(
          spdlog::level::info, ": closed before presenting its token");
      stream.close();
      co_return std::nullopt;
    }
    hello.feed(ByteView(&byte, n));
  }
  if (hello.failed()) {
    refuse_client(std::move(stream), port_name_,
                  fmt::format("{} ({})", not_authorised, hello.error()));
    co_return std::nullopt;
  }
  auto permission = security_->identities->for_token(port_name_, hello.token());
  if (!permission) {
    refuse_client(std::move(stream), port_name_, fmt::format("{} (wrong token)", not_authorised));
    co_return std::nullopt;
  }
  co_return permission;
}

}  // namespace ttynet::server
