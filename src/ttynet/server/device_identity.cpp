// Selecting, naming and keying a found device (see device_identity.hpp).

#include "ttynet/server/device_identity.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace ttynet::server {
namespace {

std::string hex4(std::optional<std::uint16_t> id) { return fmt::format("{:04x}", id.value_or(0)); }

}  // namespace

bool matches(const DeviceMatch& match, const DeviceFacts& device) {
  if (match.vid && device.vid != match.vid) return false;
  if (match.pid && device.pid != match.pid) return false;
  if (!match.serial.empty() && device.serial != match.serial) return false;
  if (!match.by_id.empty() && device.by_id.find(match.by_id) == std::string::npos) return false;
  return true;
}

std::string expand_name(std::string_view name_template, const DeviceFacts& device) {
  if (name_template.empty()) name_template = "{path-basename}";
  std::string basename = std::filesystem::path(device.path).filename().string();
  if (basename.empty()) basename = device.path;  // a port URL such as loop:// names itself
  std::string name;
  std::size_t at = 0;
  while (at < name_template.size()) {
    const auto open = name_template.find('{', at);
    const auto close = open == std::string_view::npos ? open : name_template.find('}', open);
    if (close == std::string_view::npos) {
      name += name_template.substr(at);
      break;
    }
    name += name_template.substr(at, open - at);
    const auto field = name_template.substr(open + 1, close - open - 1);
    if (field == "serial") {
      name += device.serial.empty() ? basename : device.serial;
    } else if (field == "vid") {
      name += hex4(device.vid);
    } else if (field == "pid") {
      name += hex4(device.pid);
    } else if (field == "path-basename") {
      name += basename;
    } else {
      name += name_template.substr(open, close - open + 1);  // not a placeholder: kept
    }
    at = close + 1;
  }
  return name;
}

std::string device_key(const DeviceFacts& device) {
  if (!device.serial.empty())
    return fmt::format("usb:{}:{}:{}", hex4(device.vid), hex4(device.pid), device.serial);
  return device.path;
}

}  // namespace ttynet::server
