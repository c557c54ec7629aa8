#include "ttynet/port/sysfs.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <system_error>

#include "ttynet/util/parse.hpp"

namespace ttynet::port {
namespace {

namespace fs = std::filesystem;

// sysfs directories between a tty and its USB device: interface, then device; a few more for
// hubs in between would still be far below this.
constexpr int max_walk_up = 8;

std::string read_attribute(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  const auto end = line.find_last_not_of(" \t\r\n");
  line.erase(end == std::string::npos ? 0 : end + 1);
  return line;
}

std::optional<std::uint16_t> parse_hex16(const std::string& text) {
  return parse_whole<std::uint16_t>(text, 16);
}

fs::path resolved(const fs::path& path) {
  std::error_code ec;
  auto canonical = fs::canonical(path, ec);
  return ec ? fs::path{} : canonical;
}

std::string link_name(const fs::path& link) { return resolved(link).filename().string(); }

std::optional<UsbIdentity> usb_identity_at(const fs::path& device_dir, const fs::path& sys_root) {
  const fs::path stop = resolved(sys_root);
  fs::path dir = device_dir;
  for (int depth = 0; depth < max_walk_up && !dir.empty() && dir != stop && dir != dir.root_path();
       ++depth, dir = dir.parent_path()) {
    std::error_code ec;
    if (!fs::exists(dir / "idVendor", ec) || !fs::exists(dir / "idProduct", ec)) continue;
    const auto vid = parse_hex16(read_attribute(dir / "idVendor"));
    const auto pid = parse_hex16(read_attribute(dir / "idProduct"));
    if (!vid || !pid) return std::nullopt;
    UsbIdentity usb;
    usb.vid = *vid;
    usb.pid = *pid;
    usb.serial = read_attribute(dir / "serial");
    usb.manufacturer = read_attribute(dir / "manufacturer");
    usb.product = read_attribute(dir / "product");
    return usb;
  }
  return std::nullopt;
}

// The driver of the hardware behind a tty. Since Linux 6.5 a serial_core tty hangs off
// "serial-base" port and controller devices whose drivers are the generic "port" and "ctrl";
// the interesting driver is on the first device above them.
std::string driver_at(fs::path device_dir) {
  for (int depth = 0; depth < max_walk_up && link_name(device_dir / "subsystem") == "serial-base";
       ++depth) {
    device_dir = device_dir.parent_path();
  }
  return link_name(device_dir / "driver");
}

// Splits at digit runs so that "ttyS2" < "ttyS10".
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  std::size_t j = 0;
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t i_end = i;
      std::size_t j_end = j;
      while (i_end < a.size() && is_digit(a[i_end])) ++i_end;
      while (j_end < b.size() && is_digit(b[j_end])) ++j_end;
      const auto a_digits = std::string_view(a).substr(i, i_end - i);
      const auto b_digits = std::string_view(b).substr(j, j_end - j);
      const auto a_trimmed =
          a_digits.substr(std::min(a_digits.find_first_not_of('0'), a_digits.size()));
      const auto b_trimmed =
          b_digits.substr(std::min(b_digits.find_first_not_of('0'), b_digits.size()));
      if (a_trimmed.size() != b_trimmed.size()) return a_trimmed.size() < b_trimmed.size();
      if (a_trimmed != b_trimmed) return a_trimmed < b_trimmed;
      i = i_end;
      j = j_end;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

// Device name ("ttyUSB0") -> its /dev/serial/by-id link.
std::map<std::string, std::string> by_id_links(const fs::path& dev_root) {
  std::map<std::string, std::string> links;
  std::error_code ec;
  fs::directory_iterator it(dev_root / "serial" / "by-id", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string target = link_name(it->path());
    if (!target.empty()) links.emplace(target, it->path().string());
  }
  return links;
}

}  // namespace

std::optional<UsbIdentity> usb_identity_of(const fs::path& device, const fs::path& sys_root) {
  fs::path real = resolved(device);
  if (real.empty()) real = device;
  const fs::path device_dir = resolved(sys_root / "class" / "tty" / real.filename() / "device");
  if (device_dir.empty()) return std::nullopt;
  return usb_identity_at(device_dir, sys_root);
}

std::vector<SerialPortEntry> list_serial_ports(const fs::path& sys_root, const fs::path& dev_root) {
  std::vector<SerialPortEntry> ports;
  const auto links = by_id_links(dev_root);
  std::error_code ec;
  fs::directory_iterator it(sys_root / "class" / "tty", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const fs::path device_dir = resolved(it->path() / "device");
    if (device_dir.empty()) continue;  // virtual terminals, pseudo-terminals
    if (read_attribute(it->path() / "type") == "0") continue;  // no UART behind it

    SerialPortEntry entry;
    entry.device = (dev_root / name).string();
    if (const auto link = links.find(name); link != links.end()) entry.by_id = link->second;
    entry.usb = usb_identity_at(device_dir, sys_root);
    entry.driver = driver_at(device_dir);
    ports.push_back(std::move(entry));
  }
  std::sort(ports.begin(), ports.end(), [](const SerialPortEntry& a, const SerialPortEntry& b) {
    return natural_less(a.device, b.device);
  });
  return ports;
}

}  // namespace ttynet::port
