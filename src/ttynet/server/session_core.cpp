#include "ttynet/server/session_core.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cstring>

#include "ttynet/rfc2217/error.hpp"
#include "ttynet/util/overloaded.hpp"

namespace ttynet::server {
namespace {

using Level = action::Log::Level;
using rfc2217::Control;

// What a SET-CONTROL value is about, and what it asks for (nothing: a query, or a setting we
// cannot make, answered with the value in force).
struct ControlMeaning {
  enum class Subject : std::uint8_t { flow, inbound_flow, break_state, dtr, rts };
  Subject subject;
  std::optional<FlowControl> flow;  // for flow
  std::optional<bool> on;           // for break_state, dtr, rts
};

ControlMeaning meaning_of(Control value) {
  using S = ControlMeaning::Subject;
  switch (value) {
    case Control::flow_query:
    case Control::flow_dcd:
    case Control::flow_dsr:
      return {S::flow, {}, {}};
    case Control::flow_none:
      return {S::flow, FlowControl::none, {}};
    case Control::flow_xon_xoff:
      return {S::flow, FlowControl::xon_xoff, {}};
    case Control::flow_rts_cts:
      return {S::flow, FlowControl::rts_cts, {}};
    case Control::break_query:
      return {S::break_state, {}, {}};
    case Control::break_on:
      return {S::break_state, {}, true};
    case Control::break_off:
      return {S::break_state, {}, false};
    case Control::dtr_query:
      return {S::dtr, {}, {}};
    case Control::dtr_on:
      return {S::dtr, {}, true};
    case Control::dtr_off:
      return {S::dtr, {}, false};
    case Control::rts_query:
      return {S::rts, {}, {}};
    case Control::rts_on:
      return {S::rts, {}, true};
    case Control::rts_off:
      return {S::rts, {}, false};
    case Control::inbound_flow_query:
    case Control::inbound_flow_none:
    case Control::inbound_flow_xon_xoff:
    case Control::inbound_flow_hardware:
    case Control::inbound_flow_dtr:
      return {S::inbound_flow, {}, {}};
  }
  return {S::flow, {}, {}};
}

// Inbound flow control is not separate on a tty: it is whatever the flow setting implies.
Control inbound_flow_in_force(FlowControl flow) {
  switch (flow) {
    case FlowControl::xon_xoff:
      return Control::inbound_flow_xon_xoff;
    case FlowControl::rts_cts:
      return Control::inbound_flow_hardware;
    case FlowControl::none:
      break;
  }
  return Control::inbound_flow_none;
}

}  // namespace

SessionCore::SessionCore(SessionPolicy policy, const DeviceState& device)
    : policy_(std::move(policy)),
      protocol_({}, rfc2217::ServerOptions{.paced_esp = policy_.paced_esp}),
      device_(device),
      found_(device) {
  if (policy_.esp_reset) reset_detector_.emplace(device.lines);
  if (policy_.paced_esp) pacer_.emplace();
}

void SessionCore::receive(MutableByteView from_client) {
  assert(!held_ && !in_flight_);
  receive_buffer_ = from_client;
  protocol_.receive(from_client);
}

// Runs come in order from the receive() buffer, each after the one before; moving a run down to
// the end of the data gathered so far only overwrites bytes already parsed.
void SessionCore::gather(ByteView run) {
  if (to_device_.empty()) {
    to_device_ = receive_buffer_.subspan(
        static_cast<std::size_t>(run.data() - receive_buffer_.data()), run.size());
    return;
  }
  Byte* const end = to_device_.data() + to_device_.size();
  if (run.data() != end) std::memmove(end, run.data(), run.size());
  to_device_ = {to_device_.data(), to_device_.size() + run.size()};
}

std::optional<Action> SessionCore::next_action() {
  assert(!in_flight_);
  for (;;) {
    if (next_queued_ < queued_.size()) {
      in_flight_ = std::move(queued_[next_queued_++]);
      if (next_queued_ == queued_.size()) {
        queued_.clear();
        next_queued_ = 0;
      }
      return in_flight_;
    }
    if (reply_) {
      send_reply(*reply_);
      reply_.reset();
    }
    // Gathered data came before anything the pacer holds now.
    if (pacer_ && to_device_.empty()) {
      if (const std::optional<ByteView> frame = pacer_->next_frame()) {
        is_writing_frame_ = true;
        return in_flight_ = action::Write{*frame};
      }
    }
    std::optional<rfc2217::Event> event = std::exchange(held_, std::nullopt);
    if (!event) event = protocol_.next_event();
    if (!event) break;
    if (const auto* data = std::get_if<rfc2217::DataReceived>(&*event)) {
      if (pacer_ && pacer_->takes_data()) {
        pacer_->receive_data(data->data);  // copied: a batch outlives this buffer
        send_batch_reports();
        continue;
      }
      if (policy_.read_only) {
        note_read_only();
        continue;
      }
      // Data runs are split at every doubled IAC; gathered, the device gets one write per read
      // from the client instead of one per run.
      gather(data->data);
      continue;
    }
    if (!to_device_.empty()) {
      held_ = event;
      return in_flight_ = action::Write{to_device_};
    }
    if (policy_.read_only && answer_read_only(*event)) continue;
    std::visit([this](const auto& e) { on_event(e); }, *event);
  }
  if (!to_device_.empty()) return in_flight_ = action::Write{to_device_};
  return std::nullopt;
}

void SessionCore::complete(const ActionResult& result, TimePoint now) {
  if (result.device) device_ = *result.device;
  if (result.modem_lines) protocol_.update_modem_state(*result.modem_lines);
  assert(in_flight_);
  const Action done = *std::exchange(in_flight_, std::nullopt);
  if (std::exchange(is_writing_frame_, false)) {
    pacer_->frame_written(now);
    if (result.error) abort_batches(rfc2217::paced_esp::AbortReason::device_gone);
  } else if (std::holds_alternative<action::Write>(done)) {
    to_device_ = {};
  }
  if (!result.error) return;
  if (result.error == std::errc::operation_canceled) {
    // The session gave the action up as it ended (a device write its gone client left
    // stuck, a drive its caller cancelled); nothing to report, but nothing more to write.
    if (std::holds_alternative<action::Write>(done)) queued_.emplace_back(action::Disconnect{});
    return;
  }
  const std::string reason = result.error.message();
  std::visit(
      Overloaded{
          [&](const action::Write&) {
            log(Level::warn, fmt::format("device write failed: {}", reason));
            queued_.emplace_back(action::Disconnect{});
          },
          [&](const action::ApplySettings& a) {
            log(Level::info, fmt::format("device refused {}: {}", to_string(a.settings), reason));
          },
          [&](const action::SetLines&) {
            log(Level::warn, fmt::format("setting DTR/RTS failed: {}", reason));
          },
          [&](const action::PlayReset&) {
            log(Level::warn, fmt::format("ESP reset failed: {}", reason));
          },
          [&](const action::SetBreak&) {
            log(Level::warn, fmt::format("BREAK failed: {}", reason));
          },
          [&](const action::Purge&) { log(Level::warn, fmt::format("purge failed: {}", reason)); },
          [&](const action::ReadModemState&) {
            log(Level::debug, fmt::format("reading the modem lines failed: {}", reason));
          },
          [](const action::Wait&) {},
          [](const action::Log&) {},
          [](const action::Disconnect&) {},
      },
      done);
}

void SessionCore::send_data(ByteView from_device) {
  protocol_.send_data(from_device);
  if (!pacer_) return;
  pacer_->receive_from_device(from_device);
  send_batch_reports();
}

std::optional<TimePoint> SessionCore::deadline() const {
  return pacer_ ? pacer_->deadline() : std::nullopt;
}

void SessionCore::expire(TimePoint now) {
  if (!pacer_) return;
  pacer_->expire(now);
  send_batch_reports();
}

void SessionCore::device_lost() { abort_batches(rfc2217::paced_esp::AbortReason::device_gone); }

void SessionCore::poll_modem_state() { queued_.emplace_back(action::ReadModemState{}); }

void SessionCore::restore(const std::optional<DeviceState>& to) {
  if (policy_.read_only) return;
  const DeviceState& target = to ? *to : found_;
  if (device_.break_on) queued_.emplace_back(action::SetBreak{false});
  if (device_.settings != target.settings)
    queued_.emplace_back(action::ApplySettings{target.settings});
  if (device_.lines != target.lines) {
    action::SetLines lines;
    if (device_.lines.dtr != target.lines.dtr) lines.dtr = target.lines.dtr;
    if (device_.lines.rts != target.lines.rts) lines.rts = target.lines.rts;
    queued_.emplace_back(lines);
  }
}

void SessionCore::on_event(const rfc2217::DataReceived& /*event*/) {
  // Gathered in next_action(); never dispatched here.
}

void SessionCore::on_event(const rfc2217::ComPortStarted& /*event*/) {
  is_com_port_agreed_ = true;
  log(Level::debug, "RFC 2217 agreed");
}

void SessionCore::on_event(const rfc2217::SignatureRequested& /*event*/) {
  protocol_.reply_signature(policy_.signature);
}

void SessionCore::on_event(const rfc2217::SignatureReceived& event) {
  log(Level::info, fmt::format("client signature: {}", event.text));
}

void SessionCore::on_event(const rfc2217::BaudRequested& event) {
  LineSettings wanted = device_.settings;
  if (event.baud) wanted.baud = *event.baud;
  change_settings(wanted, Reply::Kind::baud);
}

void SessionCore::on_event(const rfc2217::DataBitsRequested& event) {
  LineSettings wanted = device_.settings;
  if (event.data_bits) wanted.data_bits = *event.data_bits;
  change_settings(wanted, Reply::Kind::data_bits);
}

void SessionCore::on_event(const rfc2217::ParityRequested& event) {
  LineSettings wanted = device_.settings;
  if (event.parity) wanted.parity = *event.parity;
  change_settings(wanted, Reply::Kind::parity);
}

void SessionCore::on_event(const rfc2217::StopBitsRequested& event) {
  LineSettings wanted = device_.settings;
  if (event.stop_bits) wanted.stop_bits = *event.stop_bits;
  change_settings(wanted, Reply::Kind::stop_bits);
}

void SessionCore::on_event(const rfc2217::ControlRequested& event) {
  using Subject = ControlMeaning::Subject;
  const ControlMeaning meaning = meaning_of(event.value);
  switch (meaning.subject) {
    case Subject::flow:
      if (meaning.flow && *meaning.flow != device_.settings.flow) {
        LineSettings wanted = device_.settings;
        wanted.flow = *meaning.flow;
        queued_.emplace_back(action::ApplySettings{wanted});
      }
      break;
    case Subject::break_state:
      if (meaning.on && *meaning.on != device_.break_on) {
        queued_.emplace_back(action::SetBreak{*meaning.on});
      }
      break;
    case Subject::dtr:
      if (meaning.on) set_lines(meaning.on, std::nullopt);
      break;
    case Subject::rts:
      if (meaning.on) set_lines(std::nullopt, meaning.on);
      break;
    case Subject::inbound_flow:
      break;  // follows the flow setting
  }
  reply_ = Reply{.kind = Reply::Kind::control, .control = event.value};
}

void SessionCore::on_event(const rfc2217::PurgeRequested& event) {
  queued_.emplace_back(action::Purge{event.which});
  reply_ = Reply{.kind = Reply::Kind::purge, .purge = event.which};
}

void SessionCore::on_event(const rfc2217::FlowSuspended& /*event*/) {
  // The state lives in the protocol core (is_suspended()); the caller watches it.
}

void SessionCore::on_event(const rfc2217::BreakCommand& /*event*/) {
  queued_.emplace_back(action::SetBreak{true});
  queued_.emplace_back(action::Wait{telnet_break_length});
  queued_.emplace_back(action::SetBreak{false});
}

void SessionCore::on_event(const rfc2217::PacedEspReceived& event) {
  // The option is only agreed with a pacer; out-of-place messages are protocol errors.
  if (!pacer_ || !pacer_->receive(event.message)) {
    on_event(rfc2217::ProtocolError{rfc2217::errc::bad_message});
    return;
  }
  send_batch_reports();
}

void SessionCore::on_event(const rfc2217::ProtocolError& event) {
  // Only paced-ESP messages are undecodable (rfc2217/error.hpp): the open batch fails.
  if (pacer_ && event.error == rfc2217::errc::bad_message) {
    pacer_->receive_undecodable();
    send_batch_reports();
  }
  // The first of each kind at warning level; the rest are counted, so a hostile client cannot
  // flood the log.
  const bool is_new = protocol_errors_.insert(event.error).second;
  log(is_new ? Level::warn : Level::debug,
      fmt::format("protocol error (survived): {}", event.error.message()));
  ++protocol_error_count_;
}

// A value equal to the one in force is answered without touching the device.
bool SessionCore::answer_read_only(const rfc2217::Event& event) {
  using Kind = Reply::Kind;
  using Answer = std::optional<Reply>;
  if (std::holds_alternative<rfc2217::BreakCommand>(event)) {
    note_read_only();
    return true;
  }
  const Answer answer = std::visit(
      Overloaded{
          [](const rfc2217::BaudRequested&) -> Answer { return Reply{.kind = Kind::baud}; },
          [](const rfc2217::DataBitsRequested&) -> Answer {
            return Reply{.kind = Kind::data_bits};
          },
          [](const rfc2217::ParityRequested&) -> Answer { return Reply{.kind = Kind::parity}; },
          [](const rfc2217::StopBitsRequested&) -> Answer {
            return Reply{.kind = Kind::stop_bits};
          },
          [](const rfc2217::ControlRequested& e) -> Answer {
            return Reply{.kind = Kind::control, .control = e.value};
          },
          [](const rfc2217::PurgeRequested& e) -> Answer {
            return Reply{.kind = Kind::purge, .purge = e.which};
          },
          [](const auto&) -> Answer { return std::nullopt; },
      },
      event);
  if (!answer) return false;
  note_read_only();
  reply_ = answer;
  return true;
}

void SessionCore::note_read_only() {
  if (std::exchange(read_only_noted_, true)) return;
  log(Level::info, "is read-only: its data and its requests to change the device are ignored");
}

void SessionCore::change_settings(const LineSettings& wanted, Reply::Kind reply) {
  if (wanted != device_.settings) queued_.emplace_back(action::ApplySettings{wanted});
  reply_ = Reply{.kind = reply};
}

void SessionCore::set_lines(std::optional<bool> dtr, std::optional<bool> rts) {
  if (reset_detector_) {
    set_lines_for_esp(dtr, rts);
    return;
  }
  if ((dtr && *dtr != device_.lines.dtr) || (rts && *rts != device_.lines.rts)) {
    abort_batches(rfc2217::paced_esp::AbortReason::line_change);
    queued_.emplace_back(action::SetLines{dtr, rts});
    poll_modem_state();  // loopback wiring makes CTS/DSR follow at once
  }
}

// The client's request is answered once the reset has been played, so a client that waits
// for answers simply waits out a local reset.
void SessionCore::set_lines_for_esp(std::optional<bool> dtr, std::optional<bool> rts) {
  using Detected = esp::ResetDetector::Action;
  const Detected detected = reset_detector_->on_request(dtr, rts);
  if (detected == Detected::pass_through) {
    // Both lines at once: after a local reset the device may differ from the client's view in
    // both, and no line state outside "EN low" can reset the chip.
    const ControlLines wanted = reset_detector_->client_lines();
    if (wanted != device_.lines) {
      abort_batches(rfc2217::paced_esp::AbortReason::line_change);
      queued_.emplace_back(action::SetLines{wanted.dtr, wanted.rts});
      poll_modem_state();
    }
    return;
  }
  const bool bootloader = detected == Detected::bootloader_reset;
  const auto& sequence = bootloader ? policy_.esp_reset->bootloader : policy_.esp_reset->hard;
  log(Level::info, fmt::format("ESP {} reset, played here: {}", bootloader ? "bootloader" : "hard",
                               esp::to_string(sequence)));
  abort_batches(rfc2217::paced_esp::AbortReason::line_change);
  queued_.emplace_back(action::PlayReset{&sequence, bootloader});
  poll_modem_state();
}

void SessionCore::abort_batches(rfc2217::paced_esp::AbortReason reason) {
  if (!pacer_) return;
  pacer_->abort_all(reason);
  send_batch_reports();
}

void SessionCore::send_batch_reports() {
  while (const std::optional<FramePacer::Report> report = pacer_->next_report()) {
    std::visit(Overloaded{
                   [this](const rfc2217::paced_esp::BatchDone& done) {
                     log(Level::debug,
                         fmt::format("paced batch {} done: {} frames", done.id, done.frames));
                   },
                   [this](const rfc2217::paced_esp::BatchAborted& aborted) {
                     log(Level::info,
                         fmt::format("paced batch {} aborted at frame {}: {}", aborted.id,
                                     aborted.index, to_string(aborted.reason)));
                   },
               },
               *report);
    std::visit([this](const auto& r) { protocol_.send_batch_report(r); }, *report);
  }
}

ControlLines SessionCore::lines_for_client() const {
  return reset_detector_ ? reset_detector_->client_lines() : device_.lines;
}

void SessionCore::send_reply(const Reply& reply) {
  using Subject = ControlMeaning::Subject;
  const LineSettings& now = device_.settings;
  switch (reply.kind) {
    case Reply::Kind::baud:
      protocol_.reply_baud(now.baud);
      return;
    case Reply::Kind::data_bits:
      protocol_.reply_data_bits(now.data_bits);
      return;
    case Reply::Kind::parity:
      protocol_.reply_parity(now.parity);
      return;
    case Reply::Kind::stop_bits:
      protocol_.reply_stop_bits(now.stop_bits);
      return;
    case Reply::Kind::purge:
      protocol_.reply_purge(reply.purge);
      return;
    case Reply::Kind::control:
      break;
  }
  switch (meaning_of(reply.control).subject) {
    case Subject::flow:
      protocol_.reply_control(rfc2217::to_wire(now.flow));
      return;
    case Subject::inbound_flow:
      protocol_.reply_control(inbound_flow_in_force(now.flow));
      return;
    case Subject::break_state:
      protocol_.reply_control(device_.break_on ? Control::break_on : Control::break_off);
      return;
    case Subject::dtr:
      protocol_.reply_control(lines_for_client().dtr ? Control::dtr_on : Control::dtr_off);
      return;
    case Subject::rts:
      protocol_.reply_control(lines_for_client().rts ? Control::rts_on : Control::rts_off);
      return;
  }
}

void SessionCore::log(Level level, std::string text) {
  queued_.emplace_back(action::Log{level, std::move(text)});
}

}  // namespace ttynet::server
