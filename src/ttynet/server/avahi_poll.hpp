#pragma once
// Avahi's main-loop interface (AvahiPoll) on an Asio executor: the client library's D-Bus
// socket and timers are served by the io_context thread like everything else, so DNS-SD needs
// no thread of its own. Internal to the DNS-SD code.

#include <avahi-common/watch.h>

#include <asio/any_io_executor.hpp>

namespace ttynet::server::detail {

class AsioAvahiPoll {
 public:
  explicit AsioAvahiPoll(asio::any_io_executor executor);
  AsioAvahiPoll(const AsioAvahiPoll&) = delete;
  AsioAvahiPoll& operator=(const AsioAvahiPoll&) = delete;

  // For avahi_client_new(); valid while this object lives. Free the client first.
  const AvahiPoll* api() const { return &api_; }
  const asio::any_io_executor& executor() const { return executor_; }

 private:
  asio::any_io_executor executor_;
  AvahiPoll api_{};
};

}  // namespace ttynet::server::detail
