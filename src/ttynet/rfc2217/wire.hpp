#pragma once
// RFC 2217 (Telnet Com Port Control Option) on the wire: command codes, value encodings, and
// the mapping between wire values and ttynet's line vocabulary. Shared by client and server.

#include <cstdint>
#include <optional>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/line_settings.hpp"

namespace ttynet::rfc2217 {

// Client-to-server command codes; the server answers and notifies with code + 100.
enum class Command : Byte {
  signature = 0,
  set_baudrate = 1,
  set_datasize = 2,
  set_parity = 3,
  set_stopsize = 4,
  set_control = 5,
  notify_linestate = 6,
  notify_modemstate = 7,
  flowcontrol_suspend = 8,
  flowcontrol_resume = 9,
  set_linestate_mask = 10,
  set_modemstate_mask = 11,
  purge_data = 12,
};
inline constexpr Byte server_offset = 100;
constexpr Byte server_code(Command command) { return static_cast<Byte>(command) + server_offset; }

// SET-CONTROL values (RFC 2217 section "SET-CONTROL").
enum class Control : Byte {
  flow_query = 0,
  flow_none = 1,
  flow_xon_xoff = 2,
  flow_rts_cts = 3,
  break_query = 4,
  break_on = 5,
  break_off = 6,
  dtr_query = 7,
  dtr_on = 8,
  dtr_off = 9,
  rts_query = 10,
  rts_on = 11,
  rts_off = 12,
  inbound_flow_query = 13,
  inbound_flow_none = 14,
  inbound_flow_xon_xoff = 15,
  inbound_flow_hardware = 16,
  flow_dcd = 17,
  inbound_flow_dtr = 18,
  flow_dsr = 19,
};

// Wire value 0 is always "query"; these return nothing for 0 and for reserved values.
std::optional<Parity> parity_from_wire(Byte value);  // 1 N, 2 O, 3 E, 4 M, 5 S
Byte to_wire(Parity parity);
std::optional<StopBits> stop_bits_from_wire(Byte value);  // 1 one, 2 two, 3 one and a half
Byte to_wire(StopBits stop_bits);
std::optional<std::uint8_t> data_bits_from_wire(Byte value);  // 5..8
// The SET-CONTROL value that reports a flow-control setting (1, 2 or 3).
Control to_wire(FlowControl flow);

// Cisco IOS sends SET-BAUDRATE as a one-byte index; these map it (nothing for unknown indexes).
std::optional<std::uint32_t> cisco_baud_from_index(Byte index);
std::optional<Byte> cisco_index_from_baud(std::uint32_t baud);

// Big-endian unsigned 32-bit baud, as RFC 2217 sends it.
void append_baud(ByteBuffer& to, std::uint32_t baud);
std::optional<std::uint32_t> baud_from_wire(ByteView value);  // exactly 4 bytes

}  // namespace ttynet::rfc2217
