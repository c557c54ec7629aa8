// `ttynet-ser2net`: ser2net 4.x's command line, for labgrid's exporter. A link named `ser2net`
// first on the exporter's PATH runs ttynet in its place; the ports are served as `serve
// --config` serves them.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "serve_common.hpp"
#include "ttynet/server/config.hpp"
#include "ttynet/server/ser2net_yaml.hpp"
#include "ttynet/version.hpp"

namespace ttynet::app {
namespace {

// What `-v` says: ser2net's three words, so that tools reading the third as ser2net's version
// (labgrid's exporter picks its YAML command line from 4.2 on) know what this one takes.
constexpr std::string_view ser2net_compatible_version = "4.6.2";
// Set to 1 in the exporter's environment: every RFC 2217 port gets `--esp`.
constexpr const char* esp_variable = "TTYNET_SER2NET_ESP";

struct Ser2netOptions {
  std::vector<std::string> yaml;  // -Y fragments
  std::string config_file;        // -c
  std::string pid_file;           // -P
  bool esp = false;
  int verbosity = 0;
};

// The ports to serve, or why the connections cannot be served.
Result<server::ServerConfig, Error> to_server_config(
    const std::vector<server::Ser2netConnection>& connections, bool esp) {
  server::ServerConfig config;
  for (const auto& connection : connections) {
    if (!connection.enabled) continue;
    server::PortEntry entry;
    entry.name =
        connection.name.empty() ? fmt::format("con{}", config.ports.size() + 1) : connection.name;
    entry.source = server::PortEntry::Source::path;
    entry.device = connection.device;
    entry.tcp_port = connection.tcp_port;
    entry.bind = connection.bind;
    entry.protocol = connection.protocol;
    entry.initial_settings = connection.settings;
    entry.sharing.max_clients = connection.max_connections;
    if (connection.kick_old_user) entry.sharing.takeover = server::Takeover::always;
    entry.clients.idle_timeout = connection.timeout;
    if (esp && connection.protocol == server::Protocol::rfc2217) entry.esp = server::EspOptions{};
    if (!connection.banner.empty() || !connection.signature.empty()) {
      spdlog::warn("connection {}: 'banner' and 'signature' are not served; ignored", entry.name);
    }
    config.ports.push_back(std::move(entry));
  }
  if (config.ports.empty()) {
    return make_error(std::errc::invalid_argument, "ser2net config: no enabled connection");
  }
  return config;
}

Result<std::vector<server::Ser2netConnection>, Error> read_connections(
    const Ser2netOptions& options) {
  if (!options.yaml.empty()) return server::parse_ser2net_fragments(options.yaml);
  std::ifstream file(options.config_file);
  if (!file) {
    return make_error(std::errc::no_such_file_or_directory,
                      fmt::format("{}: cannot read the file", options.config_file));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return server::parse_ser2net_yaml(text.str(), options.config_file);
}

int run(const Ser2netOptions& options) {
  configure_logging(options.verbosity);
  if (options.yaml.empty() == options.config_file.empty()) {
    print_error("ser2net: give the connections with -Y YAML (repeatable) or -c FILE");
    return 1;
  }
  auto connections = read_connections(options);
  if (!connections) {
    print_error(connections.error().message);
    return 1;
  }
  auto config = to_server_config(*connections, options.esp);
  if (!config) {
    print_error(config.error().message);
    return 1;
  }
  if (!options.pid_file.empty()) {
    std::ofstream pid(options.pid_file);
    pid << ::getpid() << '\n';
    if (!pid) {
      print_error(fmt::format("{}: cannot write the pid file", options.pid_file));
      return 1;
    }
  }
  return serve_ports(std::move(*config), {});
}

}  // namespace

int run_ser2net(int argc, char** argv) {
  Ser2netOptions options;
  const char* esp = std::getenv(esp_variable);
  options.esp = esp != nullptr && std::string_view(esp) == "1";
  CLI::App app{
      "ser2net-compatible entry point: serves the connections of a ser2net 4.x YAML "
      "configuration with ttynet",
      "ttynet-ser2net"};
  bool version = false;
  app.add_flag("-v", version, "Print the ser2net version this accepts, and exit");
  app.add_option("-Y", options.yaml,
                 "A piece of YAML configuration, '#' as a line break (repeatable; "
                 "labgrid's exporter passes its connection this way)");
  app.add_option("-c", options.config_file, "A ser2net.yaml file");
  app.add_option("-P", options.pid_file, "Write the process id to this file");
  bool ignored = false;
  app.add_flag("-d", ignored, "Stay in the foreground, log to stderr (always so)");
  app.add_flag("-n", ignored, "Read no default configuration file (never read)");
  app.add_flag("-u", ignored, "No UUCP locks (never taken: ttynet opens devices exclusively)");
  app.add_flag("--esp", options.esp,
               fmt::format("Espressif reset handling on every RFC 2217 port, as serve --esp "
                           "(or {}=1 in the environment)",
                           esp_variable));
  app.add_flag("--verbose", options.verbosity, "More log output (repeatable)");
  app.footer(fmt::format(
      "\nttynet {}. For labgrid: make a link named ser2net to this program in a directory put "
      "first on the exporter's PATH (never replace Debian's /usr/sbin/ser2net). Accepters: "
      "telnet(rfc2217[,mode=server]),tcp,[ADDR,]PORT (RFC 2217) and tcp,[ADDR,]PORT (raw); "
      "connector: serialdev[(nouucplock=true)],DEVICE,115200n81[,local]; options: "
      "max-connections (several controlling clients), kickolduser (a newcomer takes over).",
      ttynet::version));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (version) {
    std::printf("ttynet-ser2net version %.*s\n",
                static_cast<int>(ser2net_compatible_version.size()),
                ser2net_compatible_version.data());
    return 0;
  }
  return run(options);
}

}  // namespace ttynet::app
