#include "ttynet/server/avahi_poll.hpp"

#include <sys/time.h>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>

using ttynet::server::detail::AsioAvahiPoll;

// The opaque types of avahi-common/watch.h. A watch or timeout may be freed from inside its own
// callback, so the state the pending Asio operations use lives on in a shared_ptr until they
// complete; `is_freed` tells them to do nothing.
struct AvahiWatch {
  struct State {
    State(const asio::any_io_executor& executor, int fd) : descriptor(executor, fd) {}
    asio::posix::stream_descriptor descriptor;  // released, never closed: the fd is Avahi's
    AvahiWatchEvent wanted{};
    AvahiWatchEvent happened{};
    AvahiWatchCallback callback = nullptr;
    void* userdata = nullptr;
    AvahiWatch* self = nullptr;
    bool is_reading = false;
    bool is_writing = false;
    bool is_freed = false;
  };
  std::shared_ptr<State> state;
};

struct AvahiTimeout {
  struct State {
    explicit State(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    AvahiTimeoutCallback callback = nullptr;
    void* userdata = nullptr;
    AvahiTimeout* self = nullptr;
    bool is_freed = false;
  };
  std::shared_ptr<State> state;
};

namespace ttynet::server::detail {
namespace {

void arm(const std::shared_ptr<AvahiWatch::State>& state);

void on_ready(const std::shared_ptr<AvahiWatch::State>& state, AvahiWatchEvent event,
              std::error_code ec) {
  (event == AVAHI_WATCH_IN ? state->is_reading : state->is_writing) = false;
  if (state->is_freed || ec == asio::error::operation_aborted) return;
  if ((state->wanted & event) == 0) return;
  state->happened = ec ? static_cast<AvahiWatchEvent>(event | AVAHI_WATCH_ERR) : event;
  state->callback(state->self, state->descriptor.native_handle(), state->happened, state->userdata);
  if (state->is_freed) return;
  state->happened = static_cast<AvahiWatchEvent>(0);
  arm(state);
}

void arm(const std::shared_ptr<AvahiWatch::State>& state) {
  if ((state->wanted & AVAHI_WATCH_IN) && !state->is_reading) {
    state->is_reading = true;
    state->descriptor.async_wait(
        asio::posix::descriptor_base::wait_read,
        [state](std::error_code ec) { on_ready(state, AVAHI_WATCH_IN, ec); });
  }
  if ((state->wanted & AVAHI_WATCH_OUT) && !state->is_writing) {
    state->is_writing = true;
    state->descriptor.async_wait(
        asio::posix::descriptor_base::wait_write,
        [state](std::error_code ec) { on_ready(state, AVAHI_WATCH_OUT, ec); });
  }
}

AvahiWatch* watch_new(const AvahiPoll* api, int fd, AvahiWatchEvent event,
                      AvahiWatchCallback callback, void* userdata) {
  const auto& poll = *static_cast<const AsioAvahiPoll*>(api->userdata);
  auto* watch = new AvahiWatch{std::make_shared<AvahiWatch::State>(poll.executor(), fd)};
  watch->state->wanted = event;
  watch->state->callback = callback;
  watch->state->userdata = userdata;
  watch->state->self = watch;
  arm(watch->state);
  return watch;
}

void watch_update(AvahiWatch* watch, AvahiWatchEvent event) {
  watch->state->wanted = event;
  arm(watch->state);
}

AvahiWatchEvent watch_get_events(AvahiWatch* watch) { return watch->state->happened; }

void watch_free(AvahiWatch* watch) {
  auto& state = *watch->state;
  state.is_freed = true;
  std::error_code ignored;
  state.descriptor.cancel(ignored);
  state.descriptor.release();
  delete watch;
}

void timeout_update(AvahiTimeout* timeout, const struct timeval* when) {
  auto state = timeout->state;
  state->timer.cancel();
  if (!when) return;
  // Avahi gives wall-clock times (gettimeofday); the timer runs on the steady clock.
  struct timeval now {};
  ::gettimeofday(&now, nullptr);
  const auto delay = std::chrono::seconds(when->tv_sec - now.tv_sec) +
                     std::chrono::microseconds(when->tv_usec - now.tv_usec);
  state->timer.expires_after(std::max<std::chrono::microseconds>(delay, {}));
  state->timer.async_wait([state](std::error_code ec) {
    if (ec || state->is_freed) return;
    state->callback(state->self, state->userdata);
  });
}

AvahiTimeout* timeout_new(const AvahiPoll* api, const struct timeval* when,
                          AvahiTimeoutCallback callback, void* userdata) {
  const auto& poll = *static_cast<const AsioAvahiPoll*>(api->userdata);
  auto* timeout = new AvahiTimeout{std::make_shared<AvahiTimeout::State>(poll.executor())};
  timeout->state->callback = callback;
  timeout->state->userdata = userdata;
  timeout->state->self = timeout;
  timeout_update(timeout, when);
  return timeout;
}

void timeout_free(AvahiTimeout* timeout) {
  timeout->state->is_freed = true;
  timeout->state->timer.cancel();
  delete timeout;
}

}  // namespace

AsioAvahiPoll::AsioAvahiPoll(asio::any_io_executor executor) : executor_(std::move(executor)) {
  api_.userdata = this;
  api_.watch_new = watch_new;
  api_.watch_update = watch_update;
  api_.watch_get_events = watch_get_events;
  api_.watch_free = watch_free;
  api_.timeout_new = timeout_new;
  api_.timeout_update = timeout_update;
  api_.timeout_free = timeout_free;
}

}  // namespace ttynet::server::detail
