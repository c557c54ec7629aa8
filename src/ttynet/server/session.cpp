#include "ttynet/server/session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ttynet/port/reset_player.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::server {
namespace {

using asio::experimental::awaitable_operators::operator||;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// Telnet IAC BRK carries no duration; ser2net uses this one.
constexpr std::chrono::milliseconds telnet_break_duration{250};

// Low latency and quick detection of clients that vanished without a FIN.
void configure_client_socket(asio::ip::tcp::socket& socket) {
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  const int idle = 1;
  const int interval = 1;
  const int probes = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

std::string endpoint_text(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  const auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return fmt::format("{}:{}",
                       asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string(),
                       endpoint.port());
  }
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

rfc2217::Control inbound_flow_in_force(FlowControl flow) {
  switch (flow) {
    case FlowControl::xon_xoff:
      return rfc2217::Control::inbound_flow_xon_xoff;
    case FlowControl::rts_cts:
      return rfc2217::Control::inbound_flow_hardware;
    case FlowControl::none:
      break;
  }
  return rfc2217::Control::inbound_flow_none;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, port::Port& port, SessionConfig config)
    : socket_(std::move(socket)),
      port_(port),
      config_(std::move(config)),
      peer_(endpoint_text(socket_)),
      flow_changed_(socket_.get_executor()) {
  configure_client_socket(socket_);
  if (config_.protocol == Protocol::rfc2217) core_.emplace();
}

asio::awaitable<void> Session::run() {
  if (core_ && config_.esp_reset) reset_detector_.emplace(port_.control_lines());
  if (core_) {
    co_await refresh_modem_state();
    co_await flush_to_client();  // our option offers go out before the client speaks
    co_await (client_to_device() || poll_modem_lines());
  } else {
    co_await client_to_device();
  }
  close();
  if (protocol_error_count_ > protocol_errors_.size()) {
    log().warn("{}: {} protocol errors in all", peer_, protocol_error_count_);
  }
}

void Session::close() {
  std::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  flow_changed_.notify();
}

asio::awaitable<void> Session::close_with_message(std::string_view line) {
  if (socket_.is_open()) {
    const std::string text = fmt::format("\r\nttynet: {}\r\n", line);
    if (core_) {
      core_->send_data(as_bytes(text));
      co_await flush_to_client();
      // Another writer may have been mid-write; it sends our line too before it stops.
      while (is_writing_ && socket_.is_open()) co_await flow_changed_.wait();
    } else {
      co_await asio::async_write(socket_, asio::buffer(text), as_tuple);
    }
  }
  close();
}

asio::awaitable<void> Session::client_to_device() {
  for (;;) {
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(from_client_.get(), receive_buffer_size), as_tuple);
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
        log().info("{}: connection lost: {}", peer_, ec.message());
      }
      co_return;
    }
    const ByteView received{from_client_.get(), n};
    log().trace("{}: {} bytes from the client", peer_, n);
    if (!core_) {
      if (auto write_error = co_await port_.write(received)) {
        log().warn("{}: device write failed: {}", peer_, write_error.message());
        co_return;
      }
      continue;
    }
    core_->receive(received);
    while (auto event = core_->next_event()) {
      // Data runs are split at every doubled IAC; gather them so the device gets one write
      // per read from the client instead of one per run.
      if (const auto* data = std::get_if<rfc2217::DataReceived>(&*event)) {
        append(to_device_, data->data);
        continue;
      }
      co_await write_to_device();
      co_await apply(*event);
      if (!socket_.is_open()) co_return;
    }
    co_await write_to_device();
    co_await flush_to_client();
  }
}

asio::awaitable<void> Session::write_to_device() {
  if (to_device_.empty()) co_return;
  if (auto ec = co_await port_.write(to_device_)) {
    log().warn("{}: device write failed: {}", peer_, ec.message());
    close();
  }
  to_device_.clear();
}

asio::awaitable<void> Session::apply(const rfc2217::Event& event) {
  using namespace rfc2217;
  auto& core = *core_;
  if (std::holds_alternative<ComPortStarted>(event)) {
    log().debug("{}: RFC 2217 agreed", peer_);
  } else if (std::holds_alternative<SignatureRequested>(event)) {
    core.reply_signature(config_.signature);
  } else if (const auto* signature = std::get_if<SignatureReceived>(&event)) {
    log().info("{}: client signature: {}", peer_, signature->text);
  } else if (const auto* baud = std::get_if<BaudRequested>(&event)) {
    if (baud->baud) {
      LineSettings wanted = port_.settings();
      wanted.baud = *baud->baud;
      co_await change_settings(wanted);
    }
    core.reply_baud(port_.settings().baud);
  } else if (const auto* bits = std::get_if<DataBitsRequested>(&event)) {
    if (bits->data_bits) {
      LineSettings wanted = port_.settings();
      wanted.data_bits = *bits->data_bits;
      co_await change_settings(wanted);
    }
    core.reply_data_bits(port_.settings().data_bits);
  } else if (const auto* parity = std::get_if<ParityRequested>(&event)) {
    if (parity->parity) {
      LineSettings wanted = port_.settings();
      wanted.parity = *parity->parity;
      co_await change_settings(wanted);
    }
    core.reply_parity(port_.settings().parity);
  } else if (const auto* stop = std::get_if<StopBitsRequested>(&event)) {
    if (stop->stop_bits) {
      LineSettings wanted = port_.settings();
      wanted.stop_bits = *stop->stop_bits;
      co_await change_settings(wanted);
    }
    core.reply_stop_bits(port_.settings().stop_bits);
  } else if (const auto* control = std::get_if<ControlRequested>(&event)) {
    co_await answer_control(control->value);
  } else if (const auto* purge = std::get_if<PurgeRequested>(&event)) {
    if (auto ec = co_await port_.purge(purge->which)) {
      log().warn("{}: purge failed: {}", peer_, ec.message());
    }
    core.reply_purge(purge->which);
  } else if (const auto* flow = std::get_if<FlowSuspended>(&event)) {
    is_suspended_ = flow->suspended;
    flow_changed_.notify();
  } else if (std::holds_alternative<BreakCommand>(event)) {
    co_await port_.set_break(true);
    asio::steady_timer timer(socket_.get_executor(), telnet_break_duration);
    co_await timer.async_wait(as_tuple);
    co_await port_.set_break(false);
  } else if (const auto* error = std::get_if<ProtocolError>(&event)) {
    // The first of each kind at warning level; the rest are counted, so a hostile client
    // cannot flood the log.
    if (protocol_errors_.insert(error->error).second) {
      log().warn("{}: protocol error (survived): {}", peer_, error->error.message());
    } else {
      log().debug("{}: protocol error (survived): {}", peer_, error->error.message());
    }
    ++protocol_error_count_;
  }
}

// A value equal to the one in force is answered without touching the device.
asio::awaitable<void> Session::change_settings(const LineSettings& wanted) {
  if (wanted == port_.settings()) co_return;
  if (auto ec = co_await port_.apply_settings(wanted)) {
    log().info("{}: device refused {}: {}", peer_, to_string(wanted), ec.message());
  } else {
    log().debug("{}: settings now {}", peer_, to_string(port_.settings()));
  }
}

asio::awaitable<void> Session::answer_control(rfc2217::Control value) {
  using rfc2217::Control;
  auto& core = *core_;
  const auto set_flow = [&](FlowControl flow) -> asio::awaitable<void> {
    LineSettings wanted = port_.settings();
    wanted.flow = flow;
    co_await change_settings(wanted);
  };
  switch (value) {
    case Control::flow_none:
      co_await set_flow(FlowControl::none);
      break;
    case Control::flow_xon_xoff:
      co_await set_flow(FlowControl::xon_xoff);
      break;
    case Control::flow_rts_cts:
      co_await set_flow(FlowControl::rts_cts);
      break;
    case Control::break_on:
    case Control::break_off:
      if ((value == Control::break_on) != port_.break_state()) {
        if (auto ec = co_await port_.set_break(value == Control::break_on)) {
          log().warn("{}: BREAK failed: {}", peer_, ec.message());
        }
      }
      break;
    case Control::dtr_on:
      co_await set_lines(true, std::nullopt);
      break;
    case Control::dtr_off:
      co_await set_lines(false, std::nullopt);
      break;
    case Control::rts_on:
      co_await set_lines(std::nullopt, true);
      break;
    case Control::rts_off:
      co_await set_lines(std::nullopt, false);
      break;
    default:
      break;  // queries, and settings we cannot make: answered with what is in force
  }
  switch (value) {
    case Control::flow_query:
    case Control::flow_none:
    case Control::flow_xon_xoff:
    case Control::flow_rts_cts:
    case Control::flow_dcd:
    case Control::flow_dsr:
      core.reply_control(rfc2217::to_wire(port_.settings().flow));
      break;
    case Control::break_query:
    case Control::break_on:
    case Control::break_off:
      core.reply_control(port_.break_state() ? Control::break_on : Control::break_off);
      break;
    case Control::dtr_query:
    case Control::dtr_on:
    case Control::dtr_off:
      core.reply_control(lines_for_client().dtr ? Control::dtr_on : Control::dtr_off);
      break;
    case Control::rts_query:
    case Control::rts_on:
    case Control::rts_off:
      core.reply_control(lines_for_client().rts ? Control::rts_on : Control::rts_off);
      break;
    case Control::inbound_flow_query:
    case Control::inbound_flow_none:
    case Control::inbound_flow_xon_xoff:
    case Control::inbound_flow_hardware:
    case Control::inbound_flow_dtr:
      core.reply_control(inbound_flow_in_force(port_.settings().flow));
      break;
  }
}

asio::awaitable<void> Session::set_lines(std::optional<bool> dtr, std::optional<bool> rts) {
  if (reset_detector_) {
    co_await set_lines_for_esp(dtr, rts);
    co_return;
  }
  const ControlLines now = port_.control_lines();
  if ((dtr && *dtr != now.dtr) || (rts && *rts != now.rts)) {
    if (auto ec = co_await port_.set_control_lines(dtr, rts)) {
      log().warn("{}: setting DTR/RTS failed: {}", peer_, ec.message());
    }
    co_await refresh_modem_state();  // loopback wiring makes CTS/DSR follow at once
  }
}

// The client's request is answered once this returns, so a client that waits for answers
// simply waits out a local reset; device data keeps flowing meanwhile (PortHost reads it).
asio::awaitable<void> Session::set_lines_for_esp(std::optional<bool> dtr, std::optional<bool> rts) {
  using Action = esp::ResetDetector::Action;
  const auto action = reset_detector_->on_request(dtr, rts);
  if (action == Action::pass_through) {
    // Both lines at once: after a local reset the device may differ from the client's view in
    // both, and no line state outside "EN low" can reset the chip.
    const ControlLines wanted = reset_detector_->client_lines();
    if (wanted != port_.control_lines()) {
      if (auto ec = co_await port_.set_control_lines(wanted.dtr, wanted.rts)) {
        log().warn("{}: setting DTR/RTS failed: {}", peer_, ec.message());
      }
      co_await refresh_modem_state();
    }
    co_return;
  }
  const bool bootloader = action == Action::bootloader_reset;
  const auto& sequence = bootloader ? config_.esp_reset->bootloader : config_.esp_reset->hard;
  log().info("{}: ESP {} reset, played here: {}", peer_, bootloader ? "bootloader" : "hard",
             esp::to_string(sequence));
  if (auto ec = co_await port::play_reset(port_, sequence)) {
    log().warn("{}: ESP reset failed: {}", peer_, ec.message());
  }
  co_await refresh_modem_state();
}

ControlLines Session::lines_for_client() const {
  return reset_detector_ ? reset_detector_->client_lines() : port_.control_lines();
}

asio::awaitable<void> Session::refresh_modem_state() {
  auto state = co_await port_.modem_state();
  if (state) core_->update_modem_state(*state);
}

asio::awaitable<void> Session::poll_modem_lines() {
  asio::steady_timer timer(socket_.get_executor());
  if (!port_.has_modem_lines()) {
    // Nothing to poll; wait until the session ends (the || around us cancels this wait).
    timer.expires_at(asio::steady_timer::time_point::max());
    co_await timer.async_wait(as_tuple);
    co_return;
  }
  for (;;) {
    timer.expires_after(config_.modem_poll_interval);
    auto [ec] = co_await timer.async_wait(as_tuple);
    if (ec || !socket_.is_open()) co_return;
    co_await refresh_modem_state();
    co_await flush_to_client();
  }
}

asio::awaitable<void> Session::from_device(ByteView data) {
  if (!core_) {
    // Raw: only this path writes to the socket, straight from the caller's buffer.
    if (socket_.is_open())
      co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), as_tuple);
    co_return;
  }
  while (socket_.is_open() && is_suspended_) co_await flow_changed_.wait();
  if (!socket_.is_open()) co_return;
  core_->send_data(data);
  co_await flush_to_client();
  while (socket_.is_open() && core_->pending_output().size() > config_.high_water) {
    co_await flow_changed_.wait();
  }
}

// Whoever queued output writes it unless a write is already in flight; that writer loops
// until nothing is pending, so every queued byte goes out in order with one write at a time.
asio::awaitable<void> Session::flush_to_client() {
  if (is_writing_ || !core_) co_return;
  is_writing_ = true;
  while (socket_.is_open() && !core_->pending_output().empty()) {
    const ByteView pending = core_->pending_output();
    to_client_.assign(pending.begin(), pending.end());
    core_->consume_output(pending.size());
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(to_client_), as_tuple);
    if (ec) {
      close();
      break;
    }
  }
  is_writing_ = false;
  flow_changed_.notify();
}

}  // namespace ttynet::server
