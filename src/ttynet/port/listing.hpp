#pragma once
// What `ttynet list` prints about the serial ports list_serial_ports() found: an aligned table
// for people, a JSON array for scripts. Plain functions of the entries, no I/O.

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "ttynet/port/sysfs.hpp"

namespace ttynet::port {

// The keys of every JSON object, in the order they are written. Stable: scripts rely on them.
inline constexpr std::array<std::string_view, 8> port_json_keys = {
    "device", "by_id", "vid", "pid", "manufacturer", "product", "serial_number", "driver"};

// A header line and one line per port, columns separated by two spaces and aligned (widths
// counted in characters, not bytes), "-" for what is not known, the by-id path last and
// unpadded. Control characters in texts read from USB descriptors are shown as '?', so a
// device cannot send escape sequences to the terminal. Empty text for no ports.
//
//   DEVICE        VID:PID    DRIVER  MANUFACTURER  PRODUCT              SERIAL  BY-ID
//   /dev/ttyUSB0  10c4:ea60  cp210x  Silicon Labs  CP2102N USB to UART  0001    /dev/serial/...
std::string format_port_table(std::span<const SerialPortEntry> ports);

// A JSON array (indented by 2, ending in a newline; "[]\n" for no ports) of one object per port
// with all of port_json_keys. Values are strings, or null when not known or not applicable
// (vid, pid, manufacturer, product and serial_number of a port not on USB); vid and pid are four
// lower-case hex digits as lsusb and sysfs write them. Invalid UTF-8 becomes U+FFFD.
std::string format_port_json(std::span<const SerialPortEntry> ports);

}  // namespace ttynet::port
