#include "ttynet/server/dnssd.hpp"

#include <gtest/gtest.h>

#include "ttynet/version.hpp"

namespace ttynet::server {
namespace {

TEST(DnsSdTxt, NamesProtocolAndDeviceIdentity) {
  ServedPort port;
  port.name = "cp210x-0001";
  port.device = "/dev/serial/by-id/usb-Silicon_Labs_CP2102N-if00";
  port.tcp_port = 4100;
  port.protocol = Protocol::rfc2217;
  port.facts = DeviceFacts::at_path(port.device);
  port.facts.vid = 0x10c4;
  port.facts.pid = 0xea60;
  port.facts.serial = "0001";
  const std::vector<std::string> expected = {
      "provider=ttynet",
      std::string("version=") + version,
      "protocol=rfc2217",
      "name=cp210x-0001",
      "device=/dev/serial/by-id/usb-Silicon_Labs_CP2102N-if00",
      "vid=10c4",
      "pid=ea60",
      "serial=0001"};
  EXPECT_EQ(txt_records(port), expected);
}

TEST(DnsSdTxt, LeavesOutWhatANonUsbPortDoesNotHave) {
  ServedPort port;
  port.name = "loop";
  port.device = "loop://";
  port.protocol = Protocol::raw;
  port.facts = DeviceFacts::at_path("loop://");
  const auto records = txt_records(port);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[2], "protocol=raw");
  EXPECT_EQ(records[4], "device=loop://");
}

TEST(DnsSdTxt, UsesPyserialsServiceType) {
  EXPECT_EQ(serial_port_service_type, "_serial_port._tcp");
}

}  // namespace
}  // namespace ttynet::server
