#pragma once
// Serving choices shared by `ttynet serve`'s options and the config file (no Asio here, so the
// config parser stays sans-I/O).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

enum class Protocol : std::uint8_t { rfc2217, raw };

// Server-side ESP reset handling (`--esp`): when a client's DTR/RTS requests show that it is
// resetting an Espressif chip (esp::ResetDetector), the server plays these sequences on the
// device itself, with exact timing. Every request is still answered, with the value the client
// asked for.
struct EspResetConfig {
  esp::ResetSequence bootloader = esp::tight_reset();
  esp::ResetSequence hard = esp::hard_reset();
};

// The `--esp` options as the user gave them (command line or config file).
struct EspOptions {
  bool r0 = false;                  // hold GPIO0 low longer (ESP32 revision 0)
  std::string reset_sequence;       // esptool syntax; empty = the built-in tight reset
  std::string hard_reset_sequence;  // esptool syntax; empty = the built-in hard reset

  friend bool operator==(const EspOptions&, const EspOptions&) = default;
};

// Which option a bad sequence came from, so the command line and the config file can each
// name it their own way; a ttynet::Error would hold only the finished sentence.
struct EspOptionError {
  enum class Field : std::uint8_t { reset_sequence, hard_reset_sequence };
  Field field = Field::reset_sequence;
  std::string message;  // from esp::parse_reset_sequence
};

// How the server lets go of clients that are gone or stuck (`--keepalive`, `--idle-timeout`;
// `keepalive`, `idle_timeout` in the config file).
struct ClientLimits {
  // A client whose connection stays silent to TCP keepalive probes, or takes no data the
  // server has for it, is dropped within about this long (0: never). It bounds how long a
  // vanished client (NAT timeout, dropped VPN, pulled cable) holds its port.
  std::chrono::seconds keepalive{60};
  // A controlling client that sends nothing for this long is closed with a notice (0: never).
  std::chrono::seconds idle_timeout{0};

  friend bool operator==(const ClientLimits&, const ClientLimits&) = default;
};
inline constexpr std::chrono::seconds max_client_limit{24 * 3600};

// What a client that finds every controlling place taken may do (`--takeover`, `takeover`).
// `never`: it is refused. `idle`: it replaces the controller that has sent nothing for longest,
// if that is at least SharingOptions::takeover_idle. `always`: it replaces the longest idle
// controller whatever its idle time. The replaced client gets a one-line notice and is closed.
enum class Takeover : std::uint8_t { never, idle, always };

std::string_view to_string(Takeover takeover);  // "never", "idle", "always"
std::optional<Takeover> parse_takeover(std::string_view text);

inline constexpr std::size_t default_monitor_scrollback = std::size_t{64} * 1024;
inline constexpr std::size_t max_scrollback = std::size_t{16} * 1024 * 1024;
inline constexpr std::uint32_t max_controllers = 100;

// How one port is shared (`--max-clients`, `--scrollback`, `--takeover`, `--takeover-idle`;
// the same keys with underscores in the config file). README "Sharing a port" has the rules.
struct SharingOptions {
  // Controlling clients at once. Beyond one, every controller gets the device's output, any
  // may write and change settings, and a flash (an ESP reset or paced frames) holds the
  // others' input back until it is over.
  std::uint32_t max_clients = 1;
  // Device output kept for clients that come later, in bytes. Set: every new client,
  // controller or monitor, gets up to that much first. Unset: monitors get up to
  // default_monitor_scrollback, controllers nothing. 0: nobody gets any.
  std::optional<std::size_t> scrollback{};
  Takeover takeover = Takeover::never;
  std::chrono::seconds takeover_idle{60};  // with Takeover::idle

  // The bytes each kind of client gets; the port keeps for_monitors(), never less.
  std::size_t for_controllers() const { return scrollback.value_or(0); }
  std::size_t for_monitors() const { return scrollback.value_or(default_monitor_scrollback); }

  friend bool operator==(const SharingOptions&, const SharingOptions&) = default;
};

// What an identity may do on a port. `control`: a controlling client, as without identities.
// `monitor`: read-only, as a monitor-port client. control is the stronger.
enum class Permission : std::uint8_t { control, monitor };

std::string_view to_string(Permission permission);  // "control", "monitor"
std::optional<Permission> parse_permission(std::string_view text);

// TLS and access rules of a port's listeners (`--tls-cert`, `--allow`, ...; `tls_cert`, `allow`,
// ... in the config file). The files are read when the port starts.
struct SecurityOptions {
  std::string tls_cert{};
  std::string tls_key{};
  std::string tls_client_ca{};       // empty: no client certificates asked for
  std::vector<std::string> allow{};  // networks, "192.0.2.0/24"; empty: any not denied
  std::vector<std::string> deny{};

  friend bool operator==(const SecurityOptions&, const SecurityOptions&) = default;
};

// Where the dashboard listens (`--http`, `listen` in [http]): "PORT" (on loopback),
// "ADDRESS:PORT", "[IPv6]:PORT", or "*:PORT" (all interfaces).
struct HttpListen {
  std::optional<std::string> bind_address{};  // nothing = all interfaces
  std::uint16_t tcp_port = 0;

  friend bool operator==(const HttpListen&, const HttpListen&) = default;
};
std::optional<HttpListen> parse_http_listen(std::string_view text);

// The dashboard of `serve --config` ([http] in the file): where, and its TLS and access rules.
struct HttpOptions {
  HttpListen listen{};
  SecurityOptions security{};

  friend bool operator==(const HttpOptions&, const HttpOptions&) = default;
};

// Who may use which ports (`[[identity]]` in the config file, `serve --access FILE`): a token
// file or a certificate subject, the ports (names or globs; empty: all), and a permission.
struct IdentityOptions {
  std::string token_file{};
  std::string certificate_subject{};  // "CN=ci-runner,O=lab", in RFC 2253 order
  std::vector<std::string> ports{};
  Permission permission = Permission::control;

  friend bool operator==(const IdentityOptions&, const IdentityOptions&) = default;
};

// The sequences `--esp` plays for these options.
Result<EspResetConfig, EspOptionError> make_esp_reset_config(const EspOptions& options);

}  // namespace ttynet::server
