#pragma once
// A one-thread wake-up signal for coroutines on the same executor: wait() suspends until the
// next notify(). Built on a timer that never expires by itself, so no mutex and no thread.

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace ttynet::port {

class Notifier {
 public:
  explicit Notifier(const asio::any_io_executor& executor) : timer_(executor) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }

  // Returns after the next notify() (or when the waiting coroutine is cancelled).
  asio::awaitable<void> wait() {
    co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  // Wakes every coroutine waiting now.
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace ttynet::port
