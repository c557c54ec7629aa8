#include "ttynet/port/listing.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace ttynet::port {
namespace {

// A CP2102N on USB with its by-id link, and a 16550 on the mainboard with nothing else known.
std::vector<SerialPortEntry> two_ports() {
  SerialPortEntry usb;
  usb.device = "/dev/ttyUSB0";
  usb.by_id = "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0";
  usb.usb = UsbIdentity{0x10c4, 0xea60, "0001", "Silicon Labs", "CP2102N USB to UART"};
  usb.driver = "cp210x";
  SerialPortEntry uart;
  uart.device = "/dev/ttyS0";
  uart.driver = "serial";
  return {usb, uart};
}

TEST(PortListing, PrintsAnAlignedTable) {
  EXPECT_EQ(format_port_table(two_ports()),
            "DEVICE        VID:PID    DRIVER  MANUFACTURER  PRODUCT              SERIAL  BY-ID\n"
            "/dev/ttyUSB0  10c4:ea60  cp210x  Silicon Labs  CP2102N USB to UART  0001    "
            "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0\n"
            "/dev/ttyS0    -          serial  -             -                    -       -\n");
}

TEST(PortListing, PrintsNothingForNoPorts) { EXPECT_EQ(format_port_table({}), ""); }

TEST(PortListing, AlignsByCharactersAndHidesControlCharacters) {
  SerialPortEntry port;
  port.device = "/dev/ttyACM0";
  // "Müller" is 7 bytes and 6 characters; ESC would start a terminal escape sequence.
  port.usb = UsbIdentity{0x2e8a, 0x000a, "E6\x1b[2J", "M\xc3\xbcller", "Pico"};
  port.driver = "cdc_acm";
  SerialPortEntry other;
  other.device = "/dev/ttyACM1";
  other.usb = UsbIdentity{0x2e8a, 0x000a, "X", "ABCDEF", "Pico"};
  other.driver = "cdc_acm";
  const std::vector<SerialPortEntry> ports = {port, other};
  EXPECT_EQ(format_port_table(ports),
            "DEVICE        VID:PID    DRIVER   MANUFACTURER  PRODUCT  SERIAL  BY-ID\n"
            "/dev/ttyACM0  2e8a:000a  cdc_acm  M\xc3\xbcller        Pico     E6?[2J  -\n"
            "/dev/ttyACM1  2e8a:000a  cdc_acm  ABCDEF        Pico     X       -\n");
}

TEST(PortListing, WritesJsonWithStableKeys) {
  const auto json = nlohmann::json::parse(format_port_json(two_ports()));
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2U);
  for (const auto& entry : json) {
    ASSERT_TRUE(entry.is_object());
    EXPECT_EQ(entry.size(), port_json_keys.size());
    for (const auto key : port_json_keys) EXPECT_TRUE(entry.contains(key)) << key;
  }
  EXPECT_EQ(json[0], nlohmann::json::parse(R"({
      "device": "/dev/ttyUSB0",
      "by_id": "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0",
      "vid": "10c4", "pid": "ea60",
      "manufacturer": "Silicon Labs", "product": "CP2102N USB to UART", "serial_number": "0001",
      "driver": "cp210x"})"));
  EXPECT_EQ(json[1], nlohmann::json::parse(R"({
      "device": "/dev/ttyS0", "by_id": null, "vid": null, "pid": null, "manufacturer": null,
      "product": null, "serial_number": null, "driver": "serial"})"));
}

TEST(PortListing, WritesKeysInTheDocumentedOrder) {
  const std::string text = format_port_json(two_ports());
  std::size_t previous = 0;
  for (const auto key : port_json_keys) {
    const auto at = text.find(fmt::format("\"{}\"", key));
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, previous) << key;
    previous = at;
  }
}

TEST(PortListing, WritesAnEmptyJsonArrayForNoPorts) { EXPECT_EQ(format_port_json({}), "[]\n"); }

TEST(PortListing, ReplacesInvalidUtf8InJson) {
  SerialPortEntry port;
  port.device = "/dev/ttyUSB3";
  port.usb = UsbIdentity{1, 2, "\xff\xfe", "", ""};
  const std::vector<SerialPortEntry> ports = {port};
  const auto json = nlohmann::json::parse(format_port_json(ports));
  EXPECT_EQ(json[0]["serial_number"], "\xef\xbf\xbd\xef\xbf\xbd");  // two U+FFFD
  EXPECT_EQ(json[0]["vid"], "0001");
  EXPECT_TRUE(json[0]["manufacturer"].is_null());
}

}  // namespace
}  // namespace ttynet::port
