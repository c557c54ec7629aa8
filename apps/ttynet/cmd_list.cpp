// `ttynet list`: the local serial ports, as a table or as JSON.

#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "ttynet/port/listing.hpp"
#include "ttynet/port/sysfs.hpp"

namespace ttynet::app {
namespace {

struct ListOptions {
  bool json = false;
};

int run_list(const ListOptions& options) {
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
  list->callback([options] { exit_code() = run_list(*options); });
}

}  // namespace ttynet::app
