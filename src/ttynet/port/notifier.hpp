#pragma once
// A one-thread wake-up signal for coroutines on the same executor: wait() suspends until the
// next notify(). Built on a timer that never expires by itself, so no mutex and no thread.

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <system_error>

#include "ttynet/port/error.hpp"

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
  // Waits for the next notify(), then says why the caller should stop waiting: the port
  // closed (`closed` set) or the caller's operation was cancelled; nothing otherwise. The
  // flag is read after the wake-up, so pass one that outlives the wait.
  // A caller cancelled before this wait began is told so at once: the cancellation was
  // emitted while it waited on something else, and this wait would never see it.
  asio::awaitable<std::error_code> wait_while_open(const bool& closed) {
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      co_return asio::error::operation_aborted;
    }
    co_await wait();
    if (closed) co_return errc::closed;
    if (state.cancelled() != asio::cancellation_type::none) {
      co_return asio::error::operation_aborted;
    }
    co_return std::error_code{};
  }
  // Wakes every coroutine waiting now.
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace ttynet::port
