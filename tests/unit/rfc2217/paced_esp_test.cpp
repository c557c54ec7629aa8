#include "ttynet/rfc2217/paced_esp.hpp"

#include <gtest/gtest.h>

#include "ttynet/rfc2217/error.hpp"
#include "wire_bytes.hpp"

namespace ttynet::rfc2217::paced_esp {
namespace {

using test::from_hex;
using test::hex;

ByteBuffer encode(const Message& message) {
  ByteBuffer payload;
  append_message(payload, message);
  return payload;
}

TEST(PacedEspWire, EncodesEachMessageBigEndianAfterItsKind) {
  EXPECT_EQ(hex(encode(BatchBegin{0x1234})), "01 12 34");
  EXPECT_EQ(hex(encode(FrameInfo{.opcode = 0x03,
                                 .status_length = 4,
                                 .timeout = std::chrono::milliseconds{3000},
                                 .replies = 1})),
            "02 03 04 00 00 0b b8 01");
  EXPECT_EQ(hex(encode(BatchEnd{0x1234})), "03 12 34");
  EXPECT_EQ(hex(encode(BatchDone{.id = 7, .frames = 1025})), "65 00 07 04 01");
  EXPECT_EQ(hex(encode(Features{feature_server_read_acks})), "04 01");
  EXPECT_EQ(hex(encode(FeaturesAgreed{feature_server_read_acks})), "67 01");
  // The flags byte only when a flag is set, so servers that predate it never see one.
  EXPECT_EQ(hex(encode(FrameInfo{.opcode = 0xD2,
                                 .status_length = 2,
                                 .timeout = std::chrono::milliseconds{3000},
                                 .replies = 1,
                                 .server_acks_read = true})),
            "02 d2 02 00 00 0b b8 01 01");
  BatchAborted aborted{.id = 7, .index = 3, .reason = AbortReason::failed_status};
  aborted.status = {0x01, 0x07, 0, 0};
  aborted.status_size = 2;
  EXPECT_EQ(hex(encode(aborted)), "66 00 07 00 03 01 01 07");
}

TEST(PacedEspWire, DecodesWhatItEncodes) {
  BatchAborted aborted{.id = 9, .index = 0xFFFF, .reason = AbortReason::timeout};
  const Message messages[] = {
      BatchBegin{1},
      FrameInfo{
          .opcode = 8, .status_length = 2, .timeout = std::chrono::milliseconds{100}, .replies = 8},
      BatchEnd{0xFFFF},
      FrameInfo{.opcode = 0xD2,
                .status_length = 2,
                .timeout = std::chrono::milliseconds{3000},
                .replies = 1,
                .server_acks_read = true},
      Features{0xFF},
      FeaturesAgreed{0},
      BatchDone{.id = 2, .frames = 3},
      aborted,
  };
  for (const Message& message : messages) {
    const auto decoded = decode_message(encode(message));
    ASSERT_TRUE(decoded) << hex(encode(message));
    EXPECT_EQ(*decoded, message);
  }
}

TEST(PacedEspWire, TakesAFrameInfoFlagsByteAsOptionalAndIgnoresUnknownFlags) {
  const auto without = decode_message(from_hex("02 d2 02 00 00 0b b8 01"));
  ASSERT_TRUE(without);
  EXPECT_FALSE(std::get<FrameInfo>(*without).server_acks_read);
  const auto unknown = decode_message(from_hex("02 d2 02 00 00 0b b8 01 fe"));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(std::get<FrameInfo>(*unknown).server_acks_read);
}

TEST(PacedEspWire, TellsServerMessagesFromClientMessages) {
  EXPECT_TRUE(is_from_server(BatchDone{}));
  EXPECT_TRUE(is_from_server(BatchAborted{}));
  EXPECT_TRUE(is_from_server(FeaturesAgreed{}));
  EXPECT_FALSE(is_from_server(Features{}));
  EXPECT_FALSE(is_from_server(BatchBegin{}));
}

TEST(PacedEspWire, RefusesWhatCannotBeDecoded) {
  for (const char* payload :
       {"", "00", "05 00 01", "01 00", "02 03 04 00 00 0b b8", "02 03 03 00 00 0b b8 01",
        "02 03 04 00 00 0b b8 00", "66 00 01 00 02 07", "66 00 01 00 02 01 01 02 03 04 05", "65 00",
        "04", "67"}) {
    const auto decoded = decode_message(from_hex(payload));
    ASSERT_FALSE(decoded) << payload;
    EXPECT_EQ(decoded.error(), errc::bad_message) << payload;
  }
}

TEST(PacedEspWire, ToleratesTrailingBytesAsRfc2217Does) {
  const auto decoded = decode_message(from_hex("01 00 05 aa bb"));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, Message{BatchBegin{5}});
}

}  // namespace
}  // namespace ttynet::rfc2217::paced_esp
