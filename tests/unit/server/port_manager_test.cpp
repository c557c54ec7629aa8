#include "ttynet/server/port_manager.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;

TEST(PortManagerNumbering, GivesEachKeyTheLowestFreeOffsetOnce) {
  PortNumbering numbering;
  EXPECT_EQ(numbering.offset_for("a"), 0);
  EXPECT_EQ(numbering.offset_for("b"), 1);
  EXPECT_EQ(numbering.offset_for("a"), 0);
  EXPECT_EQ(numbering.offset_for("c"), 2);
  EXPECT_EQ(numbering.offset_for("b"), 1);  // a device that came back keeps its port
}

// loop:// entries on ports the system picks: the manager's own behaviour, no devices needed.
ServerConfig config_of(std::string_view text) {
  auto parsed = parse_config(text, "test.toml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : ServerConfig{};
}

constexpr std::string_view first_config = R"(
[defaults]
bind = "127.0.0.1"
[[port]]
name = "kept"
device = "loop://"
tcp_port = 0
[[port]]
name = "changed"
device = "loop://"
tcp_port = 0
[[port]]
name = "removed"
device = "loop://"
tcp_port = 0
)";

constexpr std::string_view second_config = R"(
[defaults]
bind = "127.0.0.1"
[[port]]
name = "added"
device = "loop://"
tcp_port = 0
[[port]]
name = "kept"
device = "loop://"
tcp_port = 0
[[port]]
name = "changed"
device = "loop://"
tcp_port = 0
baud = 9600
)";

class PortManagerRun : public ::testing::Test {
 protected:
  PortManagerOptions recording_options() {
    PortManagerOptions options;
    options.rescan_interval = 20ms;
    options.on_started = [this](const ServedPort& port) {
      EXPECT_NE(port.tcp_port, 0) << port.name;  // the port the system picked
      events_.push_back("start " + port.name);
    };
    options.on_stopped = [this](const ServedPort& port) { events_.push_back("stop " + port.name); };
    return options;
  }

  // Runs the loop until `done` or 5 s; true when done.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) io_.run_one_for(10ms);
    return done();
  }

  std::vector<std::string> take_events() {
    auto events = std::move(events_);
    events_.clear();
    std::sort(events.begin(), events.end());
    return events;
  }

  asio::io_context io_{1};
  std::vector<std::string> events_;
};

TEST_F(PortManagerRun, ReloadTouchesOnlyEntriesThatChanged) {
  PortManager manager(io_.get_executor(), config_of(first_config), recording_options());
  bool has_ended = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await manager.run();
        has_ended = true;
      },
      asio::detached);
  ASSERT_TRUE(run_until([&] { return events_.size() == 3; }));
  EXPECT_EQ(take_events(),
            (std::vector<std::string>{"start changed", "start kept", "start removed"}));

  manager.reload(config_of(second_config));
  ASSERT_TRUE(run_until([&] { return events_.size() == 4; }));
  EXPECT_EQ(take_events(), (std::vector<std::string>{"start added", "start changed", "stop changed",
                                                     "stop removed"}));

  manager.reload(config_of(second_config));  // the same file again: nothing to do
  io_.run_for(200ms);                        // several rescans
  EXPECT_EQ(take_events(), std::vector<std::string>{});

  manager.stop();
  ASSERT_TRUE(run_until([&] { return has_ended; }));
  EXPECT_EQ(take_events(), (std::vector<std::string>{"stop added", "stop changed", "stop kept"}));
}

TEST_F(PortManagerRun, StopEndsRunWithNoPorts) {
  PortManager manager(io_.get_executor(),
                      config_of("[[port]]\ndevice = \"/nonexistent/tty\"\n"
                                "tcp_port = 0\n"),
                      recording_options());
  bool has_ended = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await manager.run();
        has_ended = true;
      },
      asio::detached);
  io_.run_for(60ms);  // a few rescans: the path never appears
  manager.stop();
  ASSERT_TRUE(run_until([&] { return has_ended; }));
  EXPECT_EQ(take_events(), std::vector<std::string>{});
}

namespace fs = std::filesystem;

// A pseudo-terminal pair standing in for a USB serial adapter's tty.
class Pty {
 public:
  Pty() {
    EXPECT_EQ(::openpty(&master_, &slave_, nullptr, nullptr, nullptr), 0);
    path_ = ::ttyname(slave_);
  }
  ~Pty() {
    ::close(slave_);
    ::close(master_);
  }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
  const std::string& path() const { return path_; }

 private:
  int master_ = -1;
  int slave_ = -1;
  std::string path_;
};

// A miniature /sys and /dev where USB serial adapters can be plugged and unplugged: the tty's
// class entry leads to a USB interface below a device directory with idVendor, idProduct and
// serial; /dev/NAME is a link to a real pty so the port opens; by-id links as udev makes them.
class FakeUsbBus {
 public:
  FakeUsbBus()
      : root_(fs::temp_directory_path() / ("ttynet-manager-" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(sys() / "class/tty");
    fs::create_directories(dev() / "serial/by-id");
  }
  ~FakeUsbBus() { fs::remove_all(root_); }
  FakeUsbBus(const FakeUsbBus&) = delete;
  FakeUsbBus& operator=(const FakeUsbBus&) = delete;

  fs::path sys() const { return root_ / "sys"; }
  fs::path dev() const { return root_ / "dev"; }

  void plug(const std::string& name, const std::string& serial, const Pty& pty) {
    const fs::path usb = sys() / "devices/usb1" / ("1-" + name);
    fs::create_directories(usb);
    std::ofstream(usb / "idVendor") << "10c4\n";
    std::ofstream(usb / "idProduct") << "ea60\n";
    std::ofstream(usb / "serial") << serial << "\n";
    const fs::path interface = usb / "1-0:1.0" / name;
    fs::create_directories(interface / "tty" / name);
    fs::create_directory_symlink(interface, interface / "tty" / name / "device");
    fs::create_directory_symlink(interface / "tty" / name, sys() / "class/tty" / name);
    fs::create_symlink(pty.path(), dev() / name);
    fs::create_symlink(dev() / name, by_id(serial));
  }

  void unplug(const std::string& name, const std::string& serial) {
    fs::remove(by_id(serial));
    fs::remove(dev() / name);
    fs::remove(sys() / "class/tty" / name);
    fs::remove_all(sys() / "devices/usb1" / ("1-" + name));
  }

 private:
  fs::path by_id(const std::string& serial) const {
    return dev() / "serial/by-id" / ("usb-Silicon_Labs_CP2102N_" + serial + "-if00-port0");
  }
  fs::path root_;
};

// A TCP port free on 127.0.0.1 now, with the next one free too (checked, not assumed).
std::uint16_t free_port_pair(asio::io_context& io) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    asio::ip::tcp::acceptor first(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = first.local_endpoint().port();
    if (port == 65535) continue;
    std::error_code ec;
    asio::ip::tcp::acceptor second(io);
    second.open(asio::ip::tcp::v4());
    second.bind({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port + 1)}, ec);
    if (!ec) return port;
  }
  ADD_FAILURE() << "no two consecutive free TCP ports";
  return 0;
}

TEST_F(PortManagerRun, UsbMatchesComeAndGoAndKeepTheirPorts) {
  FakeUsbBus bus;
  const std::uint16_t base = free_port_pair(io_);
  ASSERT_NE(base, 0);
  std::vector<std::string> started;
  auto options = recording_options();
  options.sys_root = bus.sys();
  options.dev_root = bus.dev();
  options.on_started = [&](const ServedPort& port) {
    started.push_back(port.name + "@" + std::to_string(port.tcp_port - base));
    EXPECT_EQ(port.facts.serial, port.name.substr(3));
    events_.push_back("start " + port.name);
  };
  PortManager manager(io_.get_executor(),
                      config_of("[[port]]\nname = \"cp-{serial}\"\nbind = \"127.0.0.1\"\n"
                                "match = { vid = \"10c4\", pid = \"ea60\" }\n"
                                "tcp_port_base = " +
                                std::to_string(base) + "\n"),
                      options);
  bool has_ended = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await manager.run();
        has_ended = true;
      },
      asio::detached);

  auto first = std::make_unique<Pty>();
  bus.plug("ttyUSB0", "A1", *first);
  ASSERT_TRUE(run_until([&] { return events_.size() == 1; }));
  EXPECT_EQ(started, std::vector<std::string>{"cp-A1@0"});

  bus.unplug("ttyUSB0", "A1");
  first.reset();
  ASSERT_TRUE(run_until([&] { return events_.size() == 2; }));
  EXPECT_EQ(events_.back(), "stop cp-A1");

  Pty second;
  bus.plug("ttyUSB1", "B2", second);  // a new adapter takes the next port...
  ASSERT_TRUE(run_until([&] { return events_.size() == 3; }));
  Pty again;
  bus.plug("ttyUSB7", "A1", again);  // ...and the first one, back under another name, its own
  ASSERT_TRUE(run_until([&] { return events_.size() == 4; }));
  EXPECT_EQ(started, (std::vector<std::string>{"cp-A1@0", "cp-B2@1", "cp-A1@0"}));

  manager.stop();
  ASSERT_TRUE(run_until([&] { return has_ended; }));
}

}  // namespace
}  // namespace ttynet::server
