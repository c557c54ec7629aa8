#include "ttynet/port/termios2.hpp"

#include <gtest/gtest.h>

#include <array>

namespace ttynet::port::detail {
namespace {

namespace bits = termios_bits;

TEST(Termios2, EncodesEveryCombinationSoThatItDecodesBack) {
  constexpr std::array<std::uint32_t, 6> bauds = {50, 9600, 115200, 250000, 3000000, 12345678};
  constexpr std::array<Parity, 5> parities = {Parity::none, Parity::odd, Parity::even, Parity::mark,
                                              Parity::space};
  constexpr std::array<FlowControl, 3> flows = {FlowControl::none, FlowControl::xon_xoff,
                                                FlowControl::rts_cts};
  for (const auto baud : bauds) {
    for (std::uint8_t data_bits = 5; data_bits <= 8; ++data_bits) {
      for (const auto parity : parities) {
        for (const auto stop_bits : {StopBits::one, StopBits::two}) {
          for (const auto flow : flows) {
            const LineSettings wanted{baud, data_bits, parity, stop_bits, flow};
            Termios2 termios;
            encode_line_settings(wanted, termios);
            LineSettings expected = wanted;
            // With 5 data bits, CSTOPB means 1.5 stop bits.
            if (data_bits == 5 && stop_bits == StopBits::two) {
              expected.stop_bits = StopBits::one_and_half;
            }
            EXPECT_EQ(decode_line_settings(termios), expected) << to_string(wanted);
          }
        }
      }
    }
  }
}

TEST(Termios2, OneAndAHalfStopBitsHoldOnlyWithFiveDataBits) {
  Termios2 termios;
  encode_line_settings({9600, 5, Parity::none, StopBits::one_and_half, FlowControl::none}, termios);
  EXPECT_NE(termios.cflag & bits::cstopb(), 0U);
  EXPECT_EQ(decode_line_settings(termios).stop_bits, StopBits::one_and_half);
  encode_line_settings({9600, 8, Parity::none, StopBits::one_and_half, FlowControl::none}, termios);
  EXPECT_EQ(decode_line_settings(termios).stop_bits, StopBits::two);
}

TEST(Termios2, UsesBotherOnlyForNonStandardRates) {
  Termios2 termios;
  encode_line_settings({115200, 8, Parity::none, StopBits::one, FlowControl::none}, termios);
  EXPECT_NE(termios.cflag & bits::cbaud(), bits::bother());
  EXPECT_EQ(termios.ospeed, 115200U);
  encode_line_settings({250000, 8, Parity::none, StopBits::one, FlowControl::none}, termios);
  EXPECT_EQ(termios.cflag & bits::cbaud(), bits::bother());
  EXPECT_EQ(termios.ispeed, 250000U);
  EXPECT_EQ(termios.ospeed, 250000U);
}

TEST(Termios2, EncodesParityAsTheKernelSpellsIt) {
  struct Case {
    Parity parity;
    std::uint32_t flags;
  };
  const Case cases[] = {
      {Parity::none, 0},
      {Parity::odd, bits::parenb() | bits::parodd()},
      {Parity::even, bits::parenb()},
      {Parity::mark, bits::parenb() | bits::parodd() | bits::cmspar()},
      {Parity::space, bits::parenb() | bits::cmspar()},
  };
  const std::uint32_t mask = bits::parenb() | bits::parodd() | bits::cmspar();
  for (const auto& c : cases) {
    Termios2 termios;
    termios.cflag = mask;  // whatever was there before is replaced
    encode_line_settings({9600, 7, c.parity, StopBits::one, FlowControl::none}, termios);
    EXPECT_EQ(termios.cflag & mask, c.flags) << to_string(c.parity);
    EXPECT_EQ(termios.cflag & bits::csize(), bits::cs7());
  }
}

TEST(Termios2, EncodesFlowControl) {
  Termios2 termios;
  encode_line_settings({9600, 8, Parity::none, StopBits::one, FlowControl::rts_cts}, termios);
  EXPECT_NE(termios.cflag & bits::crtscts(), 0U);
  EXPECT_EQ(termios.iflag & (bits::ixon() | bits::ixoff()), 0U);
  encode_line_settings({9600, 8, Parity::none, StopBits::one, FlowControl::xon_xoff}, termios);
  EXPECT_EQ(termios.cflag & bits::crtscts(), 0U);
  EXPECT_EQ(termios.iflag & (bits::ixon() | bits::ixoff()), bits::ixon() | bits::ixoff());
  encode_line_settings({9600, 8, Parity::none, StopBits::one, FlowControl::none}, termios);
  EXPECT_EQ(termios.cflag & bits::crtscts(), 0U);
  EXPECT_EQ(termios.iflag & (bits::ixon() | bits::ixoff()), 0U);
}

TEST(Termios2, RawModeKeepsBaudAndStopBitsAndClearsTheRest) {
  Termios2 termios;
  encode_line_settings({57600, 7, Parity::even, StopBits::two, FlowControl::xon_xoff}, termios);
  termios.cflag |= bits::crtscts();
  make_raw(termios);
  const LineSettings raw = decode_line_settings(termios);
  EXPECT_EQ(raw, (LineSettings{57600, 8, Parity::none, StopBits::two, FlowControl::none}));
}

}  // namespace
}  // namespace ttynet::port::detail
