#pragma once
// The flash lease of a port shared by several controllers (SharingOptions::max_clients > 1).
// A controller that starts a flash (an ESP bootloader reset, or paced ESP frames) takes the
// lease; until it lets go, the other controllers' input is held back (they stop reading from
// their clients, so TCP holds the bytes) instead of reaching the loader mid-conversation. The
// holder lets go with a hard reset into the application or by leaving; a holder that sends
// nothing for `idle_limit` loses the lease, so a tool that ends without a reset does not lock
// the others out for long.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <string>

#include "ttynet/util/time.hpp"

namespace ttynet::server {

class DeviceLease {
 public:
  static constexpr std::chrono::seconds default_idle_limit{30};

  explicit DeviceLease(const asio::any_io_executor& executor,
                       Duration idle_limit = default_idle_limit);

  // `holder` starts or goes on with a flash: the lease is its, for idle_limit from now. False
  // (nothing changes) while another holds it.
  bool take(const void* holder, std::string holder_name);
  // `holder` was heard from: a lease it holds runs idle_limit from now. Nothing otherwise.
  void renew(const void* holder);
  // `holder` is done (a hard reset) or gone. Nothing when it does not hold the lease.
  void release(const void* holder);
  // Whether a client other than `client` holds the lease now.
  bool is_held_against(const void* client) const;
  // Who holds it, for log lines; "" when free.
  const std::string& holder_name() const;
  // Returns once the lease is free or `client`'s own (released, or lapsed after idle_limit).
  asio::awaitable<void> wait_until_free_for(const void* client);

 private:
  bool is_lapsed() const { return Clock::now() >= expiry_; }
  // Wakes the waiters: the lease changed hands or its expiry moved.
  void set_expiry(TimePoint expiry);

  Duration idle_limit_;
  const void* holder_ = nullptr;
  std::string holder_name_;
  TimePoint expiry_{};
  // Expires with the lease; cancelled (waking every waiter) whenever the lease changes.
  asio::steady_timer changed_;
};

}  // namespace ttynet::server
