// `ttynet serve`: export one port over RFC 2217 or raw TCP, or many from a config file.

#include <asio/io_context.hpp>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "serve_common.hpp"
#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/server/admission.hpp"
#include "ttynet/server/config.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/server/port_host.hpp"
#include "ttynet/util/parse.hpp"
#include "ttynet/version.hpp"

namespace ttynet::app {
namespace {

struct ServeOptions {
  std::string device;
  std::string config_file;
  std::optional<std::uint16_t> monitor_port;  // read-only listener (0 = any free port)
  std::uint16_t tcp_port = 2217;
  std::string bind;
  bool raw = false;
  std::uint32_t baud = 115200;
  int verbosity = 0;
  bool esp = false;
  bool r0 = false;
  std::string reset_sequence;
  std::string hard_reset_sequence;
  std::uint32_t keepalive = default_keepalive_seconds;
  std::uint32_t idle_timeout = 0;
  server::SecurityOptions security;
  std::string access_file;  // [[identity]] tables
  std::uint32_t max_clients = 1;
  std::string scrollback;  // a size, "64KiB"; empty: the default
  std::string takeover = "never";
  std::uint32_t takeover_idle = 60;
  std::optional<server::HttpListen> http;  // the dashboard's address; nothing: none
};

// The sharing options, checked by CLI11 already.
server::SharingOptions sharing_options(const ServeOptions& options) {
  server::SharingOptions sharing;
  sharing.max_clients = options.max_clients;
  if (!options.scrollback.empty()) sharing.scrollback = parse_byte_size(options.scrollback);
  sharing.takeover = server::parse_takeover(options.takeover).value_or(server::Takeover::never);
  sharing.takeover_idle = std::chrono::seconds(options.takeover_idle);
  return sharing;
}

// The --esp sequences, or why the options do not make one.
Result<server::EspResetConfig, Error> esp_reset_config(const ServeOptions& options) {
  auto config = server::make_esp_reset_config(
      {options.r0, options.reset_sequence, options.hard_reset_sequence});
  if (config) return std::move(*config);
  const bool is_hard = config.error().field == server::EspOptionError::Field::hard_reset_sequence;
  return make_error(
      std::errc::invalid_argument,
      (is_hard ? "--hard-reset-sequence: " : "--reset-sequence: ") + config.error().message);
}

// `serve --config FILE`: every port of the file on one io_context; SIGHUP reads it again.
int run_serve_config(const ServeOptions& options) {
  configure_logging(options.verbosity);
  auto config = server::load_config(options.config_file);
  if (!config) {
    print_error(config.error().message);
    return 1;
  }
  return serve_ports(std::move(*config),
                     {.config_file = options.config_file, .dns_sd = true, .http = options.http});
}

int run_serve(const ServeOptions& options) {
  if (!options.config_file.empty()) return run_serve_config(options);
  if (options.device.empty()) {
    print_error("serve: give a DEVICE to export, or --config FILE");
    return 1;
  }
  configure_logging(options.verbosity);
  server::AsyncLog async_log;
  asio::io_context io(1);
  server::PortHostConfig config;
  config.device_url = options.device;
  config.tcp_port = options.tcp_port;
  if (!options.bind.empty()) config.bind_address = options.bind;
  config.protocol = options.raw ? server::Protocol::raw : server::Protocol::rfc2217;
  config.monitor_port = options.monitor_port;
  config.clients = {.keepalive = std::chrono::seconds(options.keepalive),
                    .idle_timeout = std::chrono::seconds(options.idle_timeout)};
  config.sharing = sharing_options(options);
  LineSettings initial;
  initial.baud = options.baud;
  config.initial_settings = initial;
  if (options.esp) {
    if (options.raw) {
      print_error("--esp needs RFC 2217 (a raw client cannot ask for DTR/RTS changes)");
      return 1;
    }
    auto esp_reset = esp_reset_config(options);
    if (!esp_reset) {
      print_error(esp_reset.error().message);
      return 1;
    }
    config.esp_reset = std::move(*esp_reset);
  }

  std::vector<server::IdentityOptions> identities;
  if (!options.access_file.empty()) {
    auto loaded = server::load_identities(options.access_file);
    if (!loaded) {
      print_error(loaded.error().message);
      return 1;
    }
    identities = std::move(*loaded);
  }
  auto security = server::make_port_security(options.security, identities, options.device);
  if (!security) {
    print_error(security.error().message);
    return 1;
  }
  config.security = std::move(*security);
  // The dashboard takes the port's TLS and access rules.
  std::unique_ptr<server::HttpHost> dashboard;
  if (options.http) {
    config.directory = std::make_shared<server::PortDirectory>();
    dashboard = open_dashboard(io, {.listen = *options.http, .security = options.security},
                               config.directory);
    if (!dashboard) return finish(async_log, 1);
  }

  server::PortHost host(io.get_executor(), config);
  const int code = serve_until_signalled(io, host, dashboard.get());
  return finish(async_log, code);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand(
      "serve", "Export a serial port over RFC 2217 or raw TCP, or many ports from a config file");
  auto* device = serve->add_option("DEVICE", options->device,
                                   "Port to export: a device path, loop://, or another port URL");
  auto* config = serve->add_option(
      "--config", options->config_file,
      "Export the ports a TOML file lists (devices, globs, USB matches; hot-plug; SIGHUP "
      "reloads it)");
  config->excludes(device);
  auto* port =
      serve->add_option("-p,--port", options->tcp_port, "TCP port to listen on (0 = any free port)")
          ->capture_default_str();
  auto* bind = serve->add_option("--bind", options->bind,
                                 "Address to listen on (default: all interfaces, IPv4 and IPv6)");
  auto* raw =
      serve->add_flag("--raw", options->raw, "Raw TCP instead of RFC 2217 (bytes pass untouched)");
  auto* baud = serve->add_option("-b,--baud", options->baud, "Initial baud rate")
                   ->capture_default_str()
                   ->check(CLI::Range(1u, 100'000'000u));
  auto* monitor = serve->add_option(
      "--monitor-port", options->monitor_port,
      "Also listen here for read-only clients: each gets the device's output, their input is "
      "ignored (0 = any free port)");
  auto* keepalive = add_keepalive_option(*serve, options->keepalive);
  add_http_option(*serve, options->http);
  auto* idle = serve
                   ->add_option("--idle-timeout", options->idle_timeout,
                                "Close a client that sends nothing for this many seconds, with a "
                                "notice (0 = never)")
                   ->capture_default_str()
                   ->check(client_limit_range());
  auto* tls_cert = serve->add_option(
      "--tls-cert", options->security.tls_cert,
      "Serve over TLS (1.2 or later) with this PEM certificate chain; needs --tls-key");
  auto* tls_key = serve->add_option("--tls-key", options->security.tls_key,
                                    "The certificate's PEM private key (mode 600: readable by its "
                                    "owner only)");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  auto* client_ca = serve
                        ->add_option("--tls-client-ca", options->security.tls_client_ca,
                                     "Ask clients for a certificate signed by this CA, and "
                                     "refuse those without one (unless --access gives tokens)")
                        ->needs(tls_cert);
  auto* allow = serve->add_option("--allow", options->security.allow,
                                  "Let only these addresses or networks connect, e.g. "
                                  "192.0.2.0/24 or 2001:db8::/32 (repeatable)");
  auto* deny = serve->add_option("--deny", options->security.deny,
                                 "Refuse these addresses or networks (repeatable; wins over "
                                 "--allow)");
  auto* access = serve->add_option(
      "--access", options->access_file,
      "TOML file of [[identity]] tables: token files or certificate subjects, and the "
      "permission each gets (\"control\" or \"monitor\"); needs TLS");
  auto* max_clients =
      serve
          ->add_option("--max-clients", options->max_clients,
                       "Controlling clients at once: each gets the device's output and may write "
                       "and change settings; a flash holds the others' input back")
          ->capture_default_str()
          ->check(CLI::Range(1u, server::max_controllers));
  auto* scrollback =
      serve
          ->add_option("--scrollback", options->scrollback,
                       "Device output a new client gets first, e.g. 64KiB (default: 64KiB for "
                       "monitors, none for controllers; 0: none)")
          ->check(CLI::Validator(
              [](const std::string& text) -> std::string {
                const auto size = parse_byte_size(text);
                if (size && *size <= server::max_scrollback) return {};
                return "expected a size up to 16MiB, e.g. 64KiB";
              },
              "SIZE"));
  auto* takeover =
      serve
          ->add_option("--takeover", options->takeover,
                       "When every controlling place is taken, a new client replaces the "
                       "longest idle controller: never, idle (after --takeover-idle) or always")
          ->capture_default_str()
          ->check(CLI::IsMember({"never", "idle", "always"}));
  auto* takeover_idle = serve
                            ->add_option("--takeover-idle", options->takeover_idle,
                                         "Seconds without input after which --takeover idle "
                                         "may replace a controller")
                            ->capture_default_str()
                            ->check(client_limit_range());
  serve->add_flag("-v,--verbose", options->verbosity, "More log output (repeatable)");
  auto* esp = serve->add_flag(
      "--esp", options->esp,
      "Espressif reset handling: recognise esptool's DTR/RTS reset sequences and run them here "
      "with exact timing, so a chip enters its loader at any network latency");
  serve->add_flag("--r0", options->r0, "With --esp: hold GPIO0 low 0.55 s instead of 0.05 s")
      ->needs(esp);
  serve
      ->add_option("--reset-sequence", options->reset_sequence,
                   "With --esp: the bootloader sequence to run, in esptool's syntax "
                   "(default U0,0|U1,1|U0,1|W0.1|U1,0|W0.05|U0,0|D0)")
      ->needs(esp);
  serve
      ->add_option("--hard-reset-sequence", options->hard_reset_sequence,
                   "With --esp: the hard-reset sequence to run (default R1|W0.1|R0)")
      ->needs(esp);
  for (auto* single_port_option :
       {port, bind, raw, baud, monitor, esp, keepalive, idle, tls_cert, tls_key, client_ca, allow,
        deny, access, max_clients, scrollback, takeover, takeover_idle}) {
    config->excludes(single_port_option);
  }
  serve->callback([options] { exit_code() = run_serve(*options); });
}

int run_esp_rfc2217_server(int argc, char** argv) {
  ServeOptions options;
  options.esp = true;
  CLI::App app{"RFC 2217 server with Espressif reset handling (ttynet serve --esp)",
               "esp_rfc2217_server"};
  app.set_version_flag("--version", std::string("ttynet ") + ttynet::version);
  app.add_option("SERIALPORT", options.device, "Serial port or port URL to export")->required();
  app.add_option("-p,--localport", options.tcp_port, "Local TCP port")->capture_default_str();
  app.add_flag("-v,--verbose", options.verbosity, "More log output (repeatable)");
  app.add_flag("--r0", options.r0, "Hold GPIO0 low 0.55 s (ESP32 revision 0)");
  app.footer(
      "Clients connect with rfc2217://HOST:PORT, with or without ?ign_set_control. One client "
      "at a time; no authentication: anyone who can reach the port can use it.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  return run_serve(options);
}

}  // namespace ttynet::app
