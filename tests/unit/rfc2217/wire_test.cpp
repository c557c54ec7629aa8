#include "ttynet/rfc2217/wire.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>

namespace ttynet::rfc2217 {
namespace {

TEST(Rfc2217Wire, ServerCodeIsCommandPlusHundred) {
  EXPECT_EQ(server_code(Command::signature), 100);
  EXPECT_EQ(server_code(Command::set_baudrate), 101);
  EXPECT_EQ(server_code(Command::set_datasize), 102);
  EXPECT_EQ(server_code(Command::set_parity), 103);
  EXPECT_EQ(server_code(Command::set_stopsize), 104);
  EXPECT_EQ(server_code(Command::set_control), 105);
  EXPECT_EQ(server_code(Command::notify_linestate), 106);
  EXPECT_EQ(server_code(Command::notify_modemstate), 107);
  EXPECT_EQ(server_code(Command::flowcontrol_suspend), 108);
  EXPECT_EQ(server_code(Command::flowcontrol_resume), 109);
  EXPECT_EQ(server_code(Command::set_linestate_mask), 110);
  EXPECT_EQ(server_code(Command::set_modemstate_mask), 111);
  EXPECT_EQ(server_code(Command::purge_data), 112);
}

TEST(Rfc2217Wire, ParityMapsBothWays) {
  // RFC 2217 SET-PARITY: 1 NONE, 2 ODD, 3 EVEN, 4 MARK, 5 SPACE.
  constexpr std::array<Parity, 5> parities = {Parity::none, Parity::odd, Parity::even, Parity::mark,
                                              Parity::space};
  for (std::size_t i = 0; i < parities.size(); ++i) {
    const auto wire = static_cast<Byte>(i + 1);
    EXPECT_EQ(parity_from_wire(wire), parities[i]);
    EXPECT_EQ(to_wire(parities[i]), wire);
  }
}

TEST(Rfc2217Wire, ParityQueryAndReservedValuesGiveNothing) {
  EXPECT_EQ(parity_from_wire(0), std::nullopt);
  for (int value = 6; value <= 255; ++value) {
    EXPECT_EQ(parity_from_wire(static_cast<Byte>(value)), std::nullopt) << value;
  }
}

TEST(Rfc2217Wire, StopBitsMapBothWays) {
  // RFC 2217 SET-STOPSIZE: 1 = 1 bit, 2 = 2 bits, 3 = 1.5 bits.
  EXPECT_EQ(stop_bits_from_wire(1), StopBits::one);
  EXPECT_EQ(stop_bits_from_wire(2), StopBits::two);
  EXPECT_EQ(stop_bits_from_wire(3), StopBits::one_and_half);
  EXPECT_EQ(to_wire(StopBits::one), 1);
  EXPECT_EQ(to_wire(StopBits::two), 2);
  EXPECT_EQ(to_wire(StopBits::one_and_half), 3);
}

TEST(Rfc2217Wire, StopBitsQueryAndReservedValuesGiveNothing) {
  EXPECT_EQ(stop_bits_from_wire(0), std::nullopt);
  for (int value = 4; value <= 255; ++value) {
    EXPECT_EQ(stop_bits_from_wire(static_cast<Byte>(value)), std::nullopt) << value;
  }
}

TEST(Rfc2217Wire, DataBitsAcceptFiveToEightOnly) {
  for (int value = 0; value <= 255; ++value) {
    const auto wire = static_cast<Byte>(value);
    if (value >= 5 && value <= 8) {
      EXPECT_EQ(data_bits_from_wire(wire), wire);
    } else {
      EXPECT_EQ(data_bits_from_wire(wire), std::nullopt) << value;
    }
  }
}

TEST(Rfc2217Wire, FlowControlReportsSetControlValues) {
  EXPECT_EQ(to_wire(FlowControl::none), Control::flow_none);
  EXPECT_EQ(to_wire(FlowControl::xon_xoff), Control::flow_xon_xoff);
  EXPECT_EQ(to_wire(FlowControl::rts_cts), Control::flow_rts_cts);
  EXPECT_EQ(static_cast<Byte>(Control::flow_none), 1);
  EXPECT_EQ(static_cast<Byte>(Control::flow_xon_xoff), 2);
  EXPECT_EQ(static_cast<Byte>(Control::flow_rts_cts), 3);
  EXPECT_EQ(static_cast<Byte>(Control::flow_dsr), 19);
}

// RFC 2217 itself only has the four-byte SET-BAUDRATE; Cisco IOS sends a one-byte index.
// The peers that understand it (ser2net, and gensio's telnet filter: cisco_baud_rates[]) use
// these indexes, with 9 (14400) and 11 (28800) unsupported and nothing above 230400.
TEST(Rfc2217Wire, CiscoIndexesAreSer2netsIndexes) {
  EXPECT_EQ(cisco_baud_from_index(3), 300u);
  EXPECT_EQ(cisco_baud_from_index(8), 9600u);
  EXPECT_EQ(cisco_baud_from_index(10), 19200u);
  EXPECT_EQ(cisco_baud_from_index(14), 115200u);
  EXPECT_EQ(cisco_baud_from_index(15), 230400u);
  EXPECT_EQ(cisco_index_from_baud(600), Byte{4});
  EXPECT_EQ(cisco_index_from_baud(38400), Byte{12});
  EXPECT_EQ(cisco_index_from_baud(57600), Byte{13});
  // The gaps ser2net leaves, and the ends.
  for (const Byte index : {Byte{0}, Byte{1}, Byte{2}, Byte{9}, Byte{11}, Byte{16}, Byte{255}}) {
    EXPECT_EQ(cisco_baud_from_index(index), std::nullopt) << int{index};
  }
  for (const std::uint32_t baud : {0u, 50u, 1800u, 14400u, 28800u, 460800u, 921600u}) {
    EXPECT_EQ(cisco_index_from_baud(baud), std::nullopt) << baud;
  }
}

// Over every index: 300..230400 baud, each on one index, in increasing order, and each
// mapping back to its index.
TEST(Rfc2217Wire, CiscoIndexesRoundTrip) {
  std::size_t mapped = 0;
  std::uint32_t previous = 0;
  for (unsigned value = 0; value <= 0xFF; ++value) {
    const auto index = static_cast<Byte>(value);
    const auto baud = cisco_baud_from_index(index);
    if (!baud) continue;
    ++mapped;
    EXPECT_GT(*baud, previous) << "index " << value;
    previous = *baud;
    EXPECT_EQ(cisco_index_from_baud(*baud), index) << *baud;
  }
  EXPECT_EQ(mapped, 11u);
  EXPECT_EQ(previous, 230400u);
  // And from the rate side: a rate with an index is the rate of that index.
  for (const std::uint32_t baud : {110u, 300u, 600u, 1200u, 2400u, 4800u, 9600u, 19200u, 38400u,
                                   57600u, 115200u, 230400u, 76800u}) {
    if (const auto index = cisco_index_from_baud(baud)) {
      EXPECT_EQ(cisco_baud_from_index(*index), baud);
    }
  }
}

TEST(Rfc2217Wire, BaudIsBigEndianFourBytes) {
  ByteBuffer out;
  append_baud(out, 115200);
  EXPECT_EQ(out, (ByteBuffer{0x00, 0x01, 0xC2, 0x00}));
  append_baud(out, 0xFFFFFFFF);
  EXPECT_EQ(out, (ByteBuffer{0x00, 0x01, 0xC2, 0x00, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(Rfc2217Wire, BaudDecodesExactlyFourBytes) {
  const ByteBuffer rate = {0x00, 0x07, 0x08, 0x00};
  EXPECT_EQ(baud_from_wire(rate), 460800u);
  const ByteBuffer max = {0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(baud_from_wire(max), 0xFFFFFFFFu);
  const ByteBuffer zero = {0, 0, 0, 0};
  EXPECT_EQ(baud_from_wire(zero), 0u);
  const ByteBuffer short_value = {0x01, 0xC2, 0x00};
  EXPECT_EQ(baud_from_wire(short_value), std::nullopt);
  const ByteBuffer long_value = {0x00, 0x01, 0xC2, 0x00, 0x00};
  EXPECT_EQ(baud_from_wire(long_value), std::nullopt);
  EXPECT_EQ(baud_from_wire({}), std::nullopt);
}

TEST(Rfc2217Wire, BaudRoundTrips) {
  for (const std::uint32_t baud : {1u, 300u, 9600u, 65535u, 115200u, 921600u, 0x12345678u}) {
    ByteBuffer out;
    append_baud(out, baud);
    EXPECT_EQ(baud_from_wire(out), baud);
  }
}

}  // namespace
}  // namespace ttynet::rfc2217
