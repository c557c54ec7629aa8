#pragma once
// Bytes on the wire as the protocol tests write and show them: hex in and out, and the
// RFC 2217 COM-PORT subnegotiation framing.

#include <cctype>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ttynet/util/bytes.hpp"

namespace ttynet::test {

using Bytes = std::vector<Byte>;

// "ff fb 2c" or "fffb2c": every pair of hex digits is a byte; anything else is ignored.
inline Bytes from_hex(std::string_view text) {
  Bytes bytes;
  int high = -1;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isxdigit(u) == 0) continue;
    const int digit = std::isdigit(u) != 0 ? c - '0' : std::tolower(u) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      bytes.push_back(static_cast<Byte>(high * 16 + digit));
      high = -1;
    }
  }
  return bytes;
}

inline std::string hex(ByteView bytes) { return fmt::format("{:02x}", fmt::join(bytes, " ")); }

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// IAC SB <option> <payload, 0xFF doubled> IAC SE.
inline Bytes telnet_sb(Byte option, ByteView payload) {
  Bytes out = {0xFF, 0xFA, option};
  for (const Byte byte : payload) {
    out.push_back(byte);
    if (byte == 0xFF) out.push_back(0xFF);
  }
  out.push_back(0xFF);
  out.push_back(0xF0);
  return out;
}

// IAC SB COM-PORT <payload, 0xFF doubled> IAC SE.
inline Bytes com_port_sb(const Bytes& payload) { return telnet_sb(0x2C, payload); }

// pyserial's rfc2217:// client against pyserial's server as recorded on the wire, 169 bytes:
// negotiation, settings, lines and purges, "AB\xffC", a break on and off
// (docs/reference/rfc2217-peers.md §7.1).
inline const Bytes& pyserial_client_stream() {
  static const Bytes stream = from_hex(R"(
    ff fd 01 ff fb 03 ff fd 03 ff fd 2c ff fb 2c ff fb 00 ff fa 2c 01 00 01 c2 00 ff f0 ff fa 2c 02
    08 ff f0 ff fa 2c 03 01 ff f0 ff fa 2c 04 01 ff f0 ff fa 2c 05 01 ff f0 ff fa 2c 05 08 ff f0 ff
    fa 2c 05 0b ff f0 ff fa 2c 0c 01 ff f0 ff fa 2c 0c 02 ff f0 ff fa 2c 05 08 ff f0 ff fa 2c 05 0b
    ff f0 ff fa 2c 05 09 ff f0 ff fa 2c 05 0c ff f0 ff fa 2c 01 00 07 08 00 ff f0 ff fa 2c 02 08 ff
    f0 ff fa 2c 03 01 ff f0 ff fa 2c 04 01 ff f0 ff fa 2c 05 01 ff f0 41 42 ff ff 43 ff fa 2c 05 05
    ff f0 ff fa 2c 05 06 ff f0)");
  return stream;
}

}  // namespace ttynet::test
