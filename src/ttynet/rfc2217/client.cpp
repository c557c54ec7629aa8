#include "ttynet/rfc2217/client.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ttynet/rfc2217/error.hpp"

namespace ttynet::rfc2217 {

namespace {

// What we agree to when the server asks, as pyserial does: BINARY both ways when asked, SGA,
// COM-PORT, and the server echoing (we never echo). Everything else is refused.
constexpr std::array<telnet::OptionSupport, 4> supported_options = {{
    {telnet::option::binary, true, true},
    {telnet::option::echo, false, true},
    {telnet::option::sga, true, true},
    {telnet::option::com_port, true, true},
}};

// SET-CONTROL values 0..19 in words, for error texts.
constexpr std::array<std::string_view, 20> control_names = {
    "flow control query",
    "no flow control",
    "XON/XOFF flow control",
    "RTS/CTS flow control",
    "BREAK query",
    "BREAK on",
    "BREAK off",
    "DTR query",
    "DTR on",
    "DTR off",
    "RTS query",
    "RTS on",
    "RTS off",
    "inbound flow control query",
    "no inbound flow control",
    "XON/XOFF inbound flow control",
    "hardware inbound flow control",
    "DCD flow control",
    "DTR inbound flow control",
    "DSR flow control",
};

// Requests the client waits for: how timeouts and rejections name them.
struct RequestName {
  Command command;
  std::string_view request;  // "server did not answer SET-BAUDRATE ..."
  std::string_view subject;  // "server rejected baud 250000 ..."
};
constexpr std::array<RequestName, 7> request_names = {{
    {Command::set_baudrate, "SET-BAUDRATE", "baud"},
    {Command::set_datasize, "SET-DATASIZE", "data size"},
    {Command::set_parity, "SET-PARITY", "parity"},
    {Command::set_stopsize, "SET-STOPSIZE", "stop bits"},
    {Command::set_control, "SET-CONTROL", "SET-CONTROL"},
    {Command::purge_data, "PURGE-DATA", "PURGE-DATA"},
    {Command::notify_modemstate, "NOTIFY-MODEMSTATE", "NOTIFY-MODEMSTATE"},
}};

const RequestName& name_of(Command command) {
  const auto* found =
      std::find_if(request_names.begin(), request_names.end(),
                   [command](const RequestName& row) { return row.command == command; });
  // Only the commands above are ever awaited; the fallback keeps release builds total.
  static constexpr RequestName other{Command::signature, "COM-PORT request", "COM-PORT request"};
  assert(found != request_names.end());
  return found != request_names.end() ? *found : other;
}

std::string hex(ByteView bytes) { return fmt::format("{:02x}", fmt::join(bytes, " ")); }

// A request's or a reply's value in words: "9600", "even", "1.5", "DTR on", "receive buffer".
std::string describe_value(Command command, ByteView value) {
  if (value.empty()) return "nothing";
  const Byte first = value.front();
  switch (command) {
    case Command::set_baudrate:
      if (const std::optional<std::uint32_t> baud =
              baud_from_wire(value.first(std::min<std::size_t>(value.size(), 4)))) {
        return fmt::format("{}", *baud);
      }
      return hex(value);
    case Command::set_parity:
      if (const std::optional<Parity> parity = parity_from_wire(first)) return to_string(*parity);
      break;
    case Command::set_stopsize:
      if (const std::optional<StopBits> stop_bits = stop_bits_from_wire(first)) {
        return to_string(*stop_bits);
      }
      break;
    case Command::set_control:
      if (first < control_names.size()) return std::string{control_names[first]};
      break;
    case Command::purge_data:
      switch (static_cast<Purge>(first)) {
        case Purge::receive:
          return "receive buffer";
        case Purge::transmit:
          return "transmit buffer";
        case Purge::both:
          return "both buffers";
      }
      break;
    default:
      break;
  }
  return fmt::format("{}", first);
}

// "SET-BAUDRATE", "SET-CONTROL DTR on", "PURGE-DATA receive buffer", "NOTIFY-MODEMSTATE poll".
std::string describe_request(Command command, ByteView value) {
  const std::string_view name = name_of(command).request;
  switch (command) {
    case Command::set_control:
    case Command::purge_data:
      return fmt::format("{} {}", name, describe_value(command, value));
    case Command::notify_modemstate:
      return fmt::format("{} poll", name);
    default:
      return std::string{name};
  }
}

std::string describe_rejection(Command command, ByteView sent, ByteView answered) {
  return fmt::format("server rejected {} {} (answered {})", name_of(command).subject,
                     describe_value(command, sent), describe_value(command, answered));
}

std::string seconds(Duration duration) {
  return fmt::format("{:g} s", std::chrono::duration<double>(duration).count());
}

// pyserial's test: the reply is accepted when it begins with the value sent.
bool begins_with(ByteView reply, ByteView sent) {
  return reply.size() >= sent.size() && std::equal(sent.begin(), sent.end(), reply.begin());
}

}  // namespace

Client::Client(telnet::Limits limits) : codec_(supported_options, limits) {
  // pyserial's order: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT. A server offer
  // that crosses one of these is taken as its answer (RFC 1143), so none is ever repeated.
  codec_.request(telnet::option::echo, telnet::Side::remote, true);
  codec_.request(telnet::option::sga, telnet::Side::local, true);
  codec_.request(telnet::option::sga, telnet::Side::remote, true);
  codec_.request(telnet::option::com_port, telnet::Side::remote, true);
  codec_.request(telnet::option::com_port, telnet::Side::local, true);
}

void Client::start(const ClientOptions& options, const LineSettings& settings,
                   const ControlLines& lines, TimePoint now) {
  assert(phase_ == Phase::idle && "start() once");
  if (phase_ != Phase::idle) return;
  options_ = options;
  settings_ = settings;
  lines_ = lines;
  phase_ = Phase::opening;
  // Before any awaited step, so it leaves with the opening: the extension costs no round trip.
  if (options.paced_esp) codec_.request(paced_esp::option, telnet::Side::remote, true);
  started_ = now;

  Operation open;
  open.settings = settings;
  open.add({StepKind::agree_com_port});
  open.add({StepKind::settings});
  open.add({StepKind::control, static_cast<Byte>(to_wire(settings.flow))});
  open.add({StepKind::control, static_cast<Byte>(lines.dtr ? Control::dtr_on : Control::dtr_off)});
  if (settings.flow != FlowControl::rts_cts) {  // RTS is the flow control's then
    open.add(
        {StepKind::control, static_cast<Byte>(lines.rts ? Control::rts_on : Control::rts_off)});
  }
  if (options.purge_at_open) {
    open.add({StepKind::purge, static_cast<Byte>(Purge::receive)});
    open.add({StepKind::purge, static_cast<Byte>(Purge::transmit)});
  } else {
    discard_data_ = false;
  }
  operations_.push_back(open);
  run(now);
}

void Client::receive(ByteView from_server, TimePoint now) {
  if (phase_ == Phase::failed) return;
  now_ = now;
  codec_.receive(from_server);
}

std::optional<Client::Event> Client::next_event() {
  for (;;) {
    if (next_event_ < events_.size()) return std::move(events_[next_event_++]);
    events_.clear();
    next_event_ = 0;
    if (phase_ == Phase::failed) return std::nullopt;
    std::optional<telnet::Event> event = codec_.next_event();
    if (!event) return std::nullopt;
    handle(*event);
  }
}

void Client::on_timer(TimePoint now) {
  if (!step_deadline_ || now < *step_deadline_) return;
  const Operation& operation = operations_.front();
  if (operation.steps[operation.next_step - 1].kind == StepKind::agree_com_port) {
    if (is_com_port_active()) {  // no answer to DO PACED-ESP: go on without it
      paced_esp_answered_ = true;
      finish_step(now);
      return;
    }
    fail(errc::negotiation_timeout,
         fmt::format("server did not agree to COM-PORT within {} (no DO 44 or WILL 44)",
                     seconds(options_.timeout)),
         now);
    return;
  }
  std::string unanswered;
  for (const AwaitedReply& awaited : std::span{awaited_}.first(awaited_count_)) {
    if (awaited.answered) continue;
    if (!unanswered.empty()) unanswered += ", ";
    unanswered += describe_request(awaited.command, awaited.sent());
  }
  fail(errc::reply_timeout,
       fmt::format("server did not answer {} within {}", unanswered, seconds(options_.timeout)),
       now);
}

std::optional<TimePoint> Client::deadline() const { return step_deadline_; }

OperationId Client::set_settings(const LineSettings& settings, TimePoint now) {
  Operation operation;
  operation.settings = settings;
  operation.add({StepKind::settings});
  operation.add({StepKind::control, static_cast<Byte>(to_wire(settings.flow))});
  return enqueue(operation, now);
}

OperationId Client::set_control_lines(std::optional<bool> dtr, std::optional<bool> rts,
                                      TimePoint now) {
  Operation operation;
  if (dtr) {
    operation.add(
        {StepKind::control, static_cast<Byte>(*dtr ? Control::dtr_on : Control::dtr_off)});
  }
  if (rts) {
    operation.add(
        {StepKind::control, static_cast<Byte>(*rts ? Control::rts_on : Control::rts_off)});
  }
  return enqueue(operation, now);
}

OperationId Client::set_break(bool on, TimePoint now) {
  Operation operation;
  operation.add(
      {StepKind::control, static_cast<Byte>(on ? Control::break_on : Control::break_off)});
  return enqueue(operation, now);
}

OperationId Client::purge(Purge which, TimePoint now) {
  Operation operation;
  operation.add({StepKind::purge, static_cast<Byte>(which)});
  return enqueue(operation, now);
}

OperationId Client::poll_modem_state(TimePoint now) {
  Operation operation;
  operation.add({StepKind::poll_modem});
  return enqueue(operation, now);
}

void Client::send_data(ByteView data) {
  if (phase_ == Phase::failed) return;
  codec_.send_data(data);
}

void Client::send_paced_esp(const paced_esp::Message& message) {
  assert(paces_esp_frames());
  if (phase_ == Phase::failed) return;
  scratch_request_.clear();
  paced_esp::append_message(scratch_request_, message);
  codec_.send_subnegotiation(paced_esp::option, scratch_request_);
}

bool Client::paces_esp_frames() const {
  return codec_.is_enabled(paced_esp::option, telnet::Side::remote);
}

bool Client::is_com_port_active() const {
  return codec_.is_enabled(telnet::option::com_port, telnet::Side::local) ||
         codec_.is_enabled(telnet::option::com_port, telnet::Side::remote);
}

// --- Operations ------------------------------------------------------------------------------

OperationId Client::enqueue(Operation operation, TimePoint now) {
  const OperationId id{++last_id_};
  operation.id = id;
  switch (phase_) {
    case Phase::idle:
      emit(OperationDone{id, errc::not_open, "not open yet"});
      return id;
    case Phase::failed:
      emit(OperationDone{id, errc::not_open, "open failed: " + open_what_});
      return id;
    case Phase::opening:
    case Phase::open:
      break;
  }
  operations_.push_back(operation);
  run(now);
  return id;
}

void Client::run(TimePoint now) {
  while (!step_deadline_ && !operations_.empty()) {
    Operation& operation = operations_.front();
    if (operation.next_step == operation.step_count) {
      complete(operation);
      operations_.pop_front();
      continue;
    }
    const Step step = operation.steps[operation.next_step++];
    start_step(operation, step, now);  // may fail and drop the operation
  }
}

void Client::start_step(Operation& operation, Step step, TimePoint now) {
  awaited_count_ = 0;
  switch (step.kind) {
    case StepKind::agree_com_port:
      if (is_com_port_active() && !waits_for_paced_esp_answer()) return;
      if (com_port_refused_) {
        fail(errc::com_port_refused, "server refused COM-PORT option (WONT 44, DONT 44)", now);
        return;
      }
      break;
    case StepKind::settings: {
      // Sent together, as pyserial does; all four are awaited.
      scratch_.clear();
      append_baud(scratch_, operation.settings.baud);
      const Byte data_bits = operation.settings.data_bits;
      const Byte parity = to_wire(operation.settings.parity);
      const Byte stop_bits = to_wire(operation.settings.stop_bits);
      send_request(Command::set_baudrate, scratch_);
      send_request(Command::set_datasize, ByteView{&data_bits, 1});
      send_request(Command::set_parity, ByteView{&parity, 1});
      send_request(Command::set_stopsize, ByteView{&stop_bits, 1});
      if (paces_esp_frames()) {
        pipeline_requests(now);
        apply_step(step);
        return;
      }
      break;
    }
    case StepKind::control:
      send_request(Command::set_control, ByteView{&step.value, 1});
      // Not awaited, its reply ignored: when asked, and by a server that paces ESP frames,
      // which plays resets itself and keeps requests in order, so waiting only costs a round
      // trip per line change.
      if (options_.ign_set_control || paces_esp_frames()) {
        awaited_count_ = 0;
        apply_step(step);
        return;
      }
      break;
    case StepKind::purge:
      send_request(Command::purge_data, ByteView{&step.value, 1});
      if (paces_esp_frames()) {
        pipeline_requests(now);
        apply_step(step);
        return;
      }
      break;
    case StepKind::poll_modem: {
      const bool fresh = modem_state_time_ && now - *modem_state_time_ < modem_state_fresh;
      if (!options_.poll_modem || fresh) return;
      send_request(Command::notify_modemstate, {});
      break;
    }
  }
  step_started_ = now;
  step_deadline_ = now + options_.timeout;
}

// Sends one request and records the reply it waits for (forgotten again by a step that does
// not wait).
void Client::send_request(Command command, ByteView value) {
  assert(value.size() <= max_value && awaited_count_ < awaited_.size());
  AwaitedReply& awaited = awaited_[awaited_count_++];
  awaited.command = command;
  awaited.size = static_cast<std::uint8_t>(value.size());
  std::copy(value.begin(), value.end(), awaited.value.begin());
  awaited.answered = false;

  scratch_request_.clear();
  scratch_request_.push_back(static_cast<Byte>(command));
  append(scratch_request_, value);
  codec_.send_subnegotiation(telnet::option::com_port, scratch_request_);
}

void Client::pipeline_requests(TimePoint now) {
  for (const AwaitedReply& awaited : std::span{awaited_}.first(awaited_count_)) {
    if (pipelined_.size() == max_pipelined) {
      if (pipelined_.front().expected.purges_receive()) --pipelined_receive_purges_;
      pipelined_.pop_front();
    }
    pipelined_.push_back({awaited, now});
    if (awaited.purges_receive()) ++pipelined_receive_purges_;
  }
  awaited_count_ = 0;
}

void Client::add_round_trip(Duration sample) {
  round_trips_[round_trip_count_++ % round_trip_window] = sample;
}

void Client::finish_step(TimePoint now) {
  const Operation& operation = operations_.front();
  const Step step = operation.steps[operation.next_step - 1];
  // Only replies that answer our request measure the path: a server offers COM-PORT and
  // notifies the modem state unasked, half a round trip after the connection opened.
  if (step.kind == StepKind::settings || step.kind == StepKind::purge) {
    add_round_trip(now - step_started_);
  }
  apply_step(step);
  awaited_count_ = 0;
  step_deadline_.reset();
  run(now);
}

std::optional<Duration> Client::round_trip() const {
  if (round_trip_count_ == 0) return std::nullopt;
  const std::size_t kept = std::min(round_trip_count_, round_trip_window);
  return *std::min_element(round_trips_.begin(),
                           round_trips_.begin() + static_cast<std::ptrdiff_t>(kept));
}

// Records what a completed step put in force.
void Client::apply_step(Step step) {
  const Operation& operation = operations_.front();
  switch (step.kind) {
    case StepKind::settings:
      settings_.baud = operation.settings.baud;
      settings_.data_bits = operation.settings.data_bits;
      settings_.parity = operation.settings.parity;
      settings_.stop_bits = operation.settings.stop_bits;
      break;
    case StepKind::control:
      switch (static_cast<Control>(step.value)) {
        case Control::flow_none:
          settings_.flow = FlowControl::none;
          break;
        case Control::flow_xon_xoff:
          settings_.flow = FlowControl::xon_xoff;
          break;
        case Control::flow_rts_cts:
          settings_.flow = FlowControl::rts_cts;
          break;
        case Control::break_on:
        case Control::break_off:
          break_ = step.value == static_cast<Byte>(Control::break_on);
          break;
        case Control::dtr_on:
        case Control::dtr_off:
          lines_.dtr = step.value == static_cast<Byte>(Control::dtr_on);
          break;
        case Control::rts_on:
        case Control::rts_off:
          lines_.rts = step.value == static_cast<Byte>(Control::rts_on);
          break;
        default:
          break;
      }
      break;
    case StepKind::purge:
      // Data from here on is newer than the purge: the banner is gone.
      if (!operation.id && step.value == static_cast<Byte>(Purge::receive)) discard_data_ = false;
      break;
    case StepKind::agree_com_port:
    case StepKind::poll_modem:
      break;
  }
}

void Client::complete(const Operation& operation) {
  if (operation.id) {
    emit(OperationDone{*operation.id, {}, {}});
  } else {
    phase_ = Phase::open;
    emit(Opened{});
  }
}

// Fails the front operation; a failed open sequence takes the rest with it.
void Client::fail(std::error_code error, std::string what, TimePoint now) {
  const std::optional<OperationId> id = operations_.front().id;
  operations_.pop_front();
  awaited_count_ = 0;
  step_deadline_.reset();
  if (id) {
    emit(OperationDone{*id, error, std::move(what)});
    run(now);
    return;
  }
  phase_ = Phase::failed;
  open_what_ = what;
  emit(OpenFailed{error, std::move(what)});
  for (const Operation& operation : operations_) {
    emit(OperationDone{*operation.id, errc::not_open, "open failed: " + open_what_});
  }
  operations_.clear();
}

bool Client::is_purging_receive_buffer() const {
  if (!step_deadline_) return false;
  const Operation& operation = operations_.front();
  const Step& step = operation.steps[operation.next_step - 1];
  return step.kind == StepKind::purge && step.value != static_cast<Byte>(Purge::transmit);
}

// --- Input -----------------------------------------------------------------------------------

// COM-PORT counts as refused once the server has said no both ways (DONT 44 and WONT 44),
// whether to our request or after agreeing; a later WILL or DO takes its side's no back.
void Client::note_com_port_side(telnet::Side side, bool is_refused) {
  (side == telnet::Side::local ? refused_local_ : refused_remote_) = is_refused;
  com_port_refused_ = refused_local_ && refused_remote_ && !is_com_port_active();
  check_agreement(now_);
}

// Ends the agreement step of the open sequence, one way or the other, if it waits.
void Client::check_agreement(TimePoint now) {
  if (!step_deadline_) return;
  const Operation& operation = operations_.front();
  if (operation.steps[operation.next_step - 1].kind != StepKind::agree_com_port) return;
  if (is_com_port_active()) {
    if (!waits_for_paced_esp_answer()) finish_step(now);
  } else if (com_port_refused_) {
    fail(errc::com_port_refused, "server refused COM-PORT option (WONT 44, DONT 44)", now);
  }
}

void Client::handle(const telnet::Event& event) {
  std::visit([this](const auto& alternative) { on_event(alternative); }, event);
}

void Client::on_event(const telnet::DataReceived& event) {
  if (discard_data_) {
    // Kept, bounded, for the open's error: a server that refuses says why before it closes.
    append(discarded_before_open_, event.data);
    if (discarded_before_open_.size() > max_discarded_before_open) {
      discarded_before_open_.erase(
          discarded_before_open_.begin(),
          discarded_before_open_.end() - static_cast<std::ptrdiff_t>(max_discarded_before_open));
    }
    return;
  }
  if (is_purging_receive_buffer() || pipelined_receive_purges_ > 0) return;
  emit(DataReceived{event.data});
}

void Client::on_event(const telnet::CommandReceived&) {}  // NOP, BRK, ...: nothing to do

void Client::on_event(const telnet::OptionChanged& event) {
  if (event.option == telnet::option::com_port) note_com_port_side(event.side, !event.enabled);
  if (event.option == paced_esp::option && event.side == telnet::Side::remote) {
    note_paced_esp_answer();
  }
}

void Client::on_event(const telnet::OptionRefused& event) {
  if (event.option == telnet::option::com_port) note_com_port_side(event.side, true);
  if (event.option == paced_esp::option && event.side == telnet::Side::remote) {
    note_paced_esp_answer();
  }
}

// The answer to the DO PACED-ESP of the first flight: a round trip (no server offers the
// option unasked), and the agreement step may end.
void Client::note_paced_esp_answer() {
  if (!options_.paced_esp || paced_esp_answered_) return;
  paced_esp_answered_ = true;
  // Nothing waits for the answer: the features matter later, at a stub's READ_FLASH.
  if (paces_esp_frames()) send_paced_esp(paced_esp::Features{paced_esp::known_features});
  add_round_trip(now_ - started_);
  check_agreement(now_);
}

void Client::on_event(const telnet::SubnegotiationReceived& event) {
  if (event.option == paced_esp::option && paces_esp_frames()) {
    on_paced_esp(event.payload);
    return;
  }
  if (event.option != telnet::option::com_port || event.payload.empty()) return;
  const Byte code = event.payload.front();
  const ByteView value = event.payload.subspan(1);
  // Only server codes (100..112) are for us; client codes and unknown codes are ignored.
  if (code < server_code(Command::signature) || code > server_code(Command::purge_data)) return;
  const auto command = static_cast<Command>(code - server_offset);
  switch (command) {
    case Command::signature:
      emit(SignatureReceived{as_chars(value)});
      return;
    case Command::notify_linestate:
      if (value.empty()) {
        emit(ProtocolError{errc::missing_value});
        return;
      }
      line_state_ = value.front();
      emit(LineStateChanged{value.front()});
      return;
    case Command::notify_modemstate:
      if (value.empty()) {
        emit(ProtocolError{errc::missing_value});
        return;
      }
      modem_state_ = value.front();
      modem_state_time_ = now_;
      emit(ModemStateChanged{value.front()});
      on_reply(command, {});  // answers a poll, whatever it carries
      return;
    case Command::flowcontrol_suspend:
    case Command::flowcontrol_resume: {
      const bool suspend = command == Command::flowcontrol_suspend;
      if (suspend == suspended_) return;
      suspended_ = suspend;
      emit(FlowSuspended{suspend});
      return;
    }
    case Command::set_linestate_mask:
    case Command::set_modemstate_mask:
      return;  // acknowledgements of masks; we never set one
    case Command::set_baudrate:
    case Command::set_datasize:
    case Command::set_parity:
    case Command::set_stopsize:
    case Command::set_control:
    case Command::purge_data:
      on_reply(command, value);
      return;
  }
}

void Client::on_event(const telnet::ProtocolError& event) { emit(ProtocolError{event.error}); }

// Only reports travel from server to client; a client message coming back is as wrong as
// one that does not decode.
void Client::on_paced_esp(ByteView payload) {
  Result<paced_esp::Message> message = paced_esp::decode_message(payload);
  if (!message || !paced_esp::is_from_server(*message)) {
    emit(ProtocolError{errc::bad_message});
    return;
  }
  if (const auto* agreed = std::get_if<paced_esp::FeaturesAgreed>(&*message)) {
    paced_esp_features_ = agreed->bits;
    return;
  }
  emit(PacedEspReport{*message});
}

bool Client::take_pipelined_reply(Command command, ByteView value) {
  const auto match = std::find_if(pipelined_.begin(), pipelined_.end(), [command](const auto& p) {
    return p.expected.command == command;
  });
  if (match == pipelined_.end()) return false;
  const PipelinedRequest request = *match;
  pipelined_.erase(match);
  const ByteView sent = request.expected.sent();
  if (request.expected.purges_receive()) --pipelined_receive_purges_;
  add_round_trip(now_ - request.sent);
  if (!begins_with(value, sent)) {
    emit(PipelinedRequestRejected{describe_rejection(command, sent, value)});
  }
  return true;
}

void Client::on_reply(Command command, ByteView value) {
  // Pipelined requests went out before anything awaited now, and the server answers in order.
  if (take_pipelined_reply(command, value)) return;
  if (!step_deadline_) return;  // nothing waits
  const std::span<AwaitedReply> awaited = std::span{awaited_}.first(awaited_count_);
  const auto match = std::find_if(awaited.begin(), awaited.end(), [command](const auto& a) {
    return a.command == command && !a.answered;
  });
  if (match == awaited.end()) return;  // nobody waits for it (late, repeated or unsolicited)
  if (!begins_with(value, match->sent())) {
    fail(errc::value_rejected, describe_rejection(command, match->sent(), value), now_);
    return;
  }
  match->answered = true;
  if (std::all_of(awaited.begin(), awaited.end(), [](const auto& a) { return a.answered; })) {
    finish_step(now_);
  }
}

}  // namespace ttynet::rfc2217
