#pragma once
// The command line: what to measure and how to print it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol.hpp"
#include "server_configs.hpp"

namespace ttynet::bench {

struct Options {
  std::string server_template;             // --server
  std::optional<Protocol> ser2net_mode;    // --ser2net
  bool ser2net_tuned = false;              // --tuned
  std::string ser2net_binary = "ser2net";  // --ser2net-bin
  std::string ttynet_config_binary;        // --ttynet-config
  std::optional<ServerTls> ttynet_tls;     // --tls-cert, --tls-key (absolute paths)
  std::string tls_ca;                      // --tls-ca: the client speaks TLS
  std::optional<Protocol> protocol;        // --protocol
  std::string label;                       // --label
  int iterations = 2000;
  int warmup = 200;
  double mib = 16;
  int connects = 20;
  int ports = 1;
  std::uint64_t window_kib = 256;
  bool json = false;
  bool header = true;
};

// Returns nothing when --help was asked for. After it, `protocol` and `label` are set.
std::optional<Options> parse_options(int argc, char** argv);

// The --help text.
std::string_view usage_text();

}  // namespace ttynet::bench
