#pragma once
// Sans-I/O RFC 2217 access-server state machine over one Telnet connection.
//
// Bytes from the client go in through receive(); requests come out of next_event() as
// events that the session applies to the device and then answers through the reply_*
// calls, which queue the reply (server code = client code + 100) in request order. Device
// data goes in through send_data(). Everything for the client is drained through
// pending_output()/consume_output().
//
// Handled inside, without events: Telnet negotiation (WILL/DO BINARY, SGA and COM-PORT
// offered at construction; ECHO refused), SET-LINESTATE-MASK / SET-MODEMSTATE-MASK
// (stored, answered 110/111), NOTIFY-LINESTATE / NOTIFY-MODEMSTATE polls (answered with
// the last known state), the NOTIFY-MODEMSTATE sent when COM-PORT is agreed, and later
// notifications when update_modem_state() changes a masked bit. RFC 2217 sub-negotiations
// before COM-PORT is agreed, and unknown commands, are ignored. Clients that never
// negotiate still get their data through, and no sub-negotiation is ever sent to them.

#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <variant>

#include "ttynet/rfc2217/wire.hpp"
#include "ttynet/telnet/codec.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::rfc2217 {

// Events. Views stay valid until the next call to receive() or next_event().

struct DataReceived {  // for the device, IAC doubling undone
  ByteView data;
};
struct ComPortStarted {};  // the client agreed to COM-PORT (once per connection)
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
// client. No reply is defined.
struct FlowSuspended {
  bool suspended;
};
// Telnet IAC BRK from the client: a short serial break is customary.
struct BreakCommand {};
// Peer misbehaviour that was survived; log it.
struct ProtocolError {
  std::error_code error;
};

using Event = std::variant<DataReceived, ComPortStarted, SignatureRequested, SignatureReceived,
                           BaudRequested, DataBitsRequested, ParityRequested, StopBitsRequested,
                           ControlRequested, PurgeRequested, FlowSuspended, BreakCommand,
                           ProtocolError>;

class Server {
 public:
  explicit Server(telnet::Limits limits = {});

  // Same contract as telnet::Codec::receive(): drain next_event() before the next call.
  void receive(ByteView from_client);
  std::optional<Event> next_event();

  void send_data(ByteView from_device);  // 0xFF doubled

  void reply_signature(std::string_view text);
  void reply_baud(std::uint32_t baud);  // in the request's form (4 bytes, or Cisco 1 byte)
  void reply_data_bits(std::uint8_t data_bits);
  void reply_parity(Parity parity);
  void reply_stop_bits(StopBits stop_bits);
  void reply_control(Control value);
  void reply_purge(Purge which);

  // Current CD/RI/DSR/CTS (modem::lines bits). Deltas are computed here; a
  // NOTIFY-MODEMSTATE goes out when a bit under the client's mask changed.
  void update_modem_state(std::uint8_t lines);

  bool is_com_port_active() const;
  bool is_suspended() const;

  ByteView pending_output() const;
  void consume_output(std::size_t n);

 private:
  // Implementation-defined members.
};

}  // namespace ttynet::rfc2217
