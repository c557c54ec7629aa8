#include "ttynet/server/dnssd.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <set>
#include <tuple>

#include "ttynet/server/avahi_library.hpp"
#include "ttynet/server/avahi_poll.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/version.hpp"

namespace ttynet::server {
namespace {

std::string host_name() {
  std::array<char, 256> buffer{};
  if (::gethostname(buffer.data(), buffer.size() - 1) != 0) return "localhost";
  return buffer.data();
}

// A list Avahi can take, built from plain strings; freed with the object.
class TxtList {
 public:
  TxtList(const detail::AvahiLibrary& avahi, const std::vector<std::string>& records)
      : avahi_(avahi) {
    for (const auto& record : records) list_ = avahi_.string_list_add(list_, record.c_str());
  }
  ~TxtList() { avahi_.string_list_free(list_); }
  TxtList(const TxtList&) = delete;
  TxtList& operator=(const TxtList&) = delete;
  AvahiStringList* get() const { return list_; }

 private:
  const detail::AvahiLibrary& avahi_;
  AvahiStringList* list_ = nullptr;
};

}  // namespace

std::vector<std::string> txt_records(const ServedPort& port) {
  std::vector<std::string> records = {
      "provider=ttynet",
      fmt::format("version={}", version),
      fmt::format("protocol={}", port.protocol == Protocol::raw ? "raw" : "rfc2217"),
      fmt::format("name={}", port.name),
      fmt::format("device={}", port.device),
  };
  if (port.facts.vid) records.push_back(fmt::format("vid={:04x}", *port.facts.vid));
  if (port.facts.pid) records.push_back(fmt::format("pid={:04x}", *port.facts.pid));
  if (!port.facts.serial.empty()) records.push_back(fmt::format("serial={}", port.facts.serial));
  return records;
}

struct DnsSdPublisher::Impl {
  struct Service {
    ServedPort port;
    std::string service_name;
    AvahiEntryGroup* group = nullptr;
  };

  Impl(const detail::AvahiLibrary& library, asio::any_io_executor executor)
      : avahi(library), poll(std::move(executor)), host(host_name()) {
    int error = 0;
    client = avahi.client_new(poll.api(), static_cast<AvahiClientFlags>(0), on_client_state, this,
                              &error);
    if (!client) {
      log().info("DNS-SD: ports are not announced: {} (is avahi-daemon running?)",
                 avahi.strerror(error));
    }
  }

  ~Impl() { stop(); }

  void stop() {
    services.clear();  // the groups go with the client
    if (client) avahi.client_free(client);
    client = nullptr;
  }

  static void on_client_state(AvahiClient* c, AvahiClientState state, void* userdata) {
    auto& self = *static_cast<Impl*>(userdata);
    if (!self.client) self.client = c;  // called from inside avahi_client_new
    if (state == AVAHI_CLIENT_S_RUNNING) {
      for (auto& [key, service] : self.services) self.add(service);
    } else if (state == AVAHI_CLIENT_FAILURE) {
      log().warn("DNS-SD: lost avahi-daemon: {}; ports are no longer announced",
                 self.avahi.strerror(self.avahi.client_errno(c)));
      self.is_failed = true;
    } else if (state == AVAHI_CLIENT_S_COLLISION || state == AVAHI_CLIENT_S_REGISTERING) {
      // The host name changes: announce again once the daemon runs.
      for (auto& [key, service] : self.services) {
        if (service.group) self.avahi.entry_group_reset(service.group);
      }
    }
  }

  static void on_group_state(AvahiEntryGroup* group, AvahiEntryGroupState state, void* userdata) {
    auto& self = *static_cast<Impl*>(userdata);
    for (auto& [key, service] : self.services) {
      if (service.group != group) continue;
      if (state == AVAHI_ENTRY_GROUP_ESTABLISHED) {
        log().info("DNS-SD: announced '{}' ({} port {})", service.service_name,
                   serial_port_service_type, service.port.tcp_port);
      } else if (state == AVAHI_ENTRY_GROUP_COLLISION) {
        char* other = self.avahi.alternative_service_name(service.service_name.c_str());
        log().info("DNS-SD: '{}' is taken on the network; trying '{}'", service.service_name,
                   other);
        service.service_name = other;
        self.avahi.free(other);
        self.avahi.entry_group_reset(group);
        self.add(service);
      } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
        log().warn("DNS-SD: announcing '{}' failed: {}", service.service_name,
                   self.avahi.strerror(self.avahi.client_errno(self.client)));
      }
      return;
    }
  }

  void add(Service& service) {
    if (!client || is_failed || avahi.client_get_state(client) != AVAHI_CLIENT_S_RUNNING) return;
    if (!service.group) service.group = avahi.entry_group_new(client, on_group_state, this);
    if (!service.group) {
      log().warn("DNS-SD: cannot announce '{}': {}", service.service_name,
                 avahi.strerror(avahi.client_errno(client)));
      return;
    }
    const TxtList txt(avahi, txt_records(service.port));
    const std::string type(serial_port_service_type);
    int error = avahi.entry_group_add_service_strlst(
        service.group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, static_cast<AvahiPublishFlags>(0),
        service.service_name.c_str(), type.c_str(), nullptr, nullptr, service.port.tcp_port,
        txt.get());
    if (error == 0) error = avahi.entry_group_commit(service.group);
    if (error != 0) {
      log().warn("DNS-SD: cannot announce '{}': {}", service.service_name, avahi.strerror(error));
    }
  }

  const detail::AvahiLibrary& avahi;
  detail::AsioAvahiPoll poll;
  std::string host;
  AvahiClient* client = nullptr;
  bool is_failed = false;
  std::map<std::uint16_t, Service> services;  // by TCP port
};

DnsSdPublisher::DnsSdPublisher(asio::any_io_executor executor) : executor_(std::move(executor)) {}

DnsSdPublisher::~DnsSdPublisher() = default;

void DnsSdPublisher::publish(const ServedPort& port) {
  if (port.is_loopback_only) {
    log().debug("DNS-SD: {} listens on a loopback address only: not announced", port.name);
    return;
  }
  if (!has_tried_avahi_) {
    has_tried_avahi_ = true;
    const auto& library = detail::avahi_library();
    if (library) {
      impl_ = std::make_unique<Impl>(**library, executor_);
    } else {
      log().info("DNS-SD: ports are not announced: {}", library.error().message);
    }
  }
  if (!impl_ || !impl_->client) return;
  auto& service = impl_->services[port.tcp_port];
  if (service.group) impl_->avahi.entry_group_free(service.group);
  service = {port, fmt::format("{} on {}", port.name, impl_->host).substr(0, 63), nullptr};
  impl_->add(service);
}

void DnsSdPublisher::withdraw(const ServedPort& port) {
  if (!impl_) return;
  auto found = impl_->services.find(port.tcp_port);
  if (found == impl_->services.end()) return;
  if (found->second.group) impl_->avahi.entry_group_free(found->second.group);
  impl_->services.erase(found);
}

void DnsSdPublisher::stop() {
  if (impl_) impl_->stop();
}

namespace {

// One browse: every service found is resolved; done when the daemon has reported all it knows
// and every resolver has answered, or when the caller's time is up.
struct Browse {
  explicit Browse(const detail::AvahiLibrary& library) : avahi(library) {}

  const detail::AvahiLibrary& avahi;
  asio::io_context io{1};
  detail::AsioAvahiPoll poll{io.get_executor()};
  AvahiClient* client = nullptr;
  AvahiServiceBrowser* browser = nullptr;
  std::set<AvahiServiceResolver*> resolvers;
  std::vector<RemotePort> found;
  bool has_all = false;
  std::string error;

  void finish_if_done() {
    if ((has_all && resolvers.empty()) || !error.empty()) io.stop();
  }

  static void on_resolved(AvahiServiceResolver* resolver, AvahiIfIndex, AvahiProtocol,
                          AvahiResolverEvent event, const char* name, const char*, const char*,
                          const char* host, const AvahiAddress* address, std::uint16_t port,
                          AvahiStringList* txt, AvahiLookupResultFlags, void* userdata) {
    auto& self = *static_cast<Browse*>(userdata);
    if (event == AVAHI_RESOLVER_FOUND) {
      RemotePort remote;
      remote.service_name = name;
      remote.host = host;
      std::array<char, AVAHI_ADDRESS_STR_MAX> text{};
      self.avahi.address_snprint(text.data(), text.size(), address);
      remote.address = text.data();
      remote.port = port;
      for (auto* item = txt; item; item = self.avahi.string_list_get_next(item)) {
        char* key = nullptr;
        char* value = nullptr;
        if (self.avahi.string_list_get_pair(item, &key, &value, nullptr) == 0) {
          remote.txt[key] = value ? value : "";
          self.avahi.free(key);
          self.avahi.free(value);
        }
      }
      self.found.push_back(std::move(remote));
    }
    self.resolvers.erase(resolver);
    self.avahi.service_resolver_free(resolver);
    self.finish_if_done();
  }

  static void on_browse(AvahiServiceBrowser*, AvahiIfIndex interface, AvahiProtocol protocol,
                        AvahiBrowserEvent event, const char* name, const char* type,
                        const char* domain, AvahiLookupResultFlags, void* userdata) {
    auto& self = *static_cast<Browse*>(userdata);
    if (event == AVAHI_BROWSER_NEW) {
      auto* resolver = self.avahi.service_resolver_new(
          self.client, interface, protocol, name, type, domain, AVAHI_PROTO_UNSPEC,
          static_cast<AvahiLookupFlags>(0), on_resolved, &self);
      if (resolver) self.resolvers.insert(resolver);
    } else if (event == AVAHI_BROWSER_ALL_FOR_NOW) {
      self.has_all = true;
    } else if (event == AVAHI_BROWSER_FAILURE) {
      self.error = fmt::format("DNS-SD browsing failed: {}",
                               self.avahi.strerror(self.avahi.client_errno(self.client)));
    }
    self.finish_if_done();
  }
};

}  // namespace

Result<std::vector<RemotePort>, Error> browse_remote_ports(std::chrono::milliseconds wait) {
  const auto& library = detail::avahi_library();
  if (!library) {
    return Error{library.error().code,
                 fmt::format("cannot browse DNS-SD: {}", library.error().message)};
  }
  Browse browse(**library);
  int error = 0;
  browse.client = browse.avahi.client_new(
      browse.poll.api(), static_cast<AvahiClientFlags>(0),
      [](AvahiClient*, AvahiClientState, void*) {}, nullptr, &error);
  if (!browse.client) {
    return make_error(std::errc::io_error,
                      fmt::format("cannot browse DNS-SD: {} (is avahi-daemon running?)",
                                  browse.avahi.strerror(error)));
  }
  const std::string type(serial_port_service_type);
  browse.browser = browse.avahi.service_browser_new(
      browse.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, type.c_str(), nullptr,
      static_cast<AvahiLookupFlags>(0), Browse::on_browse, &browse);
  if (!browse.browser) {
    const std::string message =
        fmt::format("cannot browse DNS-SD: {}",
                    browse.avahi.strerror(browse.avahi.client_errno(browse.client)));
    browse.avahi.client_free(browse.client);
    return make_error(std::errc::io_error, message);
  }
  browse.io.run_for(wait);
  for (auto* resolver : browse.resolvers) browse.avahi.service_resolver_free(resolver);
  browse.avahi.service_browser_free(browse.browser);
  browse.avahi.client_free(browse.client);
  if (!browse.error.empty()) return make_error(std::errc::io_error, browse.error);
  // One line per service even when it answers on several interfaces or protocols; an IPv4
  // address first, since an IPv6 one may be link-local and useless without its interface.
  std::sort(browse.found.begin(), browse.found.end(), [](const auto& a, const auto& b) {
    const bool is_a_v6 = a.address.find(':') != std::string::npos;
    const bool is_b_v6 = b.address.find(':') != std::string::npos;
    return std::tie(a.service_name, is_a_v6, a.address) <
           std::tie(b.service_name, is_b_v6, b.address);
  });
  std::vector<RemotePort> unique;
  for (auto& port : browse.found) {
    if (!unique.empty() && unique.back().service_name == port.service_name) continue;
    unique.push_back(std::move(port));
  }
  return unique;
}

}  // namespace ttynet::server
