#pragma once
// DNS-SD (mDNS) announcements of served ports through the Avahi daemon, and the browser behind
// `ttynet list --remote`. Avahi's client runs on the caller's executor (see avahi_poll.hpp).
// Without a reachable daemon publishing is off (one info line) and browsing is an error.

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/server/port_manager.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

// The service type pyserial's port_publisher.py announces, so its browsers find ttynet too.
inline constexpr std::string_view serial_port_service_type = "_serial_port._tcp";

// The TXT records of a served port: port_publisher sends none; ttynet adds
//   provider=ttynet, version=<ttynet version>, protocol=rfc2217|raw, name=<port name>,
//   device=<path or URL>, and for USB devices vid=, pid= (four hex digits) and serial=.
std::vector<std::string> txt_records(const ServedPort& port);

// Publishes ports while it lives; publish/withdraw may be called before the daemon answers.
// Ports bound to a loopback address only are not announced: no other host could use them.
// Avahi is loaded and its daemon contacted when the first port worth announcing comes.
class DnsSdPublisher {
 public:
  explicit DnsSdPublisher(asio::any_io_executor executor);
  ~DnsSdPublisher();
  DnsSdPublisher(const DnsSdPublisher&) = delete;
  DnsSdPublisher& operator=(const DnsSdPublisher&) = delete;

  void publish(const ServedPort& port);
  void withdraw(const ServedPort& port);
  // Withdraws everything and disconnects from the daemon, so the executor can run out of work.
  void stop();

 private:
  struct Impl;
  asio::any_io_executor executor_;
  bool has_tried_avahi_ = false;
  std::unique_ptr<Impl> impl_;  // once Avahi is loaded
};

struct RemotePort {
  std::string service_name;  // "lab-esp32-1 on benchhost"
  std::string host;          // "benchhost.local"
  std::string address;       // as resolved
  std::uint16_t port = 0;
  std::map<std::string, std::string> txt;
};

// Browses the local network for serial port services for up to `wait` (less when the daemon
// says it has reported everything). The error is a sentence for the user; its code is
// std::errc::not_supported without Avahi's library, std::errc::io_error when Avahi fails.
Result<std::vector<RemotePort>, Error> browse_remote_ports(std::chrono::milliseconds wait);

}  // namespace ttynet::server
