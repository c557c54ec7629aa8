#include "ttynet/server/dnssd.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>

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

// The type ttynet announces and browses must be the one pyserial's port_publisher announces,
// read from pyserial's own source: Debian's python3-serial (scripts/setup.sh) ships it as an
// example. Avahi is the only other reader of the constant, so nothing else would catch a typo.
TEST(DnsSdTxt, UsesPyserialsServiceType) {
  const char* const publisher = "/usr/share/doc/python3-serial/examples/port_publisher.py";
  std::ifstream file(publisher);
  ASSERT_TRUE(file) << publisher << " is missing: install python3-serial (scripts/setup.sh)";
  const std::string source{std::istreambuf_iterator<char>(file), {}};
  // class Forwarder(ZeroconfService): ... ZeroconfService.__init__(..., stype='<type>')
  const std::regex announced(R"(ZeroconfService\.__init__\([^)]*stype=['"]([^'"]+)['"])");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(source, match, announced))
      << publisher << " no longer announces with ZeroconfService.__init__(..., stype=...)";
  EXPECT_EQ(match[1].str(), serial_port_service_type);
}

}  // namespace
}  // namespace ttynet::server
