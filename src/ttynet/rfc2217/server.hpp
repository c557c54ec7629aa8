#pragma once
// Sans-I/O RFC 2217 access-server state machine over one Telnet connection.
//
// Bytes from the client go in through receive(); requests come out of next_event() as
// events that the session applies to the device and then answers through the reply_*
// calls, which queue the reply (server code = client code + 100) in request order. Device
// data goes in through send_data(). Everything for the client is drained through
// pending_output()/consume_output().
//
// Handled inside, without events: Telnet negotiation (WILL/DO BINARY and WILL COM-PORT
// offered at construction; SGA and COM-PORT accepted both ways; ECHO refused), SET-LINESTATE-MASK /
// SET-MODEMSTATE-MASK (stored, answered 110/111), NOTIFY-LINESTATE / NOTIFY-MODEMSTATE polls
// (answered with the last known state), the NOTIFY-MODEMSTATE sent when COM-PORT is agreed, and
// later notifications when update_modem_state() changes a masked bit. RFC 2217 sub-negotiations
// before COM-PORT is agreed, and unknown commands, are ignored. Clients that never
// negotiate still get their data through, and no sub-negotiation is ever sent to them.
//
// Paced ESP frames (paced_esp.hpp, docs/design/paced-esp-frames.md): with
// ServerOptions::paced_esp, a client's DO PACED-ESP is answered WILL (never offered unasked);
// without it the option is refused like any unknown one. While agreed, its sub-negotiations
// come out as PacedEspReceived (client messages only), and send_batch_report() answers
// batches; FEATURES is answered here, with the bits of paced_esp::server_features asked for; an
// undecodable one, or a server message sent to us, is a ProtocolError (errc::bad_message). Before
// agreement they are ignored, and reports are dropped.
//
// COM-PORT is agreed as soon as either side of option 44 is enabled. A client that turns
// both sides off again gets no more sub-negotiations until it agrees anew (then a fresh
// NOTIFY-MODEMSTATE, but no second ComPortStarted). A client's NOTIFY-LINESTATE or
// NOTIFY-MODEMSTATE is taken as a poll whatever it carries. SET-CONTROL above 19, PURGE-DATA
// other than 1..3, and value-less SET-CONTROL/PURGE-DATA/SET-*-MASK are ignored and reported
// as ProtocolError (rfc2217::errc). One-byte settings use their first value byte; none at
// all counts as a query.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <variant>

#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/rfc2217/wire.hpp"
#include "ttynet/telnet/codec.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::rfc2217 {

// Events. Views stay valid until the next call to receive() or next_event().

struct DataReceived {  // for the device, IAC doubling undone
  ByteView data;
};
struct ComPortStarted {};      // the client agreed to COM-PORT (once per connection)
struct SignatureRequested {};  // answer with reply_signature()
struct SignatureReceived {     // the client's own signature text, information only
  std::string_view text;
};
// SET-BAUDRATE/DATASIZE/PARITY/STOPSIZE. An empty optional is a query (wire value 0), or a
// reserved value that must be answered with the value in force. Always answer with
// reply_baud()/reply_data_bits()/... carrying the value in force after applying.
struct BaudRequested {
  std::optional<std::uint32_t> baud;
};
struct DataBitsRequested {
  std::optional<std::uint8_t> data_bits;
};
struct ParityRequested {
  std::optional<Parity> parity;
};
struct StopBitsRequested {
  std::optional<StopBits> stop_bits;
};
// SET-CONTROL with any value 0..19 (others are ignored inside). Answer with reply_control().
struct ControlRequested {
  Control value;
};
// PURGE-DATA 1, 2 or 3 (others ignored). Answer with reply_purge() after purging.
struct PurgeRequested {
  Purge which;
};
// FLOWCONTROL-SUSPEND (true) / RESUME (false): stop or restart sending device data to the
// client. No reply is defined. Reported when the state changes, not for repeats. Replies and
// notifications still go out while suspended: they are small and answer the client.
struct FlowSuspended {
  bool suspended;
};
// Telnet IAC BRK from the client: a short serial break is customary.
struct BreakCommand {};
// A paced-ESP message from the client: BatchBegin, FrameInfo or BatchEnd.
struct PacedEspReceived {
  paced_esp::Message message;
};
// Peer misbehaviour that was survived; log it. Carries a telnet::errc from the codec or an
// rfc2217::errc (rfc2217/error.hpp) for a COM-PORT command that was ignored.
struct ProtocolError {
  std::error_code error;
};

using Event =
    std::variant<DataReceived, ComPortStarted, SignatureRequested, SignatureReceived, BaudRequested,
                 DataBitsRequested, ParityRequested, StopBitsRequested, ControlRequested,
                 PurgeRequested, FlowSuspended, BreakCommand, PacedEspReceived, ProtocolError>;

struct ServerOptions {
  bool paced_esp = false;  // agree to PACED-ESP when the client asks (serve --esp)
};

class Server {
 public:
  explicit Server(telnet::Limits limits = {}, ServerOptions options = {});

  // Same contract as telnet::Codec::receive(): drain next_event() before the next call.
  void receive(ByteView from_client);
  std::optional<Event> next_event();

  void send_data(ByteView from_device);  // 0xFF doubled

  // Replies carry the value given (server code = command + 100, 0xFF doubled). A reply while
  // COM-PORT is not agreed (the client turned it off meanwhile) is dropped.
  void reply_signature(std::string_view text);
  // In the form of the most recent request: 4 bytes, or the Cisco 1-byte index (4 bytes
  // after all when the rate has no index).
  void reply_baud(std::uint32_t baud);
  void reply_data_bits(std::uint8_t data_bits);
  void reply_parity(Parity parity);
  void reply_stop_bits(StopBits stop_bits);
  void reply_control(Control value);
  void reply_purge(Purge which);

  // Current CD/RI/DSR/CTS (modem::lines bits). Deltas are computed here against the last
  // NOTIFY-MODEMSTATE sent; one goes out when a line or delta bit under the client's mask
  // changed. Before COM-PORT is agreed the lines are only recorded.
  void update_modem_state(std::uint8_t lines);

  // A batch's outcome for the client, as `IAC SB PACED-ESP ... IAC SE`; dropped unless
  // PACED-ESP is agreed.
  void send_batch_report(const paced_esp::BatchDone& report);
  void send_batch_report(const paced_esp::BatchAborted& report);

  bool is_com_port_active() const;
  bool is_paced_esp_active() const;
  bool is_suspended() const;

  ByteView pending_output();  // see telnet::Codec: write straight from it
  std::size_t pending_output_size() const;
  void consume_output(std::size_t n);

 private:
  // The form of the most recent SET-BAUDRATE, which reply_baud() answers in.
  enum class BaudForm : std::uint8_t { four_bytes, cisco_index };

  // One handler per codec event; nothing comes back for events handled inside.
  std::optional<Event> on_event(const telnet::DataReceived& event);
  std::optional<Event> on_event(const telnet::CommandReceived& event);
  std::optional<Event> on_event(const telnet::OptionChanged& event);
  std::optional<Event> on_event(const telnet::OptionRefused& event);
  std::optional<Event> on_event(const telnet::SubnegotiationReceived& event);
  std::optional<Event> on_event(const telnet::ProtocolError& event);
  std::optional<Event> on_com_port_command(ByteView payload);
  std::optional<Event> on_paced_esp_message(ByteView payload);
  void send_paced_esp(const paced_esp::Message& message);
  std::optional<Event> on_baudrate(ByteView value);

  // A reply is the server code, then its value appended to start_reply()'s buffer.
  ByteBuffer& start_reply(Command command);
  void finish_reply();
  void send_reply(Command command, ByteView value);
  void send_reply(Command command, Byte value);
  std::uint8_t modem_deltas() const;  // delta bits of modem_lines_ against reported_lines_
  void notify_modem_state(std::uint8_t deltas);

  telnet::Codec codec_;
  ByteBuffer reply_;  // one reply or report payload, reused so replies stop allocating
  BaudForm baud_form_ = BaudForm::four_bytes;
  bool com_port_local_ = false;   // we WILL COM-PORT
  bool com_port_remote_ = false;  // the client WILLs COM-PORT
  bool com_port_started_ = false;
  bool suspended_ = false;
  std::uint8_t modem_lines_ = 0;     // CD/RI/DSR/CTS as last given to update_modem_state()
  std::uint8_t reported_lines_ = 0;  // the same lines as the last NOTIFY-MODEMSTATE carried
  std::uint8_t modem_mask_ = 0xFF;   // RFC 2217 defaults
  std::uint8_t line_mask_ = 0;
};

}  // namespace ttynet::rfc2217
