#include "ttynet/forward/accelerated_port.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "ttynet/esp/reset_detector.hpp"
#include "ttynet/forward/esp_accelerator.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/reset_player.hpp"

namespace ttynet::forward {

namespace {

constexpr std::size_t far_read_size = 16 * 1024;

spdlog::level::level_enum spdlog_level(AcceleratorNote::Level level) {
  switch (level) {
    case AcceleratorNote::Level::debug:
      return spdlog::level::debug;
    case AcceleratorNote::Level::info:
      return spdlog::level::info;
    case AcceleratorNote::Level::warn:
      break;
  }
  return spdlog::level::warn;
}

}  // namespace

struct AcceleratedPort::State {
  State(const asio::any_io_executor& executor, std::unique_ptr<port::Port> far_port,
        Options port_options)
      : options(port_options),
        far(std::move(far_port)),
        accelerator({.follows_baud_changes = options.raw_front}),
        detector(far->control_lines()),
        output_ready(executor),
        output_taken(executor),
        writer_free(executor),
        log(port::logger("forward")) {
    accelerator.set_baud(far->settings().baud);
  }

  // Hands what the accelerator queued for the far server over, one writer at a time. Static,
  // holding the state, so that a frame destroyed at shutdown still finds it.
  static asio::awaitable<std::error_code> flush(std::shared_ptr<State> self) {
    while (self->writing) {
      if (auto ec = co_await self->writer_free.wait_while_open(self->closed)) co_return ec;
    }
    self->writing = true;
    struct Release {
      std::shared_ptr<State> state;
      ~Release() {
        state->writing = false;
        state->writer_free.notify();
      }
    } release{self};
    port::Port& far = *self->far;
    while (auto item = self->accelerator.next_upstream()) {
      std::error_code ec;
      if (const auto* data = std::get_if<ByteBuffer>(&*item)) {
        ec = co_await far.write(*data);
      } else {
        ec = co_await far.send_paced_esp(std::get<rfc2217::paced_esp::Message>(*item));
      }
      if (ec) co_return ec;
    }
    if (auto baud = self->accelerator.next_baud()) {
      LineSettings settings = far.settings();
      settings.baud = *baud;
      if (auto ec = co_await far.apply_settings(settings)) co_return ec;
      self->accelerator.set_baud(*baud);
      self->log->info("{}: the chip now talks at {} baud; so does the port", far.info().url, *baud);
    }
    co_return std::error_code{};
  }

  // After the accelerator was fed: its notes to the log, its output to the reader.
  void after_accelerator() {
    while (auto note = accelerator.next_note()) {
      log->log(spdlog_level(note->level), "{}: {}", far->info().url, note->text);
    }
    if (!accelerator.tool_output().empty()) output_ready.notify();
  }

  void fail(std::error_code ec) {
    if (!far_error) far_error = ec;
    output_ready.notify();
  }

  static asio::awaitable<void> read_far(std::shared_ptr<State> self) {
    ByteBuffer buffer(far_read_size);
    while (!self->closed) {
      while (self->accelerator.tool_output().size() >= max_tool_backlog && !self->closed) {
        co_await self->output_taken.wait();
      }
      auto [ec, n] = co_await self->far->read_some(buffer);
      if (self->closed) co_return;
      if (ec) {
        self->fail(ec);
        co_return;
      }
      self->accelerator.from_device(ByteView(buffer).first(n), Clock::now());
      self->after_accelerator();
      if (auto write_ec = co_await flush(self)) {
        self->fail(write_ec);
        co_return;
      }
    }
  }

  static asio::awaitable<void> read_reports(std::shared_ptr<State> self) {
    while (!self->closed) {
      auto report = co_await self->far->next_paced_esp_report();
      if (!report || self->closed) co_return;
      self->accelerator.on_report(*report);
      self->after_accelerator();
      if (auto ec = co_await flush(self)) {
        self->fail(ec);
        co_return;
      }
    }
  }

  // Plays a reset on the far port for a tool that cannot; its waits are the far server's.
  static asio::awaitable<void> reset(std::shared_ptr<State> self, esp::ResetSequence sequence) {
    if (self->closed) co_return;
    if (auto ec = co_await port::play_reset(*self->far, esp::without_waits(sequence))) {
      self->log->warn("{}: cannot reset the chip: {}", self->far->info().url, ec.message());
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    const AcceleratorCounters& counts = accelerator.counters();
    log->info(
        "{}: closing: {} SYNCs answered here, {} replies given ahead ({} register writes), {} "
        "confirmed, {} re-sent, "
        "{} failures given, {} constant reads answered here, {} reads streamed, {} slow reads "
        "read ahead",
        far->info().url, counts.syncs_answered, counts.answered_ahead, counts.registers_ahead,
        counts.confirmed, counts.resent, counts.failed_replies, counts.reads_answered,
        counts.reads_streamed, counts.reads_ahead);
    far->close();
    output_ready.notify();
    output_taken.notify();
    writer_free.notify();
  }

  Options options;
  std::unique_ptr<port::Port> far;
  EspAccelerator accelerator;
  esp::ResetDetector detector;
  port::Notifier output_ready;  // the accelerator has output for the tool, or the far port ended
  port::Notifier output_taken;  // the reader took some
  port::Notifier writer_free;
  std::shared_ptr<spdlog::logger> log;
  std::error_code far_error;
  bool writing = false;
  bool closed = false;
};

AcceleratedPort::AcceleratedPort(asio::any_io_executor executor, std::unique_ptr<port::Port> far,
                                 Options options)
    : state_(std::make_shared<State>(executor, std::move(far), options)) {
  asio::co_spawn(executor, State::read_far(state_), asio::detached);
  asio::co_spawn(executor, State::read_reports(state_), asio::detached);
  if (options.raw_front) {
    state_->accelerator.on_reset();
    asio::co_spawn(executor, State::reset(state_, esp::classic_reset()), asio::detached);
  }
}

AcceleratedPort::~AcceleratedPort() { close(); }

asio::awaitable<std::tuple<std::error_code, std::size_t>> AcceleratedPort::read_some(
    MutableByteView into) {
  const auto state = state_;
  for (;;) {
    const ByteView out = state->accelerator.tool_output();
    if (!out.empty()) {
      const std::size_t n = std::min(out.size(), into.size());
      std::copy_n(out.begin(), n, into.begin());
      state->accelerator.consume_tool_output(n);
      state->output_taken.notify();
      co_return std::make_tuple(std::error_code{}, n);
    }
    if (state->far_error) co_return std::make_tuple(state->far_error, std::size_t{0});
    const std::error_code stopped = co_await state->output_ready.wait_while_open(state->closed);
    if (stopped) co_return std::make_tuple(stopped, std::size_t{0});
  }
}

asio::awaitable<std::error_code> AcceleratedPort::write(ByteView data) {
  const auto state = state_;
  if (state->closed) co_return port::errc::closed;
  state->accelerator.set_round_trip(state->far->round_trip().value_or(Duration::zero()));
  state->accelerator.set_far_features(state->far->paced_esp_features());
  state->accelerator.from_tool(data, Clock::now());
  state->after_accelerator();
  co_return co_await State::flush(state);
}

asio::awaitable<std::error_code> AcceleratedPort::drain() {
  const auto state = state_;
  co_return co_await state->far->drain();
}

asio::awaitable<std::error_code> AcceleratedPort::apply_settings(const LineSettings& settings) {
  const auto state = state_;
  const std::error_code ec = co_await state->far->apply_settings(settings);
  state->accelerator.set_baud(state->far->settings().baud);
  co_return ec;
}

LineSettings AcceleratedPort::settings() const { return state_->far->settings(); }

asio::awaitable<std::error_code> AcceleratedPort::set_control_lines(std::optional<bool> dtr,
                                                                    std::optional<bool> rts) {
  const auto state = state_;
  if (state->detector.on_request(dtr, rts) != esp::ResetDetector::Action::pass_through) {
    state->accelerator.on_reset();
    if (auto ec = co_await State::flush(state)) co_return ec;
  }
  co_return co_await state->far->set_control_lines(dtr, rts);
}

ControlLines AcceleratedPort::control_lines() const { return state_->far->control_lines(); }

asio::awaitable<std::error_code> AcceleratedPort::set_break(bool on) {
  const auto state = state_;
  co_return co_await state->far->set_break(on);
}

bool AcceleratedPort::break_state() const { return state_->far->break_state(); }

asio::awaitable<std::error_code> AcceleratedPort::purge(Purge which) {
  if (which != Purge::transmit) state_->accelerator.drop_tool_output();
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> AcceleratedPort::modem_state() {
  const auto state = state_;
  co_return co_await state->far->modem_state();
}

bool AcceleratedPort::has_modem_lines() const { return state_->far->has_modem_lines(); }

const port::PortInfo& AcceleratedPort::info() const { return state_->far->info(); }

std::optional<Duration> AcceleratedPort::round_trip() const { return state_->far->round_trip(); }

void AcceleratedPort::close() { state_->close(); }

asio::awaitable<void> AcceleratedPort::shutdown(Duration linger) {
  const auto state = state_;
  if (state->options.raw_front) co_await State::reset(state, esp::hard_reset());
  if (!state->closed) co_await state->far->shutdown(linger);
  state->close();
}

std::unique_ptr<port::Port> accelerate_if_paced(asio::any_io_executor executor,
                                                std::unique_ptr<port::Port> far,
                                                AcceleratedPort::Options options) {
  if (!far->paces_esp_frames()) return far;
  return std::make_unique<AcceleratedPort>(std::move(executor), std::move(far), options);
}

}  // namespace ttynet::forward
