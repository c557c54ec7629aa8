#pragma once
// Config files for the servers started from one: ser2net's YAML and ttynet's ports.toml.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "protocol.hpp"

namespace ttynet::bench {

// A pty the server exports, and the TCP port it does so on.
struct ServedPort {
  std::uint16_t tcp_port = 0;
  std::string device;
};

// What a server presents over TLS: its certificate chain and key, PEM files.
struct ServerTls {
  std::string cert;
  std::string key;
};

// A ser2net configuration (YAML, as read by ser2net 4.x): one connection per pty-backed port.
std::string ser2net_config(Protocol mode, bool tuned, std::span<const ServedPort> ports);

// A ttynet ports.toml: one entry per pty-backed port, TLS on all of them with `tls`,
// everything else at its default.
std::string ttynet_config(Protocol mode, const std::optional<ServerTls>& tls,
                          std::span<const ServedPort> ports);

}  // namespace ttynet::bench
