#include "ttynet/term/terminal.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <exception>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ttynet/port/notifier.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/port/reset_player.hpp"
#include "ttynet/term/key_handler.hpp"
#include "ttynet/term/log_file.hpp"
#include "ttynet/term/output_formatter.hpp"
#include "ttynet/term/raw_mode.hpp"
#include "ttynet/term/status.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::term {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t chunk_size = 16 * 1024;

asio::awaitable<bool> is_cancelled() {
  const auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

// Local time of day, for timestamps (the formatter takes it as an argument).
std::chrono::milliseconds time_of_day() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  ::localtime_r(&now.tv_sec, &local);
  return std::chrono::hours(local.tm_hour) + std::chrono::minutes(local.tm_min) +
         std::chrono::seconds(local.tm_sec) + std::chrono::milliseconds(now.tv_nsec / 1'000'000);
}

void write_all_blocking(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to show it; not worth failing for
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

class Terminal {
 public:
  Terminal(asio::io_context& io, const TerminalConfig& config, port::Port& port, bool interactive)
      : config_(config),
        port_(port),
        is_interactive_(interactive),
        input_(io, ::dup(config.input_fd)),
        output_(io, ::dup(config.output_fd)),
        screen_free_(io.get_executor()),
        hex_idle_timer_(io),
        drain_timer_(io),
        last_activity_(Clock::now()) {
    hex_idle_timer_.expires_at(TimePoint::max());
  }

  // Runs until quit, end of input (pipe mode), or a failure; then result() tells.
  asio::awaitable<void> run() {
    if (is_interactive_) {
      co_await (keyboard_to_port() || port_to_screen() || hex_line_flusher());
    } else {
      co_await (pipe_to_port() || port_to_screen());
    }
    if (log_.is_open()) log_.close();
  }

  const TerminalResult& result() const { return result_; }

 private:
  // Puts one piece of text on the screen: `compose` appends it to the buffer it is given (copied
  // there, since a formatter's view lasts only until its next call), then it is written. One
  // piece at a time, so that port output and notices never interleave inside a write and the
  // formatter's state matches the screen: the others wait on screen_free_ (the pattern of
  // server::Session::drive_core()). False when the write failed, or when the caller was cancelled
  // while it waited for its turn.
  template <typename Compose>
  asio::awaitable<bool> draw(Compose compose) {
    while (is_screen_busy_) {
      co_await screen_free_.wait();
      const bool cancelled = co_await is_cancelled();
      if (cancelled) co_return false;
    }
    screen_buffer_.clear();
    compose(screen_buffer_);
    is_screen_busy_ = true;
    const bool written = co_await write_screen(screen_buffer_);
    is_screen_busy_ = false;
    screen_free_.notify();
    co_return written;
  }

  asio::awaitable<bool> write_screen(ByteView data) {
    if (data.empty()) co_return true;
    auto [ec, n] =
        co_await asio::async_write(output_, asio::buffer(data.data(), data.size()), as_tuple);
    last_activity_ = Clock::now();
    if (ec) {
      if (ec != asio::error::operation_aborted) fail(fmt::format("output: {}", ec.message()));
      co_return false;
    }
    co_return true;
  }

  // A notice on a line of its own.
  asio::awaitable<void> show(std::string_view text) {
    co_await draw([&](ByteBuffer& screen) {
      append(screen, formatter_.end_line());
      append(screen, as_bytes(text));
    });
  }

  void fail(std::string message) {
    if (result_.exit_code == 0 && !is_done_) {
      result_.exit_code = 1;
      result_.error = std::move(message);
    }
    is_done_ = true;
  }

  std::string port_error(std::error_code ec) const {
    if (ec == asio::error::eof) return fmt::format("{}: the port closed", config_.url);
    return fmt::format("{}: {}", config_.url, ec.message());
  }

  // Port -> screen (and the log file).
  asio::awaitable<void> port_to_screen() {
    std::array<Byte, chunk_size> buffer{};
    for (;;) {
      auto [ec, n] = co_await port_.read_some(buffer);
      if (ec) {
        if (!is_done_ && ec != asio::error::operation_aborted) fail(port_error(ec));
        co_return;
      }
      last_activity_ = Clock::now();
      const ByteView data(buffer.data(), n);
      log_.write(data);
      const bool written = co_await draw(
          [&](ByteBuffer& screen) { append(screen, formatter_.format(data, time_of_day())); });
      if (!written) co_return;
      if (formatter_.is_hex_view() && !formatter_.is_at_line_start()) {
        hex_idle_timer_.expires_after(config_.hex_line_idle);  // wakes hex_line_flusher()
      }
    }
  }

  // Completes a partial hex line once the port has been quiet for a moment.
  asio::awaitable<void> hex_line_flusher() {
    for (;;) {
      auto [ec] = co_await hex_idle_timer_.async_wait(as_tuple);
      const bool cancelled = co_await is_cancelled();
      if (cancelled) co_return;
      if (ec) continue;  // moved by new data: wait for the new expiry
      hex_idle_timer_.expires_at(TimePoint::max());
      if (!formatter_.is_hex_view() || formatter_.is_at_line_start()) continue;
      const bool written =
          co_await draw([&](ByteBuffer& screen) { append(screen, formatter_.end_line()); });
      if (!written) co_return;
    }
  }

  // Interactive: keys -> handler -> actions.
  asio::awaitable<void> keyboard_to_port() {
    std::array<Byte, 1024> buffer{};
    for (;;) {
      auto [ec, n] = co_await input_.async_read_some(asio::buffer(buffer), as_tuple);
      if (ec) {
        // The terminal went away (hang-up): nothing left to type into.
        if (ec != asio::error::operation_aborted) spdlog::debug("terminal input: {}", ec.message());
        is_done_ = true;
        co_return;
      }
      keys_.receive(ByteView(buffer.data(), n));
      while (auto action = keys_.next_action()) {
        const bool go_on = co_await apply(*action);
        if (!go_on) {
          is_done_ = true;
          co_return;
        }
      }
    }
  }

  // Applies one action; false when the terminal should end.
  asio::awaitable<bool> apply(const Action& action) {
    if (const auto* send = std::get_if<SendData>(&action)) {
      const auto ec = co_await port_.write(send->data);
      if (ec) {
        fail(port_error(ec));
        co_return false;
      }
      if (config_.local_echo) {
        const bool written = co_await draw([&](ByteBuffer& screen) {
          append(screen, formatter_.format(send->data, time_of_day()));
        });
        co_return written && !is_done_;
      }
      co_return !is_done_;
    }
    if (const auto* print = std::get_if<Print>(&action)) {
      const bool written =
          co_await draw([&](ByteBuffer& screen) { append(screen, as_bytes(print->text)); });
      co_return written && !is_done_;
    }
    if (std::holds_alternative<Quit>(action)) {
      const std::string notice = format_notice("exit");
      co_await show(notice);
      co_return false;
    }
    // Every notice is a named local before it is awaited: g++ 12 destroys some temporaries of a
    // co_await operand twice (with ?: in particular).
    std::string notice;
    if (std::holds_alternative<ToggleDtr>(action)) {
      const bool on = !port_.control_lines().dtr;
      const auto ec = co_await port_.set_control_lines(on, std::nullopt);
      notice = ec ? fmt::format("cannot set DTR: {}", ec.message())
                  : fmt::format("DTR {}", on ? "on" : "off");
    } else if (std::holds_alternative<ToggleRts>(action)) {
      const bool on = !port_.control_lines().rts;
      const auto ec = co_await port_.set_control_lines(std::nullopt, on);
      notice = ec ? fmt::format("cannot set RTS: {}", ec.message())
                  : fmt::format("RTS {}", on ? "on" : "off");
    } else if (const auto* brk = std::get_if<SendBreak>(&action)) {
      auto ec = co_await port_.set_break(true);
      if (!ec) {
        co_await wait(brk->duration);
        ec = co_await port_.set_break(false);
      }
      notice = ec ? fmt::format("cannot send BREAK: {}", ec.message()) : "BREAK sent";
    } else if (const auto* baud = std::get_if<SetBaud>(&action)) {
      LineSettings settings = port_.settings();
      settings.baud = baud->baud;
      const auto ec = co_await port_.apply_settings(settings);
      notice = ec ? fmt::format("cannot set baud rate {}: {}; still {}", baud->baud, ec.message(),
                                port_.settings().baud)
                  : fmt::format("baud rate {}", port_.settings().baud);
    } else if (std::holds_alternative<ToggleHexView>(action)) {
      const bool written = co_await draw([&](ByteBuffer& screen) {
        append(screen, formatter_.set_hex_view(!formatter_.is_hex_view()));
        notice = format_notice(formatter_.is_hex_view() ? "hex view on" : "hex view off");
        append(screen, as_bytes(notice));
      });
      co_return written && !is_done_;
    } else if (std::holds_alternative<ToggleTimestamps>(action)) {
      formatter_.set_timestamps(!formatter_.has_timestamps());
      notice = formatter_.has_timestamps() ? "timestamps on" : "timestamps off";
    } else if (const auto* start = std::get_if<StartLog>(&action)) {
      if (auto ec = log_.open(start->file)) {
        keys_.set_logging(false);
        notice = fmt::format("cannot open {}: {}", start->file, ec.message());
      } else {
        notice = fmt::format("logging port output to {}", start->file);
      }
    } else if (std::holds_alternative<StopLog>(action)) {
      notice = fmt::format("log {} closed", log_.name());
      log_.close();
    } else if (std::holds_alternative<EspReset>(action)) {
      const esp::ResetSequence sequence = esp_reset_to_app();
      const auto ec = co_await port::play_reset(port_, sequence);
      notice =
          ec ? fmt::format("ESP reset failed: {}", ec.message()) : "ESP reset into the application";
    } else if (std::holds_alternative<ShowStatus>(action)) {
      const std::string status = co_await status_text();
      co_await show(status);
      co_return !is_done_;
    } else {
      co_return !is_done_;
    }
    const std::string line = format_notice(notice);
    co_await show(line);
    co_return !is_done_;
  }

  asio::awaitable<std::string> status_text() {
    Status status;
    status.url = config_.url;
    status.settings = port_.settings();
    status.lines = port_.control_lines();
    status.break_on = port_.break_state();
    status.has_modem_lines = port_.has_modem_lines();
    if (status.has_modem_lines) {
      auto modem = co_await port_.modem_state();
      if (modem) status.modem = *modem;
    }
    status.hex_view = formatter_.is_hex_view();
    status.timestamps = formatter_.has_timestamps();
    if (log_.is_open()) status.log_file = log_.name();
    co_return format_status(status);
  }

  asio::awaitable<void> wait(std::chrono::milliseconds duration) {
    if (duration.count() <= 0) co_return;
    asio::steady_timer timer(output_.get_executor());
    timer.expires_after(duration);
    co_await timer.async_wait(as_tuple);
  }

  // Pipe mode: input -> port; at its end, drain the port and wait for it to go quiet.
  asio::awaitable<void> pipe_to_port() {
    std::array<Byte, chunk_size> buffer{};
    for (;;) {
      auto [ec, n] = co_await input_.async_read_some(asio::buffer(buffer), as_tuple);
      if (ec == asio::error::eof) break;
      if (ec) {
        if (ec != asio::error::operation_aborted) fail(fmt::format("input: {}", ec.message()));
        co_return;
      }
      const auto write_error = co_await port_.write(ByteView(buffer.data(), n));
      if (write_error) {
        fail(port_error(write_error));
        co_return;
      }
    }
    spdlog::debug("end of input; draining {}", config_.url);
    const auto ec = co_await port_.drain();
    if (ec) {
      fail(port_error(ec));
      co_return;
    }
    // Keep copying the port's output until it has been quiet for drain_time.
    last_activity_ = std::max(last_activity_, Clock::now());
    for (;;) {
      const auto quiet_until = last_activity_ + config_.drain_time;
      if (!is_screen_busy_ && Clock::now() >= quiet_until) break;
      drain_timer_.expires_at(std::max(quiet_until, Clock::now() + std::chrono::milliseconds(10)));
      co_await drain_timer_.async_wait(as_tuple);
      const bool cancelled = co_await is_cancelled();
      if (cancelled || is_done_) co_return;
    }
    is_done_ = true;
  }

  const TerminalConfig& config_;
  port::Port& port_;
  bool is_interactive_;
  asio::posix::stream_descriptor input_;
  asio::posix::stream_descriptor output_;
  port::Notifier screen_free_;
  bool is_screen_busy_ = false;
  asio::steady_timer hex_idle_timer_;
  asio::steady_timer drain_timer_;
  TimePoint last_activity_;  // last port data received or output written
  bool is_done_ = false;     // the end was decided: later errors are not reported
  KeyHandler keys_;
  OutputFormatter formatter_;
  ByteBuffer screen_buffer_;
  LogFile log_;
  TerminalResult result_;
};

}  // namespace

TerminalResult run_terminal(const TerminalConfig& config) {
  const bool interactive = ::isatty(config.input_fd) == 1;
  std::signal(SIGPIPE, SIG_IGN);
  RawMode raw_mode(config.input_fd, config.output_fd);

  asio::io_context io(1);
  TerminalResult result;
  std::unique_ptr<port::Port> port;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        port::OpenOptions options;
        options.initial_settings = config.settings;
        auto opened = co_await port::open_port(io.get_executor(), config.url, options);
        if (!opened) {
          result = {1, opened.error().message};
          co_return;
        }
        port = std::move(*opened);
        if (config.dtr || config.rts) {
          const auto ec = co_await port->set_control_lines(config.dtr, config.rts);
          if (ec) {
            result = {1, fmt::format("{}: cannot set DTR/RTS: {}", config.url, ec.message())};
            co_return;
          }
        }
        // From here on a signal ends the run through the event loop, so the terminal is
        // restored; before, it finds nothing to restore.
        asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
        const std::string banner =
            format_banner(config.url, port->settings(), port->control_lines());
        if (interactive) {
          if (auto ec = raw_mode.enter()) {
            result = {1, fmt::format("cannot put the terminal in raw mode: {}", ec.message())};
            co_return;
          }
          write_all_blocking(config.notice_fd, banner);
        } else {
          spdlog::debug("{}", std::string_view(banner).substr(0, banner.find('\r')));
        }

        Terminal terminal(io, config, *port, interactive);
        co_await (terminal.run() || [&]() -> asio::awaitable<void> {
          auto [ec, signal_number] = co_await signals.async_wait(as_tuple);
          if (!ec) spdlog::debug("signal {}: ending", signal_number);
        }());
        result = terminal.result();
        // Not a plain close: what is queued (a last DTR/RTS change) still reaches the server.
        co_await port->shutdown(std::chrono::seconds(1));
      },
      [&](std::exception_ptr error) {
        if (!error) return;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          result = {1, e.what()};
        }
      });
  io.run();
  if (port) port->close();
  return result;
}

}  // namespace ttynet::term
