#pragma once
// Serial line vocabulary shared by the protocol cores and the ports: settings, control lines,
// modem and line state. Plain data, no I/O.

#include <cstdint>
#include <string>

namespace ttynet {

enum class Parity : std::uint8_t { none, odd, even, mark, space };
enum class StopBits : std::uint8_t { one, one_and_half, two };
enum class FlowControl : std::uint8_t { none, xon_xoff, rts_cts };

struct LineSettings {
  std::uint32_t baud = 115200;
  std::uint8_t data_bits = 8;  // 5..8
  Parity parity = Parity::none;
  StopBits stop_bits = StopBits::one;
  FlowControl flow = FlowControl::none;

  friend bool operator==(const LineSettings&, const LineSettings&) = default;
};

// Output lines the host drives.
struct ControlLines {
  bool dtr = false;
  bool rts = false;
  friend bool operator==(const ControlLines&, const ControlLines&) = default;
};

// Input lines, in the bit layout of RFC 2217 NOTIFY-MODEMSTATE (high nibble = line states).
namespace modem {
inline constexpr std::uint8_t cd = 0x80;
inline constexpr std::uint8_t ri = 0x40;
inline constexpr std::uint8_t dsr = 0x20;
inline constexpr std::uint8_t cts = 0x10;
inline constexpr std::uint8_t delta_cd = 0x08;
inline constexpr std::uint8_t trailing_edge_ri = 0x04;
inline constexpr std::uint8_t delta_dsr = 0x02;
inline constexpr std::uint8_t delta_cts = 0x01;
inline constexpr std::uint8_t lines = 0xF0;
}  // namespace modem

// Which buffers a purge clears, as RFC 2217 PURGE-DATA numbers them.
enum class Purge : std::uint8_t {
  receive = 1,   // data from the device not yet delivered
  transmit = 2,  // data for the device not yet sent
  both = 3,
};

std::string to_string(Parity parity);
std::string to_string(StopBits stop_bits);
std::string to_string(FlowControl flow);
// "115200 8N1", plus " rtscts"/" xonxoff" when flow control is on.
std::string to_string(const LineSettings& settings);

}  // namespace ttynet
