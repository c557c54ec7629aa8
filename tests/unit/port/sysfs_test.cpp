#include "ttynet/port/sysfs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace ttynet::port {
namespace {

namespace fs = std::filesystem;

// A miniature /sys and /dev laid out as Linux lays them out for a CP2102N on USB, a 16550 on
// ISA/PnP behind the serial-base bus (Linux >= 6.5), two platform UARTs, an 8250 placeholder
// without hardware and a virtual console.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ttynet-sysfs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    sys_ = root_ / "sys";
    dev_ = root_ / "dev";

    const fs::path usb = sys_ / "devices/pci0000:00/0000:00:14.0/usb1/1-2";
    write(usb / "idVendor", "10c4\n");
    write(usb / "idProduct", "ea60\n");
    write(usb / "serial", "0001\n");
    write(usb / "manufacturer", "Silicon Labs\n");
    write(usb / "product", "CP2102N USB to UART\n");
    const fs::path usb_port = usb / "1-2:1.0/ttyUSB0";
    link(usb_port / "driver", sys_ / "bus/usb-serial/drivers/cp210x");
    link(usb_port / "subsystem", sys_ / "bus/usb-serial");
    add_tty("ttyUSB0", usb_port);

    const fs::path pnp = sys_ / "devices/pnp0/00:01";
    link(pnp / "driver", sys_ / "bus/pnp/drivers/serial");
    link(pnp / "subsystem", sys_ / "bus/pnp");
    link(pnp / "00:01:0/driver", sys_ / "bus/serial-base/drivers/ctrl");
    link(pnp / "00:01:0/subsystem", sys_ / "bus/serial-base");
    link(pnp / "00:01:0/00:01:0.0/driver", sys_ / "bus/serial-base/drivers/port");
    link(pnp / "00:01:0/00:01:0.0/subsystem", sys_ / "bus/serial-base");
    add_tty("ttyS0", pnp / "00:01:0/00:01:0.0", "4");

    for (const char* name : {"ttyS10", "ttyS2"}) {
      const fs::path uart = sys_ / "devices/platform" / (std::string("uart-") + name);
      link(uart / "driver", sys_ / "bus/platform/drivers/dw-apb-uart");
      link(uart / "subsystem", sys_ / "bus/platform");
      add_tty(name, uart, "4");
    }

    const fs::path placeholder = sys_ / "devices/platform/serial8250";
    link(placeholder / "driver", sys_ / "bus/platform/drivers/serial8250");
    add_tty("ttyS5", placeholder, "0");

    fs::create_directories(sys_ / "devices/virtual/tty/tty0");
    fs::create_directories(sys_ / "class/tty");
    fs::create_directory_symlink(sys_ / "devices/virtual/tty/tty0", sys_ / "class/tty/tty0");

    link(dev_ / "serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0", dev_ / "ttyUSB0");
  }

  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  }

  // A symlink to a directory or file that is created if missing.
  static void link(const fs::path& at, const fs::path& target) {
    fs::create_directories(at.parent_path());
    if (target.filename().string().starts_with("tty")) {
      write(target, "");
      fs::create_symlink(target, at);
    } else {
      fs::create_directories(target);
      fs::create_directory_symlink(target, at);
    }
  }

  // /sys/devices/.../tty/NAME with its `device` link, /sys/class/tty/NAME, /dev/NAME.
  void add_tty(const std::string& name, const fs::path& device, const std::string& type = "") {
    const fs::path class_dir = device / "tty" / name;
    fs::create_directories(class_dir);
    fs::create_directory_symlink(device, class_dir / "device");
    if (!type.empty()) write(class_dir / "type", type + "\n");
    fs::create_directories(sys_ / "class/tty");
    fs::create_directory_symlink(class_dir, sys_ / "class/tty" / name);
    write(dev_ / name, "");
  }

  fs::path root_;
  fs::path sys_;
  fs::path dev_;
};

TEST_F(FakeSysfs, ListsPortsWithHardwareInNaturalOrder) {
  const auto ports = list_serial_ports(sys_, dev_);
  ASSERT_EQ(ports.size(), 4U);
  EXPECT_EQ(ports[0].device, (dev_ / "ttyS0").string());
  EXPECT_EQ(ports[1].device, (dev_ / "ttyS2").string());
  EXPECT_EQ(ports[2].device, (dev_ / "ttyS10").string());
  EXPECT_EQ(ports[3].device, (dev_ / "ttyUSB0").string());

  EXPECT_EQ(ports[0].driver, "serial");  // not serial-base's "port"
  EXPECT_FALSE(ports[0].usb);
  EXPECT_TRUE(ports[0].by_id.empty());
  EXPECT_EQ(ports[1].driver, "dw-apb-uart");

  const SerialPortEntry& usb = ports[3];
  EXPECT_EQ(usb.driver, "cp210x");
  EXPECT_EQ(usb.by_id, (dev_ / "serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0").string());
  ASSERT_TRUE(usb.usb);
  EXPECT_EQ(usb.usb->vid, 0x10c4);
  EXPECT_EQ(usb.usb->pid, 0xea60);
  EXPECT_EQ(usb.usb->serial, "0001");
  EXPECT_EQ(usb.usb->manufacturer, "Silicon Labs");
  EXPECT_EQ(usb.usb->product, "CP2102N USB to UART");
}

TEST_F(FakeSysfs, FindsTheUsbIdentityThroughABySymlink) {
  const auto usb =
      usb_identity_of(dev_ / "serial/by-id/usb-Silicon_Labs_CP2102N_0001-if00-port0", sys_);
  ASSERT_TRUE(usb);
  EXPECT_EQ(usb->vid, 0x10c4);
  EXPECT_EQ(usb->product, "CP2102N USB to UART");

  PortInfo info{"/dev/serial/by-id/x", "/dev/ttyUSB0", usb};
  EXPECT_EQ(describe(info), "/dev/ttyUSB0 (USB 10c4:ea60 CP2102N USB to UART, serial 0001)");
}

TEST_F(FakeSysfs, FindsNoUsbIdentityForOtherDevices) {
  EXPECT_FALSE(usb_identity_of(dev_ / "ttyS0", sys_));
  EXPECT_FALSE(usb_identity_of(dev_ / "ttyNotThere", sys_));
}

TEST(Describe, ShowsWhatIsKnown) {
  EXPECT_EQ(describe(PortInfo{"loop://", "loop://", std::nullopt}), "loop://");
  EXPECT_EQ(describe(PortInfo{"rfc2217://h:1", "", std::nullopt}), "rfc2217://h:1");
  EXPECT_EQ(describe(PortInfo{"/dev/ttyACM0", "/dev/ttyACM0",
                              UsbIdentity{0x303a, 0x1001, "", "Espressif", ""}}),
            "/dev/ttyACM0 (USB 303a:1001 Espressif)");
}

TEST(ListSerialPorts, RunsOnThisMachine) {
  for (const auto& port : list_serial_ports()) {
    EXPECT_EQ(port.device.rfind("/dev/", 0), 0U) << port.device;
  }
}

}  // namespace
}  // namespace ttynet::port
