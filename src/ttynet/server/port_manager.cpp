#include "ttynet/server/port_manager.hpp"

#include <glob.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>

#include "ttynet/port/sysfs.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

std::vector<std::string> glob_paths(const std::string& pattern) {
  std::vector<std::string> paths;
  glob_t found{};
  if (::glob(pattern.c_str(), 0, nullptr, &found) == 0) {
    for (std::size_t i = 0; i < found.gl_pathc; ++i) paths.emplace_back(found.gl_pathv[i]);
  }
  ::globfree(&found);
  return paths;  // sorted by glob()
}

// A path names a device while it leads somewhere (a dangling by-id link does not).
bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// "303a:1001 serial 7C9EBD47F2A4", or empty for a device not on USB.
std::string describe_usb(const DeviceFacts& device) {
  if (!device.vid || !device.pid) return {};
  std::string text = fmt::format("{:04x}:{:04x}", *device.vid, *device.pid);
  if (!device.serial.empty()) text += fmt::format(" serial {}", device.serial);
  return text;
}

void add_usb_identity(DeviceFacts& device, const std::filesystem::path& sys_root) {
  auto usb = port::usb_identity_of(device.path, sys_root);
  if (!usb) return;
  device.vid = usb->vid;
  device.pid = usb->pid;
  device.serial = usb->serial;
}

bool is_loopback(const std::string& bind) {
  if (bind == "localhost") return true;
  std::error_code ec;
  const auto address = asio::ip::make_address(bind, ec);
  return !ec && address.is_loopback();
}

}  // namespace

std::uint16_t PortNumbering::offset_for(const std::string& key) {
  if (auto it = offsets_.find(key); it != offsets_.end()) return it->second;
  auto free = std::find(is_taken_.begin(), is_taken_.end(), false);
  const auto offset = static_cast<std::uint16_t>(free - is_taken_.begin());
  if (free == is_taken_.end()) {
    is_taken_.push_back(true);
  } else {
    *free = true;
  }
  offsets_.emplace(key, offset);
  return offset;
}

struct PortManager::Instance {
  ServedPort port;
  std::unique_ptr<PortHost> host;
  bool is_listening = false;
  bool is_stop_requested = false;
  std::string error;  // why the last start failed
  bool is_releasing_device =
      false;  // stopped while it had the device: counted in stopping_devices_
};

PortManager::PortManager(asio::any_io_executor executor, ServerConfig config,
                         PortManagerOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      rescan_timer_(executor_),
      instance_ended_(executor_) {
  for (auto& port : config.ports) {
    entries_.push_back(std::make_unique<Entry>(Entry{std::move(port), {}, {}, {}}));
  }
}

PortManager::~PortManager() = default;

asio::awaitable<void> PortManager::run() {
  while (!is_stopping_) {
    rescan();
    rescan_timer_.expires_after(options_.rescan_interval);
    co_await rescan_timer_.async_wait(as_tuple);
  }
  while (running_ > 0) co_await instance_ended_.wait();
}

void PortManager::stop() {
  if (is_stopping_) return;
  is_stopping_ = true;
  rescan_timer_.cancel();
  for (auto& entry : entries_) {
    for (auto& [key, instance] : entry->instances) stop_instance(instance);
    entry->instances.clear();
  }
}

void PortManager::reload(ServerConfig config) {
  if (is_stopping_) return;
  std::vector<std::unique_ptr<Entry>> kept;
  std::size_t unchanged = 0;
  for (auto& port : config.ports) {
    auto same = std::find_if(entries_.begin(), entries_.end(),
                             [&](const auto& entry) { return entry && entry->config == port; });
    if (same != entries_.end()) {
      (*same)->config.line = port.line;
      kept.push_back(std::move(*same));
      ++unchanged;
    } else {
      log().info("config: entry '{}' (line {}) is new or changed",
                 port.name.empty() ? port.device : port.name, port.line);
      auto entry = std::make_unique<Entry>(Entry{std::move(port), {}, {}, {}});
      // An entry edited in place (same name and port base) keeps its devices' ports.
      auto previous = std::find_if(entries_.begin(), entries_.end(), [&](const auto& old) {
        return old && old->config.is_port_base && entry->config.is_port_base &&
               old->config.name == entry->config.name &&
               old->config.tcp_port == entry->config.tcp_port;
      });
      if (previous != entries_.end()) entry->numbering = (*previous)->numbering;
      kept.push_back(std::move(entry));
    }
  }
  std::size_t removed = 0;
  for (auto& entry : entries_) {
    if (!entry) continue;
    ++removed;
    log().info("config: entry '{}' removed or changed: stopping its ports",
               entry->config.name.empty() ? entry->config.device : entry->config.name);
    for (auto& [key, instance] : entry->instances) {
      stop_instance(instance, "port removed or changed in the server's configuration");
    }
  }
  entries_ = std::move(kept);
  log().info("config reloaded: {} entries unchanged, {} started, {} stopped", unchanged,
             entries_.size() - unchanged, removed);
  rescan();
}

std::vector<DeviceFacts> PortManager::find_devices(const PortEntry& entry) {
  std::vector<DeviceFacts> found;
  switch (entry.source) {
    case PortEntry::Source::url:
      found.push_back(DeviceFacts::at_path(entry.device));
      break;
    case PortEntry::Source::path:
      if (exists(entry.device)) found.push_back(DeviceFacts::at_path(entry.device));
      break;
    case PortEntry::Source::glob:
      for (auto& path : glob_paths(entry.device)) {
        if (exists(path)) found.push_back(DeviceFacts::at_path(std::move(path)));
      }
      break;
    case PortEntry::Source::match:
      if (!has_usb_listing_) {
        usb_devices_.clear();
        for (auto& listed : port::list_serial_ports(options_.sys_root, options_.dev_root)) {
          if (!listed.usb) continue;
          DeviceFacts device;
          device.path = listed.by_id.empty() ? listed.device : listed.by_id;
          device.by_id = listed.by_id;
          device.vid = listed.usb->vid;
          device.pid = listed.usb->pid;
          device.serial = listed.usb->serial;
          usb_devices_.push_back(std::move(device));
        }
        has_usb_listing_ = true;
      }
      for (const auto& device : usb_devices_) {
        if (matches(entry.match, device)) found.push_back(device);
      }
      break;
  }
  return found;
}

void PortManager::rescan() {
  if (is_stopping_) return;
  has_usb_listing_ = false;
  for (auto& entry : entries_) rescan_entry(*entry, find_devices(entry->config));
}

void PortManager::rescan_entry(Entry& entry, const std::vector<DeviceFacts>& found) {
  std::map<std::string, const DeviceFacts*> by_key;
  for (const auto& device : found) by_key.emplace(device_key(device), &device);
  for (auto it = entry.instances.begin(); it != entry.instances.end();) {
    const auto& instance = it->second;
    if (by_key.contains(it->first) && (instance->is_listening || instance->host)) {
      ++it;
      continue;
    }
    if (by_key.contains(it->first)) {  // its start failed: try again below
      entry.failures[it->first] = instance->error;
      it = entry.instances.erase(it);
      continue;
    }
    log().info("port {}: {} is gone; stopping", instance->port.name, instance->port.device);
    stop_instance(instance, fmt::format("device {} disconnected", instance->port.device));
    it = entry.instances.erase(it);
  }
  for (const auto& [key, device] : by_key) {
    if (entry.instances.contains(key)) continue;
    // A host still restoring and closing this device (a changed entry, a replug) would make
    // the new open fail; the device is taken up as soon as it is released.
    if (stopping_devices_.contains(device->path)) continue;
    start_instance(entry, *device, key);
  }
  std::erase_if(entry.failures,
                [&](const auto& failure) { return !by_key.contains(failure.first); });
}

void PortManager::start_instance(Entry& entry, const DeviceFacts& found, const std::string& key) {
  const PortEntry& config = entry.config;
  DeviceFacts device = found;
  if (config.source == PortEntry::Source::path || config.source == PortEntry::Source::glob) {
    add_usb_identity(device, options_.sys_root);
  }
  auto instance = std::make_shared<Instance>();
  instance->port.name = expand_name(config.name, device);
  instance->port.device = device.path;
  instance->port.protocol = config.protocol;
  instance->port.facts = device;
  instance->port.is_loopback_only = config.bind && is_loopback(*config.bind);
  std::uint32_t tcp_port = config.tcp_port;
  std::optional<std::uint32_t> monitor_port = config.monitor_port;
  if (config.is_port_base) {
    const std::uint16_t offset = entry.numbering.offset_for(key);
    tcp_port += offset;
    if (monitor_port) *monitor_port += offset;
  }
  if (tcp_port > 65535 || monitor_port > 65535u) {
    log().error("port {}: {}: no TCP port left in the range from {}", instance->port.name,
                device.path, config.tcp_port);
    return;
  }
  instance->port.tcp_port = static_cast<std::uint16_t>(tcp_port);

  PortHostConfig host;
  host.device_url = device.path;
  host.name = instance->port.name;
  host.bind_address = config.bind;
  host.tcp_port = instance->port.tcp_port;
  if (monitor_port) host.monitor_port = static_cast<std::uint16_t>(*monitor_port);
  host.protocol = config.protocol;
  host.clients = config.clients;
  host.sharing = config.sharing;
  host.initial_settings = config.initial_settings;
  host.directory = options_.directory;
  host.identity = describe_usb(device);
  if (config.esp) {
    auto esp_reset = make_esp_reset_config(*config.esp);
    if (!esp_reset) {  // checked when the file was read; kept for safety
      log().error("port {}: {}", instance->port.name, esp_reset.error().message);
      return;
    }
    host.esp_reset = std::move(*esp_reset);
  }
  auto security = make_port_security(config.security, config.identities, instance->port.name);
  if (!security) {
    log().error("port {}: {}", instance->port.name, security.error().message);
    return;
  }
  host.security = std::move(*security);
  if (auto failure = entry.failures.find(key); failure != entry.failures.end())
    instance->error = failure->second;
  instance->host = std::make_unique<PortHost>(executor_, std::move(host));
  entry.instances.emplace(key, instance);
  ++running_;
  asio::co_spawn(executor_, serve(instance), asio::detached);
}

void PortManager::stop_instance(const std::shared_ptr<Instance>& instance,
                                std::string_view reason) {
  if (instance->is_stop_requested) return;
  instance->is_stop_requested = true;
  if (!instance->host) return;
  instance->host->stop(reason);
  ++stopping_devices_[instance->port.device];
  instance->is_releasing_device = true;
}

asio::awaitable<void> PortManager::serve(std::shared_ptr<Instance> instance) {
  auto error = co_await instance->host->start();
  if (error) {
    // Tried again at every rescan; said once until the reason changes.
    if (error->message != instance->error) {
      log().error("port {}: {} (retrying)", instance->port.name, error->message);
    } else {
      log().debug("port {}: {}", instance->port.name, error->message);
    }
    instance->error = error->message;
    // Dropped so the next rescan tries again; the entry keeps the slot if still found.
    instance->host.reset();
  } else if (!instance->is_stop_requested) {
    instance->is_listening = true;
    // Port 0 in the file: the one the system picked is what observers must announce.
    if (const auto endpoints = instance->host->local_endpoints(); !endpoints.empty()) {
      instance->port.tcp_port = endpoints.front().port();
    }
    log().info("port {}: {} on TCP port {}", instance->port.name, instance->port.device,
               instance->port.tcp_port);
    if (options_.on_started) options_.on_started(instance->port);
    co_await instance->host->run();
    instance->is_listening = false;
    if (options_.on_stopped) options_.on_stopped(instance->port);
    log().info("port {}: stopped", instance->port.name);
  }
  --running_;
  instance_ended_.notify();
  if (instance->is_releasing_device) {
    auto released = stopping_devices_.find(instance->port.device);
    if (--released->second == 0) {
      stopping_devices_.erase(released);
      rescan();  // serve it again now if it is still (or again) configured
    }
  }
}

}  // namespace ttynet::server
