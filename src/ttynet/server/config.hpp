#pragma once
// The multi-port configuration file (`ttynet serve --config ports.toml`), parsed into plain
// values. Sans-I/O apart from load_config() reading the file: no sockets, no devices, no clock.
//
//   [defaults]                  # every key a port entry may set, except its identity
//   protocol = "rfc2217"        # or "raw"
//   baud = 115200
//   bind = "0.0.0.0"
//   keepalive = 60              # seconds until a vanished client frees its port (0: never)
//   idle_timeout = 0            # seconds without input before a client is closed (0: never)
//   max_clients = 1             # controlling clients at once
//   scrollback = "64KiB"        # device output a new client gets first (unset: monitors only)
//   takeover = "never"          # or "idle" (after takeover_idle seconds) or "always"
//   tls_cert = "server.pem"     # with tls_key (and tls_client_ca): TLS on the listeners
//   allow = ["10.0.0.0/8"]      # and deny: access rules
//
//   [[port]]
//   name = "lab-esp32-1"
//   device = "/dev/serial/by-id/usb-..."   # a path, a port URL or a glob
//   tcp_port = 4001
//   esp = true
//
//   [[port]]
//   name = "cp210x-{serial}"
//   match = { vid = "10c4", pid = "ea60" }  # every matching USB serial device
//   tcp_port_base = 4100
//
//   [http]                      # the web dashboard, /api/ports and /metrics
//   listen = "127.0.0.1:8080"   # "PORT" (loopback), "ADDRESS:PORT", "*:PORT"
//   tls_cert = "server.pem"     # with tls_key, tls_client_ca, allow, deny as for ports
//
//   [[identity]]                # who may do what: a token file or a certificate subject
//   token_file = "/etc/ttynet/ci.token"
//   ports = ["esp-*"]           # names or globs; default: every port
//   permission = "control"      # or "monitor"
//
// Errors are one line naming the file, the line, the column and the key:
// "ports.toml:7:8: port 1, 'baud': expected an integer from 1 to 100000000", with the code
// std::errc::invalid_argument (or the system's error when the file cannot be read).
//
// The devices an entry finds, and the names they are served under: device_identity.hpp.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/server/device_identity.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

struct PortEntry {
  enum class Source : std::uint8_t {
    url,    // a port URL (sim://esp32, loop://, rfc2217://...): always there
    path,   // one device path: served while it exists
    glob,   // every path the pattern matches
    match,  // every USB serial device `match` selects
  };

  // The name in logs and DNS-SD; may hold {serial}, {vid}, {pid} and {path-basename}.
  std::string name;
  Source source = Source::path;
  std::string device;  // the URL, path or pattern (empty for Source::match)
  DeviceMatch match;   // for Source::match
  // A fixed port, or with is_port_base the first of a range: each device the entry finds gets
  // base + an offset that stays its own for the life of the process.
  std::uint16_t tcp_port = 0;
  bool is_port_base = false;
  // Read-only listeners; a base like tcp_port when is_port_base.
  std::optional<std::uint16_t> monitor_port;
  Protocol protocol = Protocol::rfc2217;
  // The device's settings while no client has changed them: `baud` in the file (8N1); a
  // ser2net connector's whole specification.
  LineSettings initial_settings{};
  std::optional<std::string> bind;  // nothing = all interfaces
  std::optional<EspOptions> esp;    // nothing = no ESP reset handling
  ClientLimits clients;
  SharingOptions sharing;
  SecurityOptions security;
  // Every [[identity]] of the file: each applies to the ports it names.
  std::vector<IdentityOptions> identities;

  std::size_t line = 0;  // where the entry starts in the file; not part of ==

  // True when the entry may stand for more than one device.
  bool is_multi_device() const { return source == Source::glob || source == Source::match; }
  friend bool operator==(const PortEntry& a, const PortEntry& b);
};

struct ServerConfig {
  std::vector<PortEntry> ports;
  std::optional<HttpOptions> http;  // [http]: the dashboard; nothing = none
};

// Parses the text of a config file; `source_name` is the file name used in errors.
Result<ServerConfig, Error> parse_config(std::string_view text, std::string_view source_name);
// Reads and parses a file. Errors start with the file name.
Result<ServerConfig, Error> load_config(const std::filesystem::path& file);

// A file of [[identity]] tables only (`serve --access FILE`), with the same errors.
Result<std::vector<IdentityOptions>, Error> parse_identities(std::string_view text,
                                                             std::string_view source_name);
Result<std::vector<IdentityOptions>, Error> load_identities(const std::filesystem::path& file);

}  // namespace ttynet::server
