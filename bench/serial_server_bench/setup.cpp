// What a run measures: ptys with their far sides, and the server processes exporting them.

#include "setup.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/core.h>

#include "error.hpp"
#include "process_usage.hpp"
#include "server_configs.hpp"
#include "unique_fd.hpp"

namespace ttynet::bench {

namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A free TCP port on 127.0.0.1, found by binding port 0. Another process could take it before
// the server does; the startup wait then fails clearly.
std::uint16_t pick_free_port() {
  const UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0) {
    fail_errno("socket");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    fail_errno("bind 127.0.0.1:0");
  }
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    fail_errno("getsockname");
  }
  return ntohs(address.sin_port);
}

// `count` distinct free ports (the kernel may hand out a port again once it was released).
std::vector<std::uint16_t> pick_free_ports(int count) {
  std::vector<std::uint16_t> ports;
  for (int attempt = 0; attempt < 100 * count && std::ssize(ports) < count; ++attempt) {
    const std::uint16_t port = pick_free_port();
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) {
      ports.push_back(port);
    }
  }
  if (std::ssize(ports) < count) {
    fail("could not find {} free TCP ports", count);
  }
  return ports;
}

// One server process for every device, configured by a file; `{config}` in the command is
// replaced by its path.
void start_configured_server(Setup& setup, const std::string& file_name,
                             const std::string& contents, const std::string& command) {
  const std::filesystem::path config = setup.temp.path() / file_name;
  std::ofstream out{config};
  out << contents;
  out.close();
  if (!out) {
    fail("cannot write {}", config.string());
  }
  setup.logs.push_back(setup.temp.path() / "server.log");
  setup.servers.push_back(std::make_unique<ServerProcess>(
      replace_all(command, "{config}", config.string()), setup.logs.back()));
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "serial-bench.XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    fail_errno("mkdtemp");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::uncaught_exceptions() == 0) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

double Setup::server_cpu_seconds() const {
  double total = 0;
  for (const auto& server : servers) {
    total += ttynet::bench::server_cpu_seconds(server->pid());
  }
  return total;
}

std::uint64_t Setup::peak_rss_kib() const {
  std::uint64_t total = 0;
  for (const auto& server : servers) {
    total += server_peak_rss_kib(server->pid());
  }
  return total;
}

std::vector<int> Setup::done_fds() const {
  std::vector<int> fds;
  for (const Device& device : devices) {
    fds.push_back(device.far_side->done_fd());
  }
  return fds;
}

void open_devices(Setup& setup, int count) {
  const std::vector<std::uint16_t> ports = pick_free_ports(count);
  setup.devices.reserve(ports.size());
  for (const std::uint16_t port : ports) {
    Device& device =
        setup.devices.emplace_back(Device{.pty = open_pty(), .far_side = nullptr, .port = port});
    device.far_side = std::make_unique<FarSide>(device.pty.master.get(), setup.pattern);
  }
}

void start_servers(Setup& setup, const Options& options) {
  std::vector<ServedPort> ports;
  for (const Device& device : setup.devices) {
    ports.push_back(ServedPort{.tcp_port = device.port, .device = device.pty.slave_path});
  }
  if (options.ser2net_mode) {
    // -n: stay in the foreground, -d: log to stdout, -u: no UUCP lock files.
    start_configured_server(setup, "ser2net.yaml",
                            ser2net_config(*options.ser2net_mode, options.ser2net_tuned, ports),
                            fmt::format("{} -n -d -u -P {} -c {{config}}", options.ser2net_binary,
                                        (setup.temp.path() / "ser2net.pid").string()));
    return;
  }
  if (!options.ttynet_config_binary.empty()) {
    start_configured_server(setup, "ports.toml",
                            ttynet_config(*options.protocol, options.ttynet_tls, ports),
                            options.ttynet_config_binary + " serve --config {config}");
    return;
  }
  for (Device& device : setup.devices) {
    const std::string command =
        replace_all(replace_all(options.server_template, "{port}", std::to_string(device.port)),
                    "{device}", device.pty.slave_path);
    device.server = setup.servers.size();
    setup.logs.push_back(setup.temp.path() / (setup.devices.size() == 1
                                                  ? std::string{"server.log"}
                                                  : fmt::format("server-{}.log", device.server)));
    setup.servers.push_back(std::make_unique<ServerProcess>(command, setup.logs.back()));
  }
}

}  // namespace ttynet::bench
