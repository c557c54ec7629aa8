#include "ttynet/server/session.hpp"

#include "ttynet/port/tls.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ttynet/port/reset_player.hpp"
#include "ttynet/port/write_output.hpp"
#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

spdlog::level::level_enum spdlog_level(action::Log::Level level) {
  switch (level) {
    case action::Log::Level::debug:
      return spdlog::level::debug;
    case action::Log::Level::info:
      return spdlog::level::info;
    case action::Log::Level::warn:
      break;
  }
  return spdlog::level::warn;
}

}  // namespace

DeviceState device_state(const port::Port& port) {
  return {
      .settings = port.settings(), .lines = port.control_lines(), .break_on = port.break_state()};
}

Session::Session(port::NetStream stream, port::Port& port, SessionConfig config)
    : stream_(std::move(stream)),
      port_(port),
      config_(std::move(config)),
      report_(config_.port_name, "",
              config_.peer_label.empty() ? describe_peer(stream_.socket()) : config_.peer_label),
      flow_changed_(stream_.get_executor()),
      core_idle_(stream_.get_executor()),
      client_input_wanted_(stream_.get_executor()),
      device_write_began_(stream_.get_executor()),
      pacer_timer_(stream_.get_executor()) {
  if (auto ec = configure_client_socket(stream_.socket(), config_.clients.keepalive)) {
    report_(spdlog::level::warn, fmt::format(": keepalive not set: {}", ec.message()));
  }
  if (config_.protocol == Protocol::rfc2217) {
    core_.emplace(SessionPolicy{.signature = config_.signature,
                                .esp_reset = config_.esp_reset,
                                .paced_esp = is_paced(),
                                .read_only = config_.read_only},
                  device_state(port_));
  }
}

void Session::start_with(ByteView earlier_output) {
  if (earlier_output.empty()) return;
  if (core_) {
    core_->send_data(earlier_output);  // goes out behind the option offers, at the first flush
    return;
  }
  replay_.assign(earlier_output.begin(), earlier_output.end());
  is_replaying_ = true;
}

asio::awaitable<void> Session::run() {
  if (is_replaying_) {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(replay_), as_tuple);
    if (ec) lose_client(ec);
    replay_ = {};
    is_replaying_ = false;
    flow_changed_.notify();
  }
  if (core_) {
    core_->poll_modem_state();
    co_await drive_core();
    co_await flush_to_client();  // our option offers go out before the client speaks
    if (is_paced()) {
      co_await (client_to_device() || poll_modem_lines() || expire_paced_frames() ||
                close_when_idle() || watch_device_writes());
    } else {
      co_await (client_to_device() || poll_modem_lines() || close_when_idle() ||
                watch_device_writes());
    }
  } else {
    co_await (client_to_device() || close_when_idle() || watch_device_writes());
  }
  close();
  if (is_shared()) config_.lease->release(this);
  if (core_ && core_->protocol_error_count() > core_->protocol_error_kinds()) {
    report_(spdlog::level::warn,
            fmt::format(": {} protocol errors in all", core_->protocol_error_count()));
  }
}

void Session::close() {
  stream_.close();
  abandon_device_write();
  flow_changed_.notify();
  client_input_wanted_.notify();
}

void Session::device_lost() {
  if (core_) core_->device_lost();
}

asio::awaitable<void> Session::restore_device(const std::optional<DeviceState>& to) {
  if (device_output_abandoned_) {
    // What the device did not take is the gone client's: the next one must not inherit it.
    if (auto ec = co_await port_.purge(Purge::transmit)) {
      report_(spdlog::level::warn,
              fmt::format(": cannot drop the device's pending output: {}", ec.message()));
    }
  }
  if (!core_) co_return;  // a raw client cannot change the device's settings or lines
  core_->observe_device(device_state(port_));
  core_->restore(to);
  co_await drive_core();
}

asio::awaitable<void> Session::close_with_message(std::string_view line) {
  if (stream_.is_open()) {
    const std::string text = fmt::format("\r\nttynet: {}\r\n", line);
    if (core_) {
      core_->send_data(as_bytes(text));
      co_await flush_to_client();
      // Another writer may have been mid-write; it sends our line too before it stops.
      while (is_writing_ && stream_.is_open()) co_await flow_changed_.wait();
    } else {
      co_await asio::async_write(stream_, asio::buffer(text), as_tuple);
    }
  }
  close();
}

asio::awaitable<void> Session::close_when_idle() {
  const std::chrono::seconds limit = config_.clients.idle_timeout;
  asio::steady_timer timer(stream_.get_executor());
  if (limit.count() == 0) {  // no limit: wait until the session ends (the || cancels this)
    timer.expires_at(asio::steady_timer::time_point::max());
    co_await timer.async_wait(as_tuple);
    co_return;
  }
  while (Clock::now() < last_input_ + limit) {
    timer.expires_at(last_input_ + limit);
    auto [ec] = co_await timer.async_wait(as_tuple);
    if (ec || !stream_.is_open()) co_return;
  }
  report_(spdlog::level::info,
          fmt::format(": nothing from the client for {} s: closing (idle timeout)", limit.count()));
  co_await close_with_message(
      fmt::format("closed after {} s without input from you (idle timeout)", limit.count()));
}

asio::awaitable<void> Session::client_to_device() {
  for (bool is_first_read = true;; is_first_read = false) {
    // Paced frames queued to their limit: TCP backpressure holds the rest of the client's.
    while (core_ && stream_.is_open() && !core_->wants_client_input()) {
      co_await client_input_wanted_.wait();
    }
    auto [ec, n] = co_await stream_.async_read_some(
        asio::buffer(from_client_.get(), receive_buffer_size), as_tuple);
    if (ec) {
      if (ec != asio::error::eof) lose_client(ec);
      co_return;
    }
    last_input_ = Clock::now();
    const MutableByteView received{from_client_.get(), n};
    if (is_first_read && !stream_.is_tls() && port::looks_like_tls_hello(received)) {
      // Its ClientHello came after the gate looked: never the device's bytes.
      report_(spdlog::level::info, ": refused: TLS on a plain port");
      co_return;
    }
    log().trace("port {}: {}: {} bytes from the client", config_.port_name, peer(), n);
    if (is_shared()) {
      co_await hold_input_during_flash();
      if (!stream_.is_open()) co_return;
    }
    if (!core_) {
      if (auto write_error = co_await write_to_device(received)) {
        if (!device_output_abandoned_) {
          report_(spdlog::level::warn,
                  fmt::format(": device write failed: {}", write_error.message()));
        }
        co_return;
      }
      continue;
    }
    while (is_driving_) co_await core_idle_.wait();  // receive() wants the core drained
    if (is_shared()) core_->observe_device(device_state(port_));
    core_->receive(received);
    if (config_.stats && !is_negotiation_counted_ && core_->is_com_port_agreed()) {
      is_negotiation_counted_ = true;
      config_.stats->negotiation.observe(
          std::chrono::duration<double>(Clock::now() - connected_).count());
    }
    co_await drive_core();
    flow_changed_.notify();  // the client may have resumed the flow
    if (!stream_.is_open()) co_return;
    co_await flush_to_client();
  }
}

asio::awaitable<void> Session::hold_input_during_flash() {
  DeviceLease& lease = *config_.lease;
  if (lease.is_held_against(this)) {
    report_(spdlog::level::info,
            fmt::format(": input held back while {} flashes", lease.holder_name()));
    co_await lease.wait_until_free_for(this);
    report_(spdlog::level::debug, ": input goes on");
  }
  lease.renew(this);
}

asio::awaitable<void> Session::drive_core() {
  while (is_driving_) co_await core_idle_.wait();
  is_driving_ = true;
  while (auto next = core_->next_action()) {
    ActionResult result;
    try {
      result = co_await std::visit([this](const auto& action) { return perform(action); }, *next);
    } catch (const std::system_error& cancelled) {
      // Our caller was cancelled (the session is ending) and Asio refuses every later co_await
      // there. Each action still completes, as failed, so the core stays consistent and the
      // next drive (restore_device()) is not left waiting for this one.
      result = ActionResult{.error = cancelled.code()};
    }
    core_->complete(result, Clock::now());
  }
  is_driving_ = false;
  core_idle_.notify();
  if (!is_paced()) co_return;
  if (core_->wants_client_input()) client_input_wanted_.notify();
  follow_pacer_deadline();
}

ActionResult Session::device_after(std::error_code ec) const {
  return {.error = ec, .device = device_state(port_)};
}

asio::awaitable<ActionResult> Session::perform(const action::Write& write) {
  if (is_shared() && core_->is_writing_paced_frame()) config_.lease->take(this, peer());
  co_return ActionResult{.error = co_await write_to_device(write.data)};
}

asio::awaitable<std::error_code> Session::write_to_device(ByteView data) {
  if (device_output_abandoned_ || !stream_.is_open()) co_return asio::error::operation_aborted;
  ++device_writes_;
  is_device_writing_ = true;
  device_write_began_.notify();
  // Its own coroutine, so that abandon_device_write() can cancel it whoever is waiting for it.
  auto [exception, ec] =
      co_await asio::co_spawn(stream_.get_executor(), port_.write(data),
                              asio::bind_cancellation_slot(abandon_device_write_.slot(), as_tuple));
  is_device_writing_ = false;
  if (exception) std::rethrow_exception(exception);
  if (device_output_abandoned_) co_return asio::error::operation_aborted;
  if (!ec && config_.stats) config_.stats->bytes_to_device += data.size();
  co_return ec;
}

void Session::abandon_device_write() {
  if (!is_device_writing_) return;
  device_output_abandoned_ = true;
  abandon_device_write_.emit(asio::cancellation_type::all);
}

asio::awaitable<void> Session::watch_device_writes() {
  asio::steady_timer timer(stream_.get_executor());
  std::uint64_t reported = 0;
  while (stream_.is_open()) {
    if (!is_device_writing_) {
      co_await device_write_began_.wait();
    } else {
      const auto write = device_writes_;
      timer.expires_after(stuck_write_poll);
      co_await timer.async_wait(as_tuple);
      if (is_device_writing_ && device_writes_ == write && stream_.is_open()) {
        if (has_client_left()) {
          report_(spdlog::level::info,
                  ": left while the device took no input; its output is dropped");
          close();
          co_return;
        }
        if (reported != write) {
          reported = write;
          report_(spdlog::level::debug, fmt::format(": the device has taken no input for {} ms",
                                                    stuck_write_poll.count()));
        }
      }
    }
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

// TCP_CLOSE_WAIT: the client sent its FIN; TCP_CLOSE: the connection was reset or timed out.
bool Session::has_client_left() {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(stream_.socket().native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return true;
  }
  return info.tcpi_state == TCP_CLOSE_WAIT || info.tcpi_state == TCP_CLOSE;
}

asio::awaitable<ActionResult> Session::perform(const action::ApplySettings& apply) {
  co_return device_after(co_await port_.apply_settings(apply.settings));
}

asio::awaitable<ActionResult> Session::perform(const action::SetLines& lines) {
  co_return device_after(co_await port_.set_control_lines(lines.dtr, lines.rts));
}

asio::awaitable<ActionResult> Session::perform(const action::PlayReset& reset) {
  if (is_shared() && reset.into_bootloader && !config_.lease->take(this, peer())) {
    // Another flash began while this request was on its way: it goes first.
    co_await hold_input_during_flash();
    config_.lease->take(this, peer());
  }
  auto result = device_after(co_await port::play_reset(port_, *reset.sequence));
  if (config_.stats && !result.error) {
    ++(reset.into_bootloader ? config_.stats->resets_into_bootloader
                             : config_.stats->resets_into_application);
  }
  // Into the application: the flash is over, and everyone sees the boot output.
  if (is_shared() && !reset.into_bootloader) config_.lease->release(this);
  co_return result;
}

asio::awaitable<ActionResult> Session::perform(const action::SetBreak& set) {
  co_return device_after(co_await port_.set_break(set.on));
}

asio::awaitable<ActionResult> Session::perform(const action::Wait& wait) {
  asio::steady_timer timer(stream_.get_executor(), wait.length);
  co_await timer.async_wait(as_tuple);
  co_return ActionResult{};
}

asio::awaitable<ActionResult> Session::perform(const action::Purge& purge) {
  co_return ActionResult{.error = co_await port_.purge(purge.which)};
}

asio::awaitable<ActionResult> Session::perform(const action::ReadModemState& /*read*/) {
  auto state = co_await port_.modem_state();
  if (!state) co_return ActionResult{.error = state.error()};
  co_return ActionResult{.modem_lines = *state};
}

asio::awaitable<ActionResult> Session::perform(const action::Log& line) {
  report_(spdlog_level(line.level), fmt::format(": {}", line.text));
  co_return ActionResult{};
}

asio::awaitable<ActionResult> Session::perform(const action::Disconnect& /*disconnect*/) {
  close();
  co_return ActionResult{};
}

asio::awaitable<void> Session::poll_modem_lines() {
  asio::steady_timer timer(stream_.get_executor());
  if (!port_.has_modem_lines()) {
    // Nothing to poll; wait until the session ends (the || around us cancels this wait).
    timer.expires_at(asio::steady_timer::time_point::max());
    co_await timer.async_wait(as_tuple);
    co_return;
  }
  for (;;) {
    timer.expires_after(config_.modem_poll_interval);
    auto [ec] = co_await timer.async_wait(as_tuple);
    if (ec || !stream_.is_open()) co_return;
    core_->poll_modem_state();
    co_await drive_core();
    co_await flush_to_client();
  }
}

asio::awaitable<void> Session::expire_paced_frames() {
  for (;;) {
    pacer_timer_deadline_ = core_->deadline();
    pacer_timer_.expires_at(pacer_timer_deadline_.value_or(TimePoint::max()));
    auto [ec] = co_await pacer_timer_.async_wait(as_tuple);
    const auto state = co_await asio::this_coro::cancellation_state;
    if (!stream_.is_open() || state.cancelled() != asio::cancellation_type::none) co_return;
    if (ec) continue;  // follow_pacer_deadline(): the deadline changed
    core_->expire(Clock::now());
    co_await drive_core();  // the next batch may go on
    co_await flush_to_client();
  }
}

// Wakes expire_paced_frames() to re-arm; called wherever the core may have moved the deadline.
void Session::follow_pacer_deadline() {
  if (core_->deadline() != pacer_timer_deadline_) pacer_timer_.cancel();
}

asio::awaitable<void> Session::from_device(ByteView data) {
  if (!core_) {
    // Raw: only this path writes to the socket (after the scroll-back), straight from the
    // caller's buffer.
    while (is_replaying_ && stream_.is_open()) co_await flow_changed_.wait();
    if (!stream_.is_open()) co_return;
    auto [ec, n] =
        co_await asio::async_write(stream_, asio::buffer(data.data(), data.size()), as_tuple);
    if (ec) lose_client(ec);
    co_return;
  }
  while (stream_.is_open() && core_->is_suspended()) co_await flow_changed_.wait();
  if (!stream_.is_open()) co_return;
  core_->send_data(data);
  // A reply may release the next paced frame: out before the client's copy, in this turn. A
  // drive in progress picks it up itself; waiting for it would stop the device reads.
  if (is_paced() && !is_driving_) {
    co_await drive_core();
  } else if (is_paced()) {
    follow_pacer_deadline();
  }
  co_await flush_to_client();
  while (stream_.is_open() && core_->pending_output_size() > config_.high_water) {
    co_await flow_changed_.wait();
  }
}

void Session::offer_from_device(ByteView data) {
  if (!core_ || !stream_.is_open()) return;
  if (core_->is_suspended() || core_->pending_output_size() > config_.high_water) {
    if (offered_dropped_ == 0) report_(spdlog::level::warn, " is too slow: dropping device output");
    offered_dropped_ += data.size();
    return;
  }
  if (offered_dropped_ > 0) {
    report_(spdlog::level::info,
            fmt::format(" is keeping up again; {} bytes of device output were dropped",
                        std::exchange(offered_dropped_, 0)));
  }
  core_->send_data(data);
  if (is_writing_) return;  // the writer in flight takes it too
  asio::co_spawn(
      stream_.get_executor(),
      [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->flush_to_client(); },
      asio::detached);
}

// Whoever queued output writes it unless a write is already in flight; that writer goes on
// until nothing is pending, so every queued byte goes out in order with one write at a time.
asio::awaitable<void> Session::flush_to_client() {
  if (is_writing_ || !core_ || !stream_.is_open()) co_return;
  is_writing_ = true;
  std::error_code ec;
  try {
    ec = co_await port::write_output(stream_, *core_);
  } catch (const std::system_error& cancelled) {  // as in drive_core(): the session is ending
    ec = cancelled.code();
  }
  if (ec) lose_client(ec);
  is_writing_ = false;
  flow_changed_.notify();
}

void Session::lose_client(std::error_code ec) {
  report_.connection_lost(ec, stream_.is_open());
  close();
}

}  // namespace ttynet::server
