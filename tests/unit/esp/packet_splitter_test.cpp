#include "ttynet/esp/packet_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ttynet/esp/slip.hpp"
#include "wire_bytes.hpp"

namespace ttynet::esp {
namespace {

using test::Bytes;
using test::concat;
using test::from_hex;

// What came out, with passed runs merged: where the input is cut decides where a run is cut.
struct Split {
  Bytes passed_and_packets;  // every byte handed out, in order: nothing lost or reordered
  std::vector<Bytes> packets;
  std::vector<Bytes> payloads;
};

Split split(PacketSplitter& splitter, const std::vector<Bytes>& parts) {
  Split out;
  for (const Bytes& part : parts) {
    splitter.feed(part, [&](const PacketSplitter::Event& event) {
      if (const auto* passed = std::get_if<PacketSplitter::Passed>(&event)) {
        EXPECT_FALSE(passed->bytes.empty());
        out.passed_and_packets.insert(out.passed_and_packets.end(), passed->bytes.begin(),
                                      passed->bytes.end());
        return;
      }
      const auto& packet = std::get<PacketSplitter::Packet>(event);
      out.passed_and_packets.insert(out.passed_and_packets.end(), packet.frame.begin(),
                                    packet.frame.end());
      out.packets.emplace_back(packet.frame.begin(), packet.frame.end());
      out.payloads.emplace_back(packet.payload.begin(), packet.payload.end());
    });
  }
  return out;
}

Bytes text(std::string_view chars) {
  const ByteView bytes = as_bytes(chars);
  return {bytes.begin(), bytes.end()};
}

Bytes request_frame(Op op, const Bytes& data) {
  ByteBuffer packet;
  append_request(packet, op, data);
  return slip::encode_frame(packet);
}

TEST(PacketSplitterTest, FindsRequestsAndPassesTextAroundThem) {
  PacketSplitter splitter(request_direction);
  const auto data = sync_data();
  const Bytes sync = request_frame(Op::sync, Bytes(data.begin(), data.end()));
  const Bytes hello = text("hello\r\n");
  const Split out = split(splitter, {concat({hello, sync, hello})});
  ASSERT_EQ(out.packets.size(), 1u);
  EXPECT_EQ(out.packets[0], sync);
  EXPECT_EQ(out.passed_and_packets, concat({hello, sync, hello}));
  EXPECT_EQ(splitter.held(), 0u);
}

TEST(PacketSplitterTest, UnescapesThePayloadAndKeepsTheFrameAsSent) {
  PacketSplitter splitter(request_direction);
  const Bytes data{0xC0, 0xDB, 0x01, 0xC0};
  const Bytes frame = request_frame(Op::write_reg, data);
  const Split out = split(splitter, {frame});
  ASSERT_EQ(out.payloads.size(), 1u);
  EXPECT_EQ(out.packets[0], frame);
  ByteBuffer expected;
  append_request(expected, Op::write_reg, data);
  EXPECT_EQ(out.payloads[0], expected);
}

TEST(PacketSplitterTest, ByteByByteGivesTheSameAsWhole) {
  const Bytes stream =
      concat({from_hex("41 42"), request_frame(Op::read_reg, from_hex("0c 00 00 60")),
              request_frame(Op::spi_attach, Bytes(8, 0xDB)), from_hex("c0 43")});
  PacketSplitter whole_splitter(request_direction);
  const Split whole = split(whole_splitter, {stream});
  std::vector<Bytes> bytes;
  for (const Byte b : stream) bytes.push_back({b});
  PacketSplitter byte_splitter(request_direction);
  const Split by_byte = split(byte_splitter, bytes);
  EXPECT_EQ(whole.packets.size(), 2u);
  EXPECT_EQ(by_byte.packets, whole.packets);
  EXPECT_EQ(whole.passed_and_packets, stream);
  EXPECT_EQ(by_byte.passed_and_packets, stream);
  EXPECT_EQ(byte_splitter.held(), 0u);
}

TEST(PacketSplitterTest, AStrayEndInTextIsPassedAsSoonAsTheNextByteRulesOutAPacket) {
  PacketSplitter splitter(request_direction);
  const Split first = split(splitter, {from_hex("c0")});
  EXPECT_TRUE(first.passed_and_packets.empty());
  EXPECT_EQ(splitter.held(), 1u);
  const Split second = split(splitter, {text("x")});
  EXPECT_EQ(second.passed_and_packets, concat({from_hex("c0"), text("x")}));
  EXPECT_TRUE(second.packets.empty());
  EXPECT_EQ(splitter.held(), 0u);
}

TEST(PacketSplitterTest, ResponsesAreNotRequests) {
  ByteBuffer reply;
  append_response(reply, Op::sync, rom_sync_value, from_hex("00 00 00 00"));
  const Bytes frame = slip::encode_frame(reply);
  PacketSplitter requests(request_direction);
  const Split as_request = split(requests, {frame});
  EXPECT_TRUE(as_request.packets.empty());
  EXPECT_EQ(as_request.passed_and_packets, frame);  // its closing END too: nothing waits
  PacketSplitter responses(response_direction);
  EXPECT_EQ(split(responses, {frame}).packets.size(), 1u);
}

TEST(PacketSplitterTest, AFrameLongerOrShorterThanItsSizeFieldIsPassed) {
  // A stub's READ_FLASH data frame that happens to start like a response.
  Bytes data_frame = concat({from_hex("c0 01 0d 02 00"), Bytes(40, 0x55), from_hex("c0")});
  PacketSplitter splitter(response_direction);
  const Split long_frame = split(splitter, {data_frame});
  EXPECT_TRUE(long_frame.packets.empty());
  const Bytes short_frame = from_hex("c0 01 0d 20 00 00 00 00 00 c0");
  const Split short_out = split(splitter, {short_frame});
  EXPECT_TRUE(short_out.packets.empty());
  EXPECT_EQ(concat({long_frame.passed_and_packets, short_out.passed_and_packets}),
            concat({data_frame, short_frame}));
  EXPECT_EQ(splitter.held(), 0u);
}

TEST(PacketSplitterTest, AFrameAfterAForeignOneIsStillFound) {
  PacketSplitter splitter(response_direction);
  ByteBuffer reply;
  append_response(reply, Op::mem_end, 0, from_hex("00 00"));
  const Bytes greeting = from_hex("c0 4f 48 41 49 c0");
  const Split out =
      split(splitter, {concat({slip::encode_frame(reply), greeting, slip::encode_frame(reply)})});
  EXPECT_EQ(out.packets.size(), 2u);
  EXPECT_EQ(splitter.held(), 0u);
}

TEST(PacketSplitterTest, ABadEscapeEndsTheCandidate) {
  PacketSplitter splitter(request_direction);
  const Bytes bytes = from_hex("c0 00 db 41 42");
  const Split out = split(splitter, {bytes});
  EXPECT_EQ(out.passed_and_packets, bytes);
  EXPECT_EQ(splitter.held(), 0u);
}

TEST(PacketSplitterTest, HoldsAtMostOnePacket) {
  PacketSplitter splitter(request_direction);
  // A header announcing 0xFFFF bytes, then more than that without an END.
  const Bytes bytes = concat({from_hex("c0 00 03 ff ff 00 00 00 00"), Bytes(0x10000, 0x41)});
  const Split out = split(splitter, {bytes});
  EXPECT_TRUE(out.packets.empty());
  EXPECT_EQ(out.passed_and_packets, bytes);
  EXPECT_EQ(splitter.held(), 0u);
}

}  // namespace
}  // namespace ttynet::esp
