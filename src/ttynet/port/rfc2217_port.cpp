#include "ttynet/port/rfc2217_port.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <variant>

#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/settings_check.hpp"
#include "ttynet/port/tls_connect.hpp"
#include "ttynet/port/write_output.hpp"
#include "ttynet/rfc2217/error.hpp"

namespace ttynet::port {
namespace {

using tcp = asio::ip::tcp;
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// The last line of text in `bytes` that says something, for an error message: trimmed, at
// most 200 characters, anything unprintable shown as '?'.
std::string last_line(ByteView bytes) {
  constexpr std::size_t max_length = 200;
  std::string line;
  std::string last;
  for (const Byte byte : bytes) {
    if (byte == '\n' || byte == '\r') {
      if (!line.empty()) last = std::exchange(line, {});
      continue;
    }
    if (line.size() < max_length) line.push_back(byte >= 0x20 && byte < 0x7F ? char(byte) : '?');
  }
  if (!line.empty()) last = line;
  const auto begin = last.find_first_not_of(' ');
  if (begin == std::string::npos) return {};
  return last.substr(begin, last.find_last_not_of(' ') + 1 - begin);
}

constexpr std::size_t read_chunk = 16 * 1024;
// Large writes enter the client core in pieces, so the queue stays near write_high_water.
constexpr std::size_t write_chunk = 16 * 1024;
constexpr auto min_connect_timeout = std::chrono::seconds(5);

struct Outcome {
  std::error_code error;
  std::string what;
};

// "BATCH-DONE 7 (12 frames)", "BATCH-ABORTED 7 at frame 3: failed status (01 05)".
std::string describe_report(const rfc2217::paced_esp::Message& report) {
  namespace paced_esp = rfc2217::paced_esp;
  if (const auto* done = std::get_if<paced_esp::BatchDone>(&report)) {
    return fmt::format("BATCH-DONE {} ({} frames)", done->id, done->frames);
  }
  if (const auto* aborted = std::get_if<paced_esp::BatchAborted>(&report)) {
    return fmt::format("BATCH-ABORTED {} at frame {}: {} ({:02x})", aborted->id, aborted->index,
                       paced_esp::to_string(aborted->reason),
                       fmt::join(aborted->status_bytes(), " "));
  }
  return "a client message";  // the core passes reports only
}

}  // namespace

// Everything the background coroutines touch. They hold it by shared_ptr, so the port object
// may go away while a read or a timer wait is still being torn down.
struct Rfc2217Port::State {
  State(NetStream connected, const Rfc2217ConnectOptions& options, std::string port_url)
      : stream(std::move(connected)),
        deadline_timer(stream.get_executor()),
        changed(stream.get_executor()),
        output_ready(stream.get_executor()),
        space_ready(stream.get_executor()),
        limits(options.limits),
        log(logger("port.rfc2217")) {
    info.url = port_url;
    info.path = std::move(port_url);
    deadline_timer.expires_at(asio::steady_timer::time_point::max());
  }

  // Hands out the core's events and wakes whoever they concern. Call after every call into
  // the core.
  void after_core_call() {
    while (auto event = core.next_event()) std::visit([this](auto& e) { on_event(e); }, *event);
    if (!core.pending_output().empty()) output_ready.notify();
    const auto deadline = core.deadline().value_or(asio::steady_timer::time_point::max());
    if (deadline != deadline_timer.expiry()) deadline_timer.expires_at(deadline);
    changed.notify();
  }

  void on_event(const rfc2217::Client::DataReceived& event) {
    if (lingering) return;  // nobody reads any more
    ByteView data = event.data;
    if (waiting_reader.size() > delivered) {
      // Straight into a waiting read_some()'s buffer; only what does not fit is kept.
      const std::size_t n = std::min(data.size(), waiting_reader.size() - delivered);
      std::copy_n(data.begin(), n, waiting_reader.begin() + static_cast<std::ptrdiff_t>(delivered));
      delivered += n;
      data = data.subspan(n);
    }
    received.insert(received.end(), data.begin(), data.end());
  }
  void on_event(const rfc2217::Client::Opened& /*event*/) { open_outcome = Outcome{}; }
  void on_event(const rfc2217::Client::OpenFailed& event) {
    open_outcome = Outcome{event.error, event.what};
  }
  void on_event(const rfc2217::Client::OperationDone& event) {
    if (event.error) log->warn("{}: {}", info.url, event.what);
    finished[static_cast<std::uint32_t>(event.id)] = Outcome{event.error, event.what};
  }
  void on_event(const rfc2217::Client::ModemStateChanged& event) {
    log->debug("{}: modem state {:#04x}", info.url, event.state);
  }
  void on_event(const rfc2217::Client::LineStateChanged& event) {
    log->debug("{}: line state {:#04x}", info.url, event.state);
  }
  void on_event(const rfc2217::Client::FlowSuspended& event) {
    log->debug("{}: server {} the flow", info.url, event.suspended ? "suspended" : "resumed");
  }
  void on_event(const rfc2217::Client::SignatureReceived& event) {
    signature = std::string(event.text);
    log->debug("{}: server signature '{}'", info.url, *signature);
  }
  void on_event(const rfc2217::Client::PacedEspReport& event) {
    log->debug("{}: {}", info.url, describe_report(event.message));
    if (paced_esp_reports.size() == max_paced_esp_reports) paced_esp_reports.pop_front();
    paced_esp_reports.push_back(event.message);
  }
  void on_event(const rfc2217::Client::PipelinedRequestRejected& event) {
    log->warn("{}: {}", info.url, event.what);
  }
  void on_event(const rfc2217::Client::ProtocolError& event) {
    if (protocol_errors.insert(event.error).second) {
      log->warn("{}: server protocol error (further ones of this kind not logged): {}", info.url,
                event.error.message());
    }
  }

  std::optional<rfc2217::paced_esp::Message> take_report() {
    if (paced_esp_reports.empty()) return std::nullopt;
    rfc2217::paced_esp::Message oldest = paced_esp_reports.front();
    paced_esp_reports.pop_front();
    return oldest;
  }
  std::size_t buffered() const { return received.size() - received_head; }
  std::size_t queued() const { return core.pending_output_size(); }
  bool is_usable() const { return !closed && !link_error; }
  // Why the port cannot be used, if it cannot.
  std::error_code unusable() const {
    if (closed) return errc::closed;
    return link_error;
  }

  // Waits until the core may take more for the server: the flow is not suspended and the queue
  // is below write_high_water.
  asio::awaitable<std::error_code> wait_for_send_room() {
    while (is_usable() && (core.is_suspended() || queued() >= limits.write_high_water)) {
      if (auto ec = co_await changed.wait_while_open(closed)) co_return ec;
    }
    if (!is_usable()) co_return unusable();
    if (core.is_failed()) co_return rfc2217::errc::not_open;
    co_return std::error_code{};
  }

  // Starts one request through the core (`start(now)` returns its id) and waits for its outcome.
  template <typename Start>
  asio::awaitable<std::error_code> request(Start start) {
    if (!is_usable()) co_return unusable();
    const auto id = start(Clock::now());
    after_core_call();
    co_return co_await wait_for(id);
  }

  // Waits for the outcome of operation `id`.
  asio::awaitable<std::error_code> wait_for(rfc2217::OperationId id) {
    const auto key = static_cast<std::uint32_t>(id);
    for (;;) {
      if (const auto it = finished.find(key); it != finished.end()) {
        const auto error = it->second.error;
        finished.erase(it);
        co_return error;
      }
      if (!is_usable()) co_return unusable();
      if (auto ec = co_await changed.wait_while_open(closed)) co_return ec;
    }
  }

  void fail_link(std::error_code ec) {
    if (link_error || closed) return;
    link_error = ec;
    if (ec == asio::error::eof) {
      log->info("{}: the server closed the connection", info.url);
    } else {
      log->warn("{}: connection lost: {}", info.url, ec.message());
    }
    output_ready.notify();
    changed.notify();
  }

  void close() {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    stream.socket().cancel(ignored);
    stream.close();
    deadline_timer.cancel();
    output_ready.notify();
    space_ready.notify();
    changed.notify();
  }

  // Reads the server's bytes into the core until the connection ends or the port closes;
  // pauses while the port's reader is more than read_high_water behind.
  static asio::awaitable<void> read_loop(std::shared_ptr<State> self) {
    for (;;) {
      while (self->is_usable() && !self->lingering &&
             self->buffered() >= self->limits.read_high_water) {
        co_await self->space_ready.wait();
      }
      if (!self->is_usable()) co_return;
      auto [ec, n] = co_await self->stream.async_read_some(
          asio::buffer(self->read_buffer.data(), self->read_buffer.size()), as_tuple_awaitable);
      if (self->closed) co_return;
      if (ec) {
        self->fail_link(ec);
        co_return;
      }
      self->core.receive(ByteView(self->read_buffer).first(n), Clock::now());
      self->after_core_call();
    }
  }

  // Sends what the core has queued, one write at a time, straight from the core's buffer.
  static asio::awaitable<void> write_loop(std::shared_ptr<State> self) {
    for (;;) {
      while (self->is_usable() && self->core.pending_output_size() == 0) {
        co_await self->output_ready.wait();
      }
      if (!self->is_usable()) co_return;
      const auto ec =
          co_await write_output(self->stream, self->core, [&self] { self->changed.notify(); });
      if (self->closed) co_return;
      if (ec) {
        self->fail_link(ec);
        co_return;
      }
    }
  }

  // Calls the core's on_timer() when its deadline passes; after_core_call() moves the timer.
  static asio::awaitable<void> deadline_loop(std::shared_ptr<State> self) {
    while (!self->closed) {
      auto [ec] = co_await self->deadline_timer.async_wait(as_tuple_awaitable);
      if (self->closed) co_return;
      if (ec) continue;  // moved or cancelled: wait for the new expiry
      self->deadline_timer.expires_at(asio::steady_timer::time_point::max());
      self->core.on_timer(Clock::now());
      self->after_core_call();
    }
  }

  NetStream stream;  // TCP, or TLS over it
  rfc2217::Client core;
  asio::steady_timer deadline_timer;  // expires at core.deadline()
  Notifier changed;                   // data, outcomes, drained output, flow or link changes
  Notifier output_ready;              // the core has bytes for the server
  Notifier space_ready;               // the reader of the port took data
  Rfc2217Limits limits;
  std::shared_ptr<spdlog::logger> log;
  PortInfo info;

  ByteBuffer received;  // device data not yet read, from received_head on
  std::size_t received_head = 0;
  ByteBuffer read_buffer = ByteBuffer(read_chunk);
  // The buffer of a read_some() waiting for data, filled directly by on_event(), and how much
  // it holds so far.
  MutableByteView waiting_reader;
  std::size_t delivered = 0;

  std::optional<Outcome> open_outcome;
  std::map<std::uint32_t, Outcome> finished;  // operations done and not yet collected
  std::optional<std::string> signature;
  std::set<std::error_code> protocol_errors;                  // kinds already logged
  std::deque<rfc2217::paced_esp::Message> paced_esp_reports;  // not yet taken, oldest first
  std::error_code link_error;                                 // the connection ended
  bool closed = false;
  bool lingering = false;  // shutdown() waits for the server to close; data is dropped
};

Rfc2217Port::Rfc2217Port(std::shared_ptr<State> state) : state_(std::move(state)) {}

Rfc2217Port::~Rfc2217Port() { close(); }

asio::awaitable<Result<std::unique_ptr<Rfc2217Port>, Error>> Rfc2217Port::connect(
    asio::any_io_executor executor, TcpTarget target, Rfc2217ConnectOptions options) {
  std::string url =
      options.url.empty() ? tcp_url(options.tls ? "rfc2217+tls" : "rfc2217", target) : options.url;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max<Duration>(options.client.timeout, min_connect_timeout));
  auto connected = co_await connect_net_stream(executor, std::move(target), options.tls, timeout,
                                               url, logger("port.rfc2217"));
  if (!connected) co_return connected.error();
  options.url = std::move(url);
  co_return co_await open_over(std::move(executor), std::move(connected->stream),
                               std::move(options));
}

asio::awaitable<Result<std::unique_ptr<Rfc2217Port>, Error>> Rfc2217Port::open_over(
    asio::any_io_executor executor, NetStream stream, Rfc2217ConnectOptions options) {
  const std::string url = options.url;
  auto state = std::make_shared<State>(std::move(stream), options, url);
  asio::co_spawn(executor, State::read_loop(state), asio::detached);
  asio::co_spawn(executor, State::write_loop(state), asio::detached);
  asio::co_spawn(executor, State::deadline_loop(state), asio::detached);
  state->core.start(options.client, options.settings, options.lines, Clock::now());
  state->after_core_call();

  while (!state->open_outcome && state->is_usable()) {
    if (auto ec = co_await state->changed.wait_while_open(state->closed)) {
      state->close();
      co_return Error{ec, fmt::format("{}: open cancelled", url)};
    }
  }
  if (!state->open_outcome) {
    const auto ec = state->link_error;
    // A server that refuses a client (a port in use) says why in a line before it closes.
    const std::string said = last_line(state->core.discarded_before_open());
    state->close();
    if (!said.empty()) {
      // "ttynet: " heads the line of a refusing ttynet; the caller names the program itself.
      constexpr std::string_view own_prefix = "ttynet: ";
      const std::string_view reason =
          said.starts_with(own_prefix) ? std::string_view{said}.substr(own_prefix.size()) : said;
      co_return Error{ec, fmt::format("{}: refused: {}", url, reason)};
    }
    co_return Error{ec, fmt::format("{}: the server closed the connection during the "
                                    "RFC 2217 negotiation ({})",
                                    url, ec.message())};
  }
  if (state->open_outcome->error) {
    const Outcome outcome = *state->open_outcome;
    state->close();
    co_return Error{outcome.error, fmt::format("{}: {}", url, outcome.what)};
  }
  state->log->debug(
      "{}: open ({}), {}", url, to_string(state->core.settings()),
      state->core.paces_esp_frames() ? "the server paces ESP frames" : "no paced ESP frames");
  co_return std::unique_ptr<Rfc2217Port>(new Rfc2217Port(std::move(state)));
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> Rfc2217Port::read_some(
    MutableByteView into) {
  const auto state = state_;
  for (;;) {
    if (state->buffered() > 0 || into.empty()) {
      const std::size_t n = std::min(into.size(), state->buffered());
      const auto from = state->received.begin() + static_cast<std::ptrdiff_t>(state->received_head);
      std::copy_n(from, n, into.begin());
      state->received_head += n;
      if (state->received_head == state->received.size()) {
        state->received.clear();
        state->received_head = 0;
      } else if (state->received_head >= state->limits.read_high_water) {
        // A reader that never catches up fully must not keep a growing consumed prefix.
        state->received.erase(
            state->received.begin(),
            state->received.begin() + static_cast<std::ptrdiff_t>(state->received_head));
        state->received_head = 0;
      }
      state->space_ready.notify();
      co_return std::make_tuple(std::error_code{}, n);
    }
    if (!state->is_usable()) co_return std::make_tuple(state->unusable(), std::size_t{0});
    state->waiting_reader = into;
    state->delivered = 0;
    const auto ec = co_await state->changed.wait_while_open(state->closed);
    state->waiting_reader = {};
    // Data delivered into `into` is returned even when the wait was cancelled: it is the
    // caller's now.
    if (state->delivered > 0) co_return std::make_tuple(std::error_code{}, state->delivered);
    if (ec) co_return std::make_tuple(ec, std::size_t{0});
  }
}

asio::awaitable<std::error_code> Rfc2217Port::write(ByteView data) {
  const auto state = state_;
  while (!data.empty()) {
    const auto ec = co_await state->wait_for_send_room();
    if (ec) co_return ec;
    const auto piece = data.first(std::min(data.size(), write_chunk));
    state->core.send_data(piece);
    state->after_core_call();
    data = data.subspan(piece.size());
  }
  co_return std::error_code{};
}

asio::awaitable<std::error_code> Rfc2217Port::drain() {
  const auto state = state_;
  while (state->is_usable() && state->queued() > 0) {
    if (auto ec = co_await state->changed.wait_while_open(state->closed)) co_return ec;
  }
  co_return state->unusable();
}

asio::awaitable<std::error_code> Rfc2217Port::apply_settings(const LineSettings& settings) {
  const auto state = state_;
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  if (settings == state->core.settings() && state->is_usable()) co_return std::error_code{};
  co_return co_await state->request(
      [&](auto now) { return state->core.set_settings(settings, now); });
}

LineSettings Rfc2217Port::settings() const { return state_->core.settings(); }

asio::awaitable<std::error_code> Rfc2217Port::set_control_lines(std::optional<bool> dtr,
                                                                std::optional<bool> rts) {
  const auto state = state_;
  co_return co_await state->request(
      [&](auto now) { return state->core.set_control_lines(dtr, rts, now); });
}

ControlLines Rfc2217Port::control_lines() const { return state_->core.control_lines(); }

asio::awaitable<std::error_code> Rfc2217Port::set_break(bool on) {
  const auto state = state_;
  co_return co_await state->request([&](auto now) { return state->core.set_break(on, now); });
}

bool Rfc2217Port::break_state() const { return state_->core.break_state(); }

asio::awaitable<std::error_code> Rfc2217Port::purge(Purge which) {
  const auto state = state_;
  if (!state->is_usable()) co_return state->unusable();
  if (which != Purge::transmit) {
    state->received.clear();
    state->received_head = 0;
    state->space_ready.notify();
  }
  co_return co_await state->request([&](auto now) { return state->core.purge(which, now); });
}

asio::awaitable<Result<std::uint8_t>> Rfc2217Port::modem_state() {
  const auto state = state_;
  const auto ec =
      co_await state->request([&](auto now) { return state->core.poll_modem_state(now); });
  // A poll that timed out still leaves the last known state, which pyserial reports too.
  if (ec && ec != rfc2217::errc::reply_timeout) co_return ec;
  co_return static_cast<std::uint8_t>(state->core.modem_state().value_or(0) & modem::lines);
}

bool Rfc2217Port::has_modem_lines() const { return true; }

const PortInfo& Rfc2217Port::info() const { return state_->info; }

void Rfc2217Port::close() { state_->close(); }

asio::awaitable<void> Rfc2217Port::shutdown(Duration linger) {
  const auto state = state_;
  if (!state->is_usable()) {
    state->close();
    co_return;
  }
  asio::steady_timer timer(state->stream.get_executor(), linger);
  timer.async_wait([weak = std::weak_ptr<State>(state)](const std::error_code&) {
    if (const auto alive = weak.lock()) alive->changed.notify();
  });
  const auto expired = [&timer] { return timer.expiry() <= asio::steady_timer::clock_type::now(); };
  // What is queued goes out first: a SET-CONTROL sent with ign_set_control has completed
  // already, and its caller expects it to take effect.
  while (state->is_usable() && state->queued() > 0 && !expired()) co_await state->changed.wait();
  state->lingering = true;
  state->space_ready.notify();
  std::error_code ignored;
  // A TCP half-close also inside TLS: NetStream sends no close_notify (net_stream.hpp).
  state->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  while (state->is_usable() && !expired()) co_await state->changed.wait();
  timer.cancel();
  state->close();
}

std::optional<std::string> Rfc2217Port::signature() const { return state_->signature; }

std::optional<Duration> Rfc2217Port::round_trip() const { return state_->core.round_trip(); }

bool Rfc2217Port::paces_esp_frames() const { return state_->core.paces_esp_frames(); }

std::uint8_t Rfc2217Port::paced_esp_features() const { return state_->core.paced_esp_features(); }

asio::awaitable<std::error_code> Rfc2217Port::send_paced_esp(
    const rfc2217::paced_esp::Message& message) {
  const auto state = state_;
  const auto ec = co_await state->wait_for_send_room();
  if (ec) co_return ec;
  // Checked after the wait: the server may withdraw its agreement meanwhile.
  if (!state->core.paces_esp_frames()) {
    co_return std::make_error_code(std::errc::operation_not_supported);
  }
  state->core.send_paced_esp(message);
  state->after_core_call();
  co_return std::error_code{};
}

std::optional<rfc2217::paced_esp::Message> Rfc2217Port::take_paced_esp_report() {
  return state_->take_report();
}

asio::awaitable<std::optional<rfc2217::paced_esp::Message>> Rfc2217Port::next_paced_esp_report() {
  const auto state = state_;  // the port may be destroyed while this waits
  for (;;) {
    if (auto report = state->take_report()) co_return report;
    if (!state->is_usable()) co_return std::nullopt;
    const std::error_code stopped = co_await state->changed.wait_while_open(state->closed);
    if (stopped) co_return std::nullopt;
  }
}

asio::awaitable<OpenResult> open_rfc2217_url(asio::any_io_executor executor, const PortUrl& url) {
  if (url.has_option("logging")) set_logging_level("port.rfc2217", url.option("logging"));
  Rfc2217ConnectOptions options;
  options.url = url.text;
  options.client.ign_set_control = url.flag("ign_set_control");
  options.client.poll_modem = url.flag("poll_modem");
  options.client.timeout = url.seconds("timeout");
  options.tls = tls_client_options(url);
  auto opened = co_await Rfc2217Port::connect(std::move(executor), TcpTarget{url.host, url.port},
                                              std::move(options));
  if (!opened) co_return opened.error();
  co_return OpenResult(std::unique_ptr<Port>(std::move(*opened)));
}

}  // namespace ttynet::port
