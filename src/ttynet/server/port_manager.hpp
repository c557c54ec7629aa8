#pragma once
// Many exported ports in one process, from a config file (`ttynet serve --config`): one
// PortHost per device an entry finds. A rescan on a timer finds devices that appeared (served
// without a restart) and devices that went away (their hosts stopped, clients closed); reload()
// applies a new config, touching only the entries that changed. Everything runs on the one
// executor given; nothing blocks it.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/port/notifier.hpp"
#include "ttynet/server/config.hpp"
#include "ttynet/server/device_identity.hpp"
#include "ttynet/server/port_host.hpp"

namespace ttynet::server {

// TCP port offsets for the devices of one entry with a tcp_port_base: a device keeps the
// offset it was given first (by device_key) for the life of the object, so a device that is
// unplugged and plugged again gets its port back; a new device takes the lowest offset no
// device has had yet.
class PortNumbering {
 public:
  std::uint16_t offset_for(const std::string& key);

 private:
  std::map<std::string, std::uint16_t> offsets_;
  std::vector<bool> is_taken_;
};

// One served device, as the manager reports it to observers (DNS-SD).
struct ServedPort {
  std::string name;
  std::string device;  // URL or path as opened
  std::uint16_t tcp_port = 0;
  Protocol protocol = Protocol::rfc2217;
  DeviceFacts facts;
  bool is_loopback_only = false;  // bound to a loopback address: not worth announcing
};

struct PortManagerOptions {
  std::chrono::milliseconds rescan_interval{1000};
  // Where USB devices are looked up ("match" entries, name placeholders); other roots in tests.
  std::filesystem::path sys_root = "/sys";
  std::filesystem::path dev_root = "/dev";
  // Called when a port starts listening and when it stops (DNS-SD publishing).
  std::function<void(const ServedPort&)> on_started;
  std::function<void(const ServedPort&)> on_stopped;
  // The dashboard's list of ports, which every port joins; null: no dashboard.
  std::shared_ptr<PortDirectory> directory;
};

class PortManager {
 public:
  PortManager(asio::any_io_executor executor, ServerConfig config, PortManagerOptions options = {});
  ~PortManager();
  PortManager(const PortManager&) = delete;
  PortManager& operator=(const PortManager&) = delete;

  // Serves and rescans until stop(); returns once every port is stopped and restored.
  asio::awaitable<void> run();
  // Entries equal to one in force keep their ports and clients; others are stopped or started.
  void reload(ServerConfig config);
  void stop();

 private:
  struct Instance;
  struct Entry {
    PortEntry config;
    PortNumbering numbering;
    std::map<std::string, std::shared_ptr<Instance>> instances;  // by device_key
    std::map<std::string, std::string> failures;                 // why a device's last start failed
  };

  void rescan();
  void rescan_entry(Entry& entry, const std::vector<DeviceFacts>& found);
  std::vector<DeviceFacts> find_devices(const PortEntry& entry);
  void start_instance(Entry& entry, const DeviceFacts& device, const std::string& key);
  void stop_instance(const std::shared_ptr<Instance>& instance, std::string_view reason = {});
  asio::awaitable<void> serve(std::shared_ptr<Instance> instance);

  asio::any_io_executor executor_;
  PortManagerOptions options_;
  std::vector<std::unique_ptr<Entry>> entries_;
  asio::steady_timer rescan_timer_;
  std::size_t running_ = 0;  // serve() coroutines not yet finished
  port::Notifier instance_ended_;
  bool is_stopping_ = false;
  // Devices whose stopped hosts have not closed them yet, by path or URL, with how many.
  std::map<std::string, int> stopping_devices_;
  bool has_usb_listing_ = false;  // this rescan listed USB devices already
  std::vector<DeviceFacts> usb_devices_;
};

}  // namespace ttynet::server
