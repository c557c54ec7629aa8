#include "ttynet/server/device_lease.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <utility>

namespace ttynet::server {

DeviceLease::DeviceLease(const asio::any_io_executor& executor, Duration idle_limit)
    : idle_limit_(idle_limit), changed_(executor) {
  changed_.expires_at(TimePoint::max());
}

bool DeviceLease::take(const void* holder, std::string holder_name) {
  if (is_held_against(holder)) return false;
  holder_ = holder;
  holder_name_ = std::move(holder_name);
  set_expiry(Clock::now() + idle_limit_);
  return true;
}

void DeviceLease::renew(const void* holder) {
  if (holder_ == holder && holder != nullptr) set_expiry(Clock::now() + idle_limit_);
}

void DeviceLease::release(const void* holder) {
  if (holder_ != holder || holder == nullptr) return;
  holder_ = nullptr;
  holder_name_.clear();
  set_expiry(TimePoint::max());
}

bool DeviceLease::is_held_against(const void* client) const {
  return holder_ != nullptr && holder_ != client && !is_lapsed();
}

const std::string& DeviceLease::holder_name() const {
  static const std::string none;
  return holder_ != nullptr && !is_lapsed() ? holder_name_ : none;
}

asio::awaitable<void> DeviceLease::wait_until_free_for(const void* client) {
  // The timer fires at the expiry, and is cancelled when the lease changes: either way, look.
  while (is_held_against(client)) {
    co_await changed_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    // A waiter whose session is ending stops waiting.
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

void DeviceLease::set_expiry(TimePoint expiry) {
  expiry_ = expiry;
  changed_.expires_at(holder_ != nullptr ? expiry : TimePoint::max());  // cancels the waits
}

}  // namespace ttynet::server
