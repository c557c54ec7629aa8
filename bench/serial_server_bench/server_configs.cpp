// Config files for the servers started from one: ser2net's YAML and ttynet's ports.toml.

#include "server_configs.hpp"

#include <fmt/core.h>

#include "limits.hpp"

namespace ttynet::bench {

namespace {

// A TOML basic string.
std::string toml_string(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + '"';
}

}  // namespace

std::string ser2net_config(Protocol mode, bool tuned, std::span<const ServedPort> ports) {
  const std::string tcp = tuned ? "tcp(nodelay)" : "tcp";
  std::string config = "%YAML 1.1\n---\n";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const auto& [port, device] = ports[i];
    const std::string accepter = mode == Protocol::rfc2217
                                     ? fmt::format("telnet(rfc2217),{},127.0.0.1,{}", tcp, port)
                                     : fmt::format("{},127.0.0.1,{}", tcp, port);
    config += fmt::format(
        "connection: &bench{}\n"
        "  accepter: {}\n"
        "  connector: serialdev,{},{}n81,local\n",
        i, accepter, device, line_baud);
    if (tuned) {
      config +=
          "  options:\n"
          "    chardelay: false\n"
          "    dev-to-net-bufsize: 65536\n"
          "    net-to-dev-bufsize: 65536\n";
    }
  }
  return config;
}

std::string ttynet_config(Protocol mode, const std::optional<ServerTls>& tls,
                          std::span<const ServedPort> ports) {
  std::string config =
      fmt::format("[defaults]\nprotocol = \"{}\"\nbind = \"127.0.0.1\"\nbaud = {}\n",
                  to_string(mode), line_baud);
  if (tls) {
    config +=
        fmt::format("tls_cert = {}\ntls_key = {}\n", toml_string(tls->cert), toml_string(tls->key));
  }
  for (const auto& [port, device] : ports) {
    config += fmt::format("\n[[port]]\ndevice = \"{}\"\ntcp_port = {}\n", device, port);
  }
  return config;
}

}  // namespace ttynet::bench
