// Selecting, naming and keying a found device: the name a client sees and the key that gives a
// replugged adapter its TCP port back.

#include "ttynet/server/device_identity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ttynet::server {
namespace {

DeviceFacts usb_device(std::string path, std::string by_id) {
  DeviceFacts device = DeviceFacts::at_path(std::move(path));
  device.by_id = std::move(by_id);
  device.vid = 0x10c4;
  device.pid = 0xea60;
  device.serial = "0001";
  return device;
}

DeviceMatch match_of(std::optional<std::uint16_t> vid, std::optional<std::uint16_t> pid,
                     std::string serial = "", std::string by_id = "") {
  DeviceMatch match;
  match.vid = vid;
  match.pid = pid;
  match.serial = std::move(serial);
  match.by_id = std::move(by_id);
  return match;
}

TEST(DeviceIdentity, ExpandNamePlaceholders) {
  const DeviceFacts usb = usb_device("/dev/ttyUSB3", "");
  EXPECT_EQ(expand_name("cp210x-{serial}", usb), "cp210x-0001");
  EXPECT_EQ(expand_name("{vid}:{pid}@{path-basename}", usb), "10c4:ea60@ttyUSB3");
  EXPECT_EQ(expand_name("", usb), "ttyUSB3");
  EXPECT_EQ(expand_name("p-{serial}-{vid}", DeviceFacts::at_path("/tmp/x/link7")), "p-link7-0000");
  EXPECT_EQ(expand_name("", DeviceFacts::at_path("loop://")), "loop://");
}

TEST(DeviceIdentity, ExpandNamePadsIdsToFourLowerCaseDigits) {
  DeviceFacts ftdi = DeviceFacts::at_path("/dev/ttyUSB0");
  ftdi.vid = 0x0403;
  ftdi.pid = 0x6001;
  EXPECT_EQ(expand_name("{vid}:{pid}", ftdi), "0403:6001");
  ftdi.vid = 0xABCD;
  EXPECT_EQ(expand_name("{vid}", ftdi), "abcd");
}

TEST(DeviceIdentity, ExpandNameKeepsWhatIsNoPlaceholder) {
  const DeviceFacts usb = usb_device("/dev/ttyUSB3", "");
  EXPECT_EQ(expand_name("keep-{other}-{", usb), "keep-{other}-{");
  EXPECT_EQ(expand_name("a}b-{serial}-{vid", usb), "a}b-0001-{vid");
}

TEST(DeviceIdentity, SerialFallsBackToTheBasenameOnAUsbDeviceWithoutOne) {
  DeviceFacts usb = usb_device("/dev/ttyACM1", "");
  usb.serial.clear();
  EXPECT_EQ(expand_name("dev-{serial}", usb), "dev-ttyACM1");
}

TEST(DeviceIdentity, MatchSelectsByEveryGivenField) {
  const DeviceFacts usb = usb_device("/dev/serial/by-id/usb-Silicon_Labs_CP2102N-if00",
                                     "/dev/serial/by-id/usb-Silicon_Labs_CP2102N-if00");
  EXPECT_TRUE(matches(DeviceMatch{}, usb));
  EXPECT_TRUE(matches(match_of(0x10c4, 0xea60), usb));
  EXPECT_FALSE(matches(match_of(0x10c4, 0x0001), usb));
  EXPECT_FALSE(matches(match_of(0x0403, 0xea60), usb));
  EXPECT_TRUE(matches(match_of({}, {}, "", "CP2102N"), usb));
  EXPECT_FALSE(matches(match_of({}, {}, "", "FT232"), usb));
  EXPECT_TRUE(matches(match_of({}, {}, "0001"), usb));
  EXPECT_FALSE(matches(match_of({}, {}, "0002"), usb));
  EXPECT_FALSE(matches(match_of({}, {}, "000"), usb));  // the whole serial, not a part
  EXPECT_FALSE(matches(match_of(0x10c4, {}), DeviceFacts::at_path("/dev/ttyS0")));
}

TEST(DeviceIdentity, KeyFollowsTheSerialNumberNotThePath) {
  const DeviceFacts usb = usb_device("/dev/ttyUSB0", "");
  EXPECT_EQ(device_key(usb), "usb:10c4:ea60:0001");
  EXPECT_EQ(device_key(usb_device("/dev/ttyUSB7", "")), device_key(usb));  // replugged
  DeviceFacts no_serial = usb;
  no_serial.serial.clear();
  EXPECT_EQ(device_key(no_serial), "/dev/ttyUSB0");
  EXPECT_EQ(device_key(DeviceFacts::at_path("/tmp/x/link1")), "/tmp/x/link1");
}

}  // namespace
}  // namespace ttynet::server
