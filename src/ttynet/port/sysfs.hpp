#pragma once
// What Linux's sysfs tells about serial devices: the USB adapter behind a tty and the list of
// serial ports for `ttynet list`. Missing files are not errors: they leave fields empty.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ttynet/port/port.hpp"

namespace ttynet::port {

struct SerialPortEntry {
  std::string device;  // "/dev/ttyUSB0"
  std::string by_id;   // "/dev/serial/by-id/usb-Silicon_Labs_...-port0", or empty
  std::optional<UsbIdentity> usb;
  std::string driver;  // "cp210x", "cdc_acm", "serial", ...
};

// The USB identity (idVendor, idProduct, serial, manufacturer, product) of the adapter behind
// the tty `device`; symlinks such as /dev/serial/by-id/... are resolved first. Nothing for a
// device that is not on USB or not a tty. `sys_root` is "/sys" except in tests.
std::optional<UsbIdentity> usb_identity_of(const std::filesystem::path& device,
                                           const std::filesystem::path& sys_root = "/sys");

// Serial ports that exist now: ttys with a device behind them, without the placeholder ports
// the 8250 driver registers for UARTs that are not there (their sysfs `type` is 0). Sorted by
// device name, numbers in natural order (ttyS2 before ttyS10).
std::vector<SerialPortEntry> list_serial_ports(const std::filesystem::path& sys_root = "/sys",
                                               const std::filesystem::path& dev_root = "/dev");

}  // namespace ttynet::port
