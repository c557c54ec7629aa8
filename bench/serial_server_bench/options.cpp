// The command line: what to measure and how to print it.

#include "options.hpp"

#include <charconv>
#include <filesystem>
#include <system_error>
#include <vector>

#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

namespace {

constexpr int max_ports = 256;

constexpr std::string_view usage =
    R"(usage: serial_server_bench (--server TEMPLATE | --ser2net rfc2217|raw [--tuned] |
                            --ttynet-config TTYNET [--tls-cert FILE --tls-key FILE])
                           [--protocol rfc2217|raw] [--tls-ca FILE] [--label NAME]
                           [--iterations N] [--warmup N] [--mib X] [--window KIB]
                           [--connects N] [--ports N] [--json] [--no-header]

Starts a serial-over-TCP server on fresh pseudo-terminals whose other ends play a device
(echo, sink or source), measures it over 127.0.0.1 and prints one table row (or one JSON
object with --json).

  --server TEMPLATE   command starting the server; {port} and {device} are replaced, e.g.
                        "ttynet serve --bind 127.0.0.1 -p {port} {device}"
                        "socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay {device},raw,echo=0"
                      (a server that serves one connection only must run with --protocol raw);
                      serving TLS (give --tls-ca too), e.g.
                        "ttynet serve --bind 127.0.0.1 -p {port} --tls-cert C --tls-key K {device}"
                        "socat OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay,cert=C,key=K,verify=0 {device},raw,echo=0"
  --ser2net MODE      run ser2net from a generated config: telnet(rfc2217) or plain tcp accepter
  --tuned             ser2net: chardelay off, 64 KiB buffers, TCP_NODELAY (default: its defaults)
  --ser2net-bin PATH  ser2net executable (default: ser2net)
  --ttynet-config TTYNET
                      run `TTYNET serve --config FILE` from a generated ports.toml: every port
                      in one process, speaking --protocol
  --tls-cert FILE, --tls-key FILE
                      --ttynet-config: serve TLS with this certificate chain and key (PEM;
                      tls_cert and tls_key in the config's [defaults]); needs --tls-ca
  --protocol P        client side: rfc2217 (Telnet + COM-PORT-OPTION) or raw
                      (default: the --ser2net mode; required with --server)
  --tls-ca FILE       client side: every connection speaks TLS (1.2 or later) and trusts the
                      server's certificate if it chains to this CA (PEM) and names localhost;
                      RFC 2217 negotiation times then include the handshake
  --label NAME        name of the row (default: derived from the server)
  --iterations N      measured 32-byte round trips (default 2000)
  --warmup N          unmeasured round trips before them (default 200)
  --mib X             MiB per throughput measurement (echo, sink, source; default 16);
                      with --ports, the total over all ports
  --window KIB        throughput: most payload in flight, sent but not verified (default 256)
  --connects N        rfc2217: connections timed for negotiation (default 20)
  --ports N           N ptys served at once (N server processes with --server, else one
                      process serving all), all driven together: negotiation of all N and echo
                      throughput only (default 1: every figure for one port)
  --json              print one JSON object instead of a table row
  --no-header         omit the table header line
)";

Protocol parse_protocol(std::string_view text, std::string_view option) {
  if (text == "rfc2217") {
    return Protocol::rfc2217;
  }
  if (text == "raw") {
    return Protocol::raw;
  }
  fail("{}: expected rfc2217 or raw, got '{}'", option, text);
}

template <typename Number>
Number parse_number(std::string_view text, std::string_view option, Number minimum) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < minimum) {
    fail("{}: expected a number >= {}, got '{}'", option, minimum, text);
  }
  return value;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        fail("{} needs a value", arg);
      }
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      return std::nullopt;
    } else if (arg == "--server") {
      options.server_template = value();
    } else if (arg == "--ser2net") {
      options.ser2net_mode = parse_protocol(value(), arg);
    } else if (arg == "--tuned") {
      options.ser2net_tuned = true;
    } else if (arg == "--ser2net-bin") {
      options.ser2net_binary = value();
    } else if (arg == "--ttynet-config") {
      options.ttynet_config_binary = value();
    } else if (arg == "--tls-cert" || arg == "--tls-key") {
      if (!options.ttynet_tls) {
        options.ttynet_tls.emplace();
      }
      const std::string file = std::filesystem::absolute(value()).string();
      (arg == "--tls-cert" ? options.ttynet_tls->cert : options.ttynet_tls->key) = file;
    } else if (arg == "--tls-ca") {
      options.tls_ca = value();
    } else if (arg == "--protocol") {
      options.protocol = parse_protocol(value(), arg);
    } else if (arg == "--label") {
      options.label = value();
    } else if (arg == "--iterations") {
      options.iterations = parse_number(value(), arg, 1);
    } else if (arg == "--warmup") {
      options.warmup = parse_number(value(), arg, 0);
    } else if (arg == "--mib") {
      options.mib = parse_number(value(), arg, 0.0);
      if (options.mib <= 0 || options.mib > 4096) {
        fail("--mib: expected 0 < X <= 4096");
      }
    } else if (arg == "--window") {
      options.window_kib = parse_number<std::uint64_t>(value(), arg, 1);
      if (options.window_kib > max_window_kib) {
        fail("--window: at most {} KiB", max_window_kib);
      }
    } else if (arg == "--connects") {
      options.connects = parse_number(value(), arg, 1);
    } else if (arg == "--ports") {
      options.ports = parse_number(value(), arg, 1);
      if (options.ports > max_ports) {
        fail("--ports: at most {}", max_ports);
      }
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-header") {
      options.header = false;
    } else {
      fail("unknown argument '{}' (see --help)", arg);
    }
  }
  if (!options.server_template.empty() + options.ser2net_mode.has_value() +
          !options.ttynet_config_binary.empty() !=
      1) {
    fail("give exactly one of --server, --ser2net and --ttynet-config (see --help)");
  }
  if (options.ser2net_tuned && !options.ser2net_mode) {
    fail("--tuned applies to --ser2net only");
  }
  if (options.ttynet_tls) {
    if (options.ttynet_config_binary.empty()) {
      fail("--tls-cert and --tls-key apply to --ttynet-config only");
    }
    if (options.ttynet_tls->cert.empty() || options.ttynet_tls->key.empty()) {
      fail("--tls-cert and --tls-key go together");
    }
    if (options.tls_ca.empty()) {
      fail("--tls-cert needs --tls-ca: the client must speak TLS too");
    }
  }
  if (!options.server_template.empty() &&
      (options.server_template.find("{port}") == std::string::npos ||
       options.server_template.find("{device}") == std::string::npos)) {
    fail("--server: the template needs {{port}} and {{device}}");
  }
  if (!options.protocol) {
    if (!options.ser2net_mode) {
      fail("--protocol is required with --server and --ttynet-config");
    }
    options.protocol = options.ser2net_mode;
  }
  if (options.label.empty()) {
    if (options.ser2net_mode) {
      options.label = options.ser2net_tuned ? "ser2net tuned" : "ser2net defaults";
    } else if (!options.ttynet_config_binary.empty()) {
      options.label = options.ttynet_tls ? "ttynet --config TLS" : "ttynet --config";
    } else {
      const std::string first =
          options.server_template.substr(0, options.server_template.find(' '));
      options.label = std::filesystem::path{first}.filename().string();
    }
  }
  return options;
}

std::string_view usage_text() { return usage; }

}  // namespace ttynet::bench
