#pragma once
// A serial device a port entry found, as plain values: what is known of it (DeviceFacts),
// whether a config's `match` selects it, the name it is served under and the key that gives
// it back its TCP port after a replug. No I/O: the port manager gathers the facts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ttynet::server {

// A USB serial device selected by what the kernel knows of it; empty fields match anything.
struct DeviceMatch {
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::string serial;  // the whole USB serial number
  std::string by_id;   // a substring of the /dev/serial/by-id path

  friend bool operator==(const DeviceMatch&, const DeviceMatch&) = default;
};

// What is known of a device an entry found; empty fields are unknown.
struct DeviceFacts {
  std::string path;  // as found (the glob match, the configured path, or /dev/ttyUSB0)
  std::string by_id;
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::string serial;

  // A device known only by its path.
  static DeviceFacts at_path(std::string path) {
    DeviceFacts device;
    device.path = std::move(path);
    return device;
  }
};

bool matches(const DeviceMatch& match, const DeviceFacts& device);

// The entry's name for one device: {serial}, {vid}, {pid} (four lower-case hex digits) and
// {path-basename} replaced; an unknown value (a device not on USB) becomes the path's basename
// for {serial} and "0000" for {vid} and {pid}. An empty name template means "{path-basename}".
std::string expand_name(std::string_view name_template, const DeviceFacts& device);

// The key under which a device keeps its TCP port offset: the USB serial number when there is
// one (so a replugged adapter gets its port back under any device name), else the path.
std::string device_key(const DeviceFacts& device);

}  // namespace ttynet::server
