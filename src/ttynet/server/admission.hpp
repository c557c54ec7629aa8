#pragma once
// Who may use a port, decided before a client reaches the device (docs/design/security.md):
// the access rules at accept, before any byte is read; then TLS on a TLS listener; then who the
// peer is (its verified certificate, or the token it presents) and the permission that gives.
// Each step can refuse: the peer is closed (told why in one line where it can read one) and
// logged, within the limits on lines about peers, with its address and the reason, never a
// secret.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/port/net_stream.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/tls.hpp"
#include "ttynet/server/access_rules.hpp"
#include "ttynet/server/identities.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/server/port_stats.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

// A port's security settings, shared by its listeners (main and monitor).
struct PortSecurity {
  AccessRules rules;
  port::TlsContext tls;  // null: plain TCP
  // Null or empty: whoever passes the rules and TLS may control the port.
  std::shared_ptr<const Identities> identities;
};

// A port's security from its options: the rules parsed, the TLS files and token files read.
// Errors are one sentence naming the option or file ("TLS key /k.pem is readable by group or
// others (chmod 600 it)"); identities that apply to the port but cannot be checked (no TLS)
// are an error too, never a silently open port.
Result<std::shared_ptr<const PortSecurity>, Error> make_port_security(
    const SecurityOptions& options, std::span<const IdentityOptions> identities,
    std::string_view port_name);

// A client let in, and what it may do.
struct Admitted {
  port::NetStream stream;
  Permission permission = Permission::control;
};

class Gate {
 public:
  // The TLS handshake and the token line each get this long.
  static constexpr std::chrono::seconds handshake_timeout{10};
  static constexpr std::chrono::seconds token_timeout{5};
  // Connections between accept and admission at once; more are refused at accept, so a flood
  // of stalled handshakes costs bounded memory.
  static constexpr std::size_t max_pending = 256;

  // `stats`: where refusals are counted; may be null.
  Gate(const asio::any_io_executor& executor, std::string port_name,
       std::shared_ptr<const PortSecurity> security, std::shared_ptr<PortStats> stats = nullptr);

  bool is_tls() const { return security_ && security_->tls; }
  // The first of `endpoints` that anyone beyond loopback can reach with nothing checked (no
  // TLS, no allow list): the listener to warn about. Nothing when there is none.
  std::optional<asio::ip::tcp::endpoint> open_to_all(
      const std::vector<asio::ip::tcp::endpoint>& endpoints) const;
  const PortSecurity* security() const { return security_.get(); }

  // At accept, before any byte is read: false when the peer is refused (closed and logged).
  bool passes_rules(asio::ip::tcp::socket& socket);
  // TLS, identity and permission. Nothing: refused, told and logged here.
  asio::awaitable<std::optional<Admitted>> admit(asio::ip::tcp::socket socket);
  // Ends the admissions in progress (their connections are shut down, so each step fails at
  // once) and waits until none is left. Later admissions are refused.
  asio::awaitable<void> close();

 private:
  asio::awaitable<std::optional<Admitted>> admit_plain_or_tls(asio::ip::tcp::socket socket);
  asio::awaitable<std::optional<Admitted>> identify(port::NetStream stream);
  // Reads the token line (one byte at a time, so the client's data after it stays in the
  // stream for the session); the permission it gives, or nothing when refused.
  asio::awaitable<std::optional<Permission>> read_token(port::NetStream& stream);

  void count(Refusal refusal);

  std::string port_name_;
  std::shared_ptr<const PortSecurity> security_;
  std::shared_ptr<PortStats> stats_;
  // The connections being admitted, by descriptor: close() shuts them down under the Asio
  // objects that own them, which then see the end of the stream.
  std::multiset<int> pending_;
  port::Notifier admission_ended_;
  bool is_closed_ = false;
};

}  // namespace ttynet::server
