#include <fmt/format.h>

#include "ttynet/port/port.hpp"

namespace ttynet::port {

std::string describe(const PortInfo& info) {
  std::string text = info.path.empty() ? info.url : info.path;
  if (!info.usb) return text;
  const UsbIdentity& usb = *info.usb;
  text += fmt::format(" (USB {:04x}:{:04x}", usb.vid, usb.pid);
  if (!usb.product.empty()) {
    text += " " + usb.product;
  } else if (!usb.manufacturer.empty()) {
    text += " " + usb.manufacturer;
  }
  if (!usb.serial.empty()) text += ", serial " + usb.serial;
  text += ")";
  return text;
}

}  // namespace ttynet::port
