#include "ttynet/rfc2217/server.hpp"

#include <array>

#include "ttynet/rfc2217/error.hpp"

namespace ttynet::rfc2217 {

namespace {

// What we agree to when the client asks; everything else (ECHO included) is refused.
// PACED-ESP only on our side (we pace, the client does not), and only when configured.
std::array<telnet::OptionSupport, 4> supported_options(const ServerOptions& options) {
  return {{
      {telnet::option::binary, true, true},
      {telnet::option::sga, true, true},
      {telnet::option::com_port, true, true},
      {paced_esp::option, options.paced_esp, false},
  }};
}

// The server has no line-state source: NOTIFY-LINESTATE always reports nothing set.
constexpr std::uint8_t line_state = 0;

constexpr Byte max_command = static_cast<Byte>(Command::purge_data);
constexpr Byte max_control = static_cast<Byte>(Control::flow_dsr);

// One-byte values: the first byte counts, later ones are tolerated. Missing means query.
constexpr Byte value_or_query(ByteView value) { return value.empty() ? Byte{0} : value.front(); }

}  // namespace

Server::Server(telnet::Limits limits, ServerOptions options)
    : codec_(supported_options(options), limits) {
  // Offer BINARY both ways and COM-PORT on our side only. pyserial sends its own DO and
  // WILL COM-PORT on open unless an offer of ours already arrived, which it takes as the
  // answer; had we asked DO COM-PORT too, each side would wait for the other's reply
  // forever. Its WILL COM-PORT, which we never pre-empt, always comes and is answered.
  codec_.request(telnet::option::binary, telnet::Side::local, true);
  codec_.request(telnet::option::binary, telnet::Side::remote, true);
  codec_.request(telnet::option::com_port, telnet::Side::local, true);
}

void Server::receive(ByteView from_client) { codec_.receive(from_client); }

std::optional<Event> Server::next_event() {
  while (std::optional<telnet::Event> event = codec_.next_event()) {
    std::optional<Event> translated =
        std::visit([this](const auto& alternative) { return on_event(alternative); }, *event);
    if (translated) return translated;
  }
  return std::nullopt;
}

void Server::send_data(ByteView from_device) { codec_.send_data(from_device); }

void Server::reply_signature(std::string_view text) {
  send_reply(Command::signature, as_bytes(text));
}

void Server::reply_baud(std::uint32_t baud) {
  if (baud_form_ == BaudForm::cisco_index) {
    // A rate without a Cisco index can only be told in the standard form.
    if (const std::optional<Byte> index = cisco_index_from_baud(baud)) {
      send_reply(Command::set_baudrate, *index);
      return;
    }
  }
  append_baud(start_reply(Command::set_baudrate), baud);
  finish_reply();
}

void Server::reply_data_bits(std::uint8_t data_bits) {
  send_reply(Command::set_datasize, data_bits);
}

void Server::reply_parity(Parity parity) { send_reply(Command::set_parity, to_wire(parity)); }

void Server::reply_stop_bits(StopBits stop_bits) {
  send_reply(Command::set_stopsize, to_wire(stop_bits));
}

void Server::reply_control(Control value) {
  send_reply(Command::set_control, static_cast<Byte>(value));
}

void Server::reply_purge(Purge which) { send_reply(Command::purge_data, static_cast<Byte>(which)); }

void Server::update_modem_state(std::uint8_t lines) {
  modem_lines_ = lines & modem::lines;
  if (!is_com_port_active()) return;
  const std::uint8_t changed = modem_lines_ ^ reported_lines_;
  const std::uint8_t deltas = modem_deltas();
  if (((changed | deltas) & modem_mask_) == 0) return;
  notify_modem_state(deltas);
}

void Server::send_batch_report(const paced_esp::BatchDone& report) { send_paced_esp(report); }

void Server::send_batch_report(const paced_esp::BatchAborted& report) { send_paced_esp(report); }

bool Server::is_com_port_active() const { return com_port_local_ || com_port_remote_; }

bool Server::is_paced_esp_active() const {
  return codec_.is_enabled(paced_esp::option, telnet::Side::local);
}

bool Server::is_suspended() const { return suspended_; }

ByteView Server::pending_output() { return codec_.pending_output(); }

std::size_t Server::pending_output_size() const { return codec_.pending_output_size(); }

void Server::consume_output(std::size_t n) { codec_.consume_output(n); }

std::optional<Event> Server::on_event(const telnet::DataReceived& event) {
  return DataReceived{event.data};
}

std::optional<Event> Server::on_event(const telnet::CommandReceived& event) {
  if (event.command == telnet::Command::brk) return BreakCommand{};
  return std::nullopt;  // NOP, AYT, DM, ...: nothing to do for a serial port
}

std::optional<Event> Server::on_event(const telnet::OptionChanged& event) {
  if (event.option != telnet::option::com_port) return std::nullopt;
  const bool was_active = is_com_port_active();
  (event.side == telnet::Side::local ? com_port_local_ : com_port_remote_) = event.enabled;
  if (was_active || !is_com_port_active()) return std::nullopt;
  // pyserial reports "remote sends no NOTIFY_MODEMSTATE" unless one comes unasked.
  reported_lines_ = modem_lines_;
  notify_modem_state(0);
  if (com_port_started_) return std::nullopt;
  com_port_started_ = true;
  return ComPortStarted{};
}

// A client that refuses an option we asked for (pyserial refuses none) just goes without it.
std::optional<Event> Server::on_event(const telnet::OptionRefused&) { return std::nullopt; }

std::optional<Event> Server::on_event(const telnet::SubnegotiationReceived& event) {
  if (event.option == paced_esp::option && is_paced_esp_active()) {
    return on_paced_esp_message(event.payload);
  }
  if (event.option != telnet::option::com_port || !is_com_port_active()) return std::nullopt;
  return on_com_port_command(event.payload);
}

std::optional<Event> Server::on_event(const telnet::ProtocolError& event) {
  return ProtocolError{event.error};
}

std::optional<Event> Server::on_com_port_command(ByteView payload) {
  // Unknown commands (13 and up, including server codes sent back to us) are ignored.
  if (payload.empty() || payload.front() > max_command) return std::nullopt;
  const auto command = static_cast<Command>(payload.front());
  const ByteView value = payload.subspan(1);
  switch (command) {
    case Command::signature:
      if (value.empty()) return SignatureRequested{};
      return SignatureReceived{as_chars(value)};
    case Command::set_baudrate:
      return on_baudrate(value);
    case Command::set_datasize:
      return DataBitsRequested{data_bits_from_wire(value_or_query(value))};
    case Command::set_parity:
      return ParityRequested{parity_from_wire(value_or_query(value))};
    case Command::set_stopsize:
      return StopBitsRequested{stop_bits_from_wire(value_or_query(value))};
    case Command::set_control:
      if (value.empty()) return ProtocolError{errc::missing_value};
      if (value.front() > max_control) return ProtocolError{errc::invalid_value};
      return ControlRequested{static_cast<Control>(value.front())};
    case Command::notify_linestate:  // a poll, whatever it carries
      send_reply(Command::notify_linestate, line_state & line_mask_);
      return std::nullopt;
    case Command::notify_modemstate:  // a poll, whatever it carries
      notify_modem_state(modem_deltas());
      return std::nullopt;
    case Command::flowcontrol_suspend:
    case Command::flowcontrol_resume: {
      const bool suspend = command == Command::flowcontrol_suspend;
      if (suspend == suspended_) return std::nullopt;
      suspended_ = suspend;
      return FlowSuspended{suspend};
    }
    case Command::set_linestate_mask:
      if (value.empty()) return ProtocolError{errc::missing_value};
      line_mask_ = value.front();
      send_reply(Command::set_linestate_mask, line_mask_);
      return std::nullopt;
    case Command::set_modemstate_mask:
      if (value.empty()) return ProtocolError{errc::missing_value};
      modem_mask_ = value.front();
      send_reply(Command::set_modemstate_mask, modem_mask_);
      return std::nullopt;
    case Command::purge_data:
      if (value.empty()) return ProtocolError{errc::missing_value};
      switch (static_cast<Purge>(value.front())) {
        case Purge::receive:
        case Purge::transmit:
        case Purge::both:
          return PurgeRequested{static_cast<Purge>(value.front())};
      }
      return ProtocolError{errc::invalid_value};
  }
  return std::nullopt;
}

std::optional<Event> Server::on_baudrate(ByteView value) {
  // Cisco IOS sends a one-byte index and expects the answer in the same form.
  if (value.size() == 1) {
    baud_form_ = BaudForm::cisco_index;
    return BaudRequested{cisco_baud_from_index(value.front())};
  }
  // Any length but 4 cannot be decoded: answer it like a query.
  baud_form_ = BaudForm::four_bytes;
  const std::optional<std::uint32_t> baud = baud_from_wire(value);
  if (!baud || *baud == 0) return BaudRequested{std::nullopt};
  return BaudRequested{baud};
}

std::optional<Event> Server::on_paced_esp_message(ByteView payload) {
  Result<paced_esp::Message> message = paced_esp::decode_message(payload);
  if (!message) return ProtocolError{errc::bad_message};
  // Reports go the other way: a client that sends one is confused.
  if (paced_esp::is_from_server(*message)) return ProtocolError{errc::bad_message};
  if (const auto* features = std::get_if<paced_esp::Features>(&*message)) {
    send_paced_esp(paced_esp::FeaturesAgreed{
        static_cast<std::uint8_t>(features->bits & paced_esp::server_features)});
    return std::nullopt;
  }
  return PacedEspReceived{*message};
}

void Server::send_paced_esp(const paced_esp::Message& message) {
  if (!is_paced_esp_active()) return;
  reply_.clear();
  paced_esp::append_message(reply_, message);
  codec_.send_subnegotiation(paced_esp::option, reply_);
}

ByteBuffer& Server::start_reply(Command command) {
  reply_.clear();
  reply_.push_back(server_code(command));
  return reply_;
}

void Server::finish_reply() {
  if (!is_com_port_active()) return;  // never an SB to a client that did not agree
  codec_.send_subnegotiation(telnet::option::com_port, reply_);
}

void Server::send_reply(Command command, ByteView value) {
  append(start_reply(command), value);
  finish_reply();
}

void Server::send_reply(Command command, Byte value) {
  start_reply(command).push_back(value);
  finish_reply();
}

std::uint8_t Server::modem_deltas() const {
  const std::uint8_t changed = modem_lines_ ^ reported_lines_;
  std::uint8_t deltas = 0;
  if ((changed & modem::cts) != 0) deltas |= modem::delta_cts;
  if ((changed & modem::dsr) != 0) deltas |= modem::delta_dsr;
  if ((reported_lines_ & modem::ri) != 0 && (modem_lines_ & modem::ri) == 0) {
    deltas |= modem::trailing_edge_ri;
  }
  if ((changed & modem::cd) != 0) deltas |= modem::delta_cd;
  return deltas;
}

void Server::notify_modem_state(std::uint8_t deltas) {
  send_reply(Command::notify_modemstate, (modem_lines_ | deltas) & modem_mask_);
  reported_lines_ = modem_lines_;
}

}  // namespace ttynet::rfc2217
