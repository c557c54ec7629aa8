#include "ttynet/esp/sim_uart.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "ttynet/esp/slip.hpp"

namespace ttynet::esp {
namespace {

const ByteBuffer sync_like(64, 0x55);

TEST(SimUart, PassesBytesWithinFivePercent) {
  SimUart uart(115200 * 104 / 100, 1024);  // 4% fast: still readable
  EXPECT_FALSE(uart.is_mismatched());
  const ByteView received = uart.receive(sync_like);
  EXPECT_TRUE(std::equal(received.begin(), received.end(), sync_like.begin(), sync_like.end()));
  uart.transmit(sync_like);
  EXPECT_EQ(uart.pending_output().size(), sync_like.size());
  EXPECT_EQ(uart.garbled_bytes(), 0u);
}

TEST(SimUart, GarblesBothWaysAtAForeignRateIntoJunkWithoutSlipBytes) {
  SimUart uart(921600, 1024);
  ASSERT_TRUE(uart.is_mismatched());
  const ByteBuffer frame = {slip::end, 0x01, slip::esc, 0xDC, slip::end};
  const ByteView received = uart.receive(frame);
  // A host eight times faster: the chip sees less than one byte per byte sent.
  EXPECT_LT(received.size(), frame.size());
  uart.transmit(sync_like);
  // The host, eight times faster, sees up to four junk bytes per byte sent.
  EXPECT_EQ(uart.pending_output().size(), sync_like.size() * 4);
  for (const ByteView bytes : {received, uart.pending_output()}) {
    EXPECT_EQ(std::count(bytes.begin(), bytes.end(), slip::end), 0);
    EXPECT_EQ(std::count(bytes.begin(), bytes.end(), slip::esc), 0);
  }
  EXPECT_EQ(uart.garbled_bytes(), frame.size() + sync_like.size());
}

TEST(SimUart, FollowsANewBaudOnEitherSide) {
  SimUart uart(115200, 1024);
  uart.set_baud(460800);
  EXPECT_TRUE(uart.is_mismatched());
  uart.set_host_baud(0);  // ignored
  EXPECT_EQ(uart.host_baud(), 115200u);
  uart.set_host_baud(460800);
  EXPECT_FALSE(uart.is_mismatched());
}

TEST(SimUart, DropsTheOldestOutputBeyondItsLimit) {
  SimUart uart(115200, 100);
  ByteBuffer counting(150);
  for (std::size_t i = 0; i < counting.size(); ++i) {
    counting[i] = static_cast<Byte>(i);
  }
  uart.transmit(counting);
  ASSERT_EQ(uart.pending_output().size(), 100u);
  EXPECT_EQ(uart.pending_output().front(), 50);
  EXPECT_EQ(uart.dropped_output(), 50u);
  uart.consume_output(60);
  EXPECT_EQ(uart.pending_output().front(), 110);
  uart.consume_output(40);
  EXPECT_TRUE(uart.pending_output().empty());
}

}  // namespace
}  // namespace ttynet::esp
