// `ttynet list`: the local serial ports, as a table or as JSON; with --remote, the ports
// announced on the network over DNS-SD.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "ttynet/port/listing.hpp"
#include "ttynet/port/sysfs.hpp"
#include "ttynet/server/dnssd.hpp"

namespace ttynet::app {
namespace {

struct ListOptions {
  bool json = false;
  bool remote = false;
  double wait_seconds = 3;
};

std::string txt_value(const server::RemotePort& port, const std::string& key) {
  auto found = port.txt.find(key);
  return found == port.txt.end() || found->second.empty() ? "-" : found->second;
}

// One line per announced port: the URL to open, then what the announcement says of it.
int run_list_remote(const ListOptions& options) {
  const auto wait = std::chrono::milliseconds(static_cast<long>(options.wait_seconds * 1000));
  auto found = server::browse_remote_ports(wait);
  if (!found) {
    print_error(found.error().message);
    return 1;
  }
  if (found->empty()) {
    std::fprintf(stderr, "ttynet: no serial ports announced on the network (%s)\n",
                 std::string(server::serial_port_service_type).c_str());
    return 0;
  }
  std::vector<std::array<std::string, 4>> rows;
  rows.push_back({"URL", "NAME", "DEVICE", "SERVICE"});
  for (const auto& port : *found) {
    const std::string protocol = txt_value(port, "protocol");
    const std::string scheme = protocol == "raw" ? "socket" : "rfc2217";
    const bool is_v6 = port.address.find(':') != std::string::npos;
    const std::string host = is_v6 ? "[" + port.address + "]" : port.address;
    std::string device = txt_value(port, "device");
    if (port.txt.contains("vid") && port.txt.contains("pid"))
      device += " (" + txt_value(port, "vid") + ":" + txt_value(port, "pid") + ")";
    rows.push_back({scheme + "://" + host + ":" + std::to_string(port.port),
                    txt_value(port, "name"), device, port.service_name + " @ " + port.host});
  }
  std::array<std::size_t, 4> widths{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::puts(line.c_str());
  }
  return 0;
}

int run_list(const ListOptions& options) {
  if (options.remote) return run_list_remote(options);
  const auto ports = port::list_serial_ports();
  if (options.json) {
    std::fputs(port::format_port_json(ports).c_str(), stdout);
    return 0;
  }
  if (ports.empty()) {
    std::fputs("ttynet: no serial ports found\n", stderr);
    return 0;
  }
  std::fputs(port::format_port_table(ports).c_str(), stdout);
  return 0;
}

}  // namespace

void add_list_command(CLI::App& app) {
  auto options = std::make_shared<ListOptions>();
  auto* list =
      app.add_subcommand("list",
                         "List local serial ports: device, /dev/serial/by-id path, USB VID:PID, "
                         "manufacturer, product, serial number, driver");
  list->add_flag("--json", options->json,
                 "Print a JSON array of objects with the keys device, by_id, vid, pid, "
                 "manufacturer, product, serial_number, driver (null when not known)");
  auto* remote = list->add_flag(
      "--remote", options->remote,
      "List the serial ports announced on the network over DNS-SD (_serial_port._tcp: ttynet "
      "serve --config, pyserial's port_publisher); needs avahi-daemon");
  list->add_option("--wait", options->wait_seconds, "With --remote: seconds to browse at most")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 60.0))
      ->needs(remote);
  remote->excludes("--json");
  list->callback([options] { exit_code() = run_list(*options); });
}

}  // namespace ttynet::app
