#include "ttynet/rfc2217/wire.hpp"

#include <algorithm>
#include <array>

namespace ttynet::rfc2217 {

namespace {

// Wire numbering of RFC 2217 SET-PARITY and SET-STOPSIZE; 0 is "query" in both.
enum class WireParity : Byte { none = 1, odd = 2, even = 3, mark = 4, space = 5 };
enum class WireStopBits : Byte { one = 1, two = 2, one_and_half = 3 };

struct CiscoBaud {
  Byte index;
  std::uint32_t baud;
};

// Cisco IOS one-byte SET-BAUDRATE indexes, as gensio understands them.
constexpr std::array<CiscoBaud, 11> cisco_bauds = {{
    {3, 300},
    {4, 600},
    {5, 1200},
    {6, 2400},
    {7, 4800},
    {8, 9600},
    {10, 19200},
    {12, 38400},
    {13, 57600},
    {14, 115200},
    {15, 230400},
}};

constexpr std::size_t baud_size = 4;

}  // namespace

std::optional<Parity> parity_from_wire(Byte value) {
  switch (static_cast<WireParity>(value)) {
    case WireParity::none:
      return Parity::none;
    case WireParity::odd:
      return Parity::odd;
    case WireParity::even:
      return Parity::even;
    case WireParity::mark:
      return Parity::mark;
    case WireParity::space:
      return Parity::space;
  }
  return std::nullopt;
}

Byte to_wire(Parity parity) {
  switch (parity) {
    case Parity::none:
      return static_cast<Byte>(WireParity::none);
    case Parity::odd:
      return static_cast<Byte>(WireParity::odd);
    case Parity::even:
      return static_cast<Byte>(WireParity::even);
    case Parity::mark:
      return static_cast<Byte>(WireParity::mark);
    case Parity::space:
      return static_cast<Byte>(WireParity::space);
  }
  return static_cast<Byte>(WireParity::none);
}

std::optional<StopBits> stop_bits_from_wire(Byte value) {
  switch (static_cast<WireStopBits>(value)) {
    case WireStopBits::one:
      return StopBits::one;
    case WireStopBits::two:
      return StopBits::two;
    case WireStopBits::one_and_half:
      return StopBits::one_and_half;
  }
  return std::nullopt;
}

Byte to_wire(StopBits stop_bits) {
  switch (stop_bits) {
    case StopBits::one:
      return static_cast<Byte>(WireStopBits::one);
    case StopBits::two:
      return static_cast<Byte>(WireStopBits::two);
    case StopBits::one_and_half:
      return static_cast<Byte>(WireStopBits::one_and_half);
  }
  return static_cast<Byte>(WireStopBits::one);
}

std::optional<std::uint8_t> data_bits_from_wire(Byte value) {
  constexpr Byte min_data_bits = 5;
  constexpr Byte max_data_bits = 8;
  if (value < min_data_bits || value > max_data_bits) return std::nullopt;
  return value;
}

Control to_wire(FlowControl flow) {
  switch (flow) {
    case FlowControl::none:
      return Control::flow_none;
    case FlowControl::xon_xoff:
      return Control::flow_xon_xoff;
    case FlowControl::rts_cts:
      return Control::flow_rts_cts;
  }
  return Control::flow_none;
}

std::optional<std::uint32_t> cisco_baud_from_index(Byte index) {
  const auto* found = std::find_if(cisco_bauds.begin(), cisco_bauds.end(),
                                   [index](const CiscoBaud& row) { return row.index == index; });
  if (found == cisco_bauds.end()) return std::nullopt;
  return found->baud;
}

std::optional<Byte> cisco_index_from_baud(std::uint32_t baud) {
  const auto* found = std::find_if(cisco_bauds.begin(), cisco_bauds.end(),
                                   [baud](const CiscoBaud& row) { return row.baud == baud; });
  if (found == cisco_bauds.end()) return std::nullopt;
  return found->index;
}

void append_baud(ByteBuffer& to, std::uint32_t baud) {
  to.push_back(static_cast<Byte>(baud >> 24));
  to.push_back(static_cast<Byte>(baud >> 16));
  to.push_back(static_cast<Byte>(baud >> 8));
  to.push_back(static_cast<Byte>(baud));
}

std::optional<std::uint32_t> baud_from_wire(ByteView value) {
  if (value.size() != baud_size) return std::nullopt;
  return std::uint32_t{value[0]} << 24 | std::uint32_t{value[1]} << 16 |
         std::uint32_t{value[2]} << 8 | std::uint32_t{value[3]};
}

}  // namespace ttynet::rfc2217
