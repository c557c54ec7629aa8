#include "ttynet/forward/esp_accelerator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/esp/slip.hpp"
#include "wire_bytes.hpp"

namespace ttynet::forward {
namespace {

namespace pe = rfc2217::paced_esp;
using esp::Op;
using test::Bytes;
using test::concat;
using test::from_hex;

Bytes request(Op op, ByteView data, std::uint32_t checksum = 0) {
  ByteBuffer packet;
  esp::append_request(packet, op, data, checksum);
  return esp::slip::encode_frame(packet);
}

Bytes reply(Op op, std::uint32_t value, const Bytes& data) {
  ByteBuffer packet;
  esp::append_response(packet, op, value, data);
  return esp::slip::encode_frame(packet);
}

Bytes sync_request() {
  const auto data = esp::sync_data();
  return request(Op::sync, data);
}

Bytes begin_request(Op op, std::uint32_t blocks, std::optional<std::uint32_t> encrypted = {}) {
  const ByteBuffer words = esp::encode_body(esp::BeginRequest{.size = blocks * 0x4000,
                                                              .blocks = blocks,
                                                              .block_size = 0x4000,
                                                              .offset = 0x10000,
                                                              .encrypted = encrypted});
  return request(op, words);
}

Bytes block_request(Op op, std::uint32_t sequence) {
  const Bytes payload(64, static_cast<Byte>(0x30 + sequence));
  ByteBuffer data;
  esp::append_data_block(data, sequence, payload);
  return request(op, data, esp::checksum(payload));
}

const Bytes stub_ok = from_hex("00 00");
const Bytes stub_write_failed = from_hex("c4 00");

class EspAcceleratorTest : public ::testing::Test {
 protected:
  // Everything queued for the far server, data runs merged.
  std::vector<Upstream> take_upstream() {
    std::vector<Upstream> items;
    while (auto item = accelerator.next_upstream()) {
      if (!items.empty() && std::holds_alternative<ByteBuffer>(*item) &&
          std::holds_alternative<ByteBuffer>(items.back())) {
        auto& data = std::get<ByteBuffer>(items.back());
        const auto& more = std::get<ByteBuffer>(*item);
        data.insert(data.end(), more.begin(), more.end());
        continue;
      }
      items.push_back(std::move(*item));
    }
    return items;
  }
  // What went to the far server when it was one run of data outside any batch.
  Bytes take_plain_upstream() {
    const auto items = take_upstream();
    if (items.size() != 1 || !std::holds_alternative<ByteBuffer>(items[0])) {
      ADD_FAILURE() << items.size() << " upstream items, not one run of data";
      return {};
    }
    return std::get<ByteBuffer>(items[0]);
  }
  Bytes take_tool_output() {
    const ByteView out = accelerator.tool_output();
    Bytes copy(out.begin(), out.end());
    accelerator.consume_tool_output(copy.size());
    return copy;
  }
  void tool(const Bytes& bytes) { accelerator.from_tool(bytes, now); }
  void device(const Bytes& bytes) { accelerator.from_device(bytes, now); }

  // A stub write whose BEGIN was answered: `blocks` blocks of FLASH_DEFL_DATA to come.
  void begin_write(std::uint32_t blocks) {
    tool(begin_request(Op::flash_defl_begin, blocks));
    take_upstream();
    device(reply(Op::flash_defl_begin, 0, stub_ok));
    ASSERT_EQ(take_tool_output(), reply(Op::flash_defl_begin, 0, stub_ok));
  }

  void learn_stub_register_write();

  EspAccelerator accelerator;
  TimePoint now{};
};

TEST_F(EspAcceleratorTest, BytesThatAreNoLoaderPacketsPassBothWaysAtOnce) {
  const Bytes typed = from_hex("68 65 6c 6c 6f c0 0d");
  tool(typed);
  EXPECT_EQ(take_plain_upstream(), typed);
  const Bytes printed = from_hex("49 20 28 33 31 29 c0 20 62 6f 6f 74 0d 0a");
  device(printed);
  EXPECT_EQ(take_tool_output(), printed);
}

TEST_F(EspAcceleratorTest, SyncIsFetchedOnceThroughABatchAndAnsweredWithTheChipsReplies) {
  tool(sync_request());
  EXPECT_TRUE(take_tool_output().empty());
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 4u);
  EXPECT_EQ(std::get<pe::Message>(up[0]), pe::Message(pe::BatchBegin{1}));
  const auto info = std::get<pe::FrameInfo>(std::get<pe::Message>(up[1]));
  EXPECT_EQ(info.opcode, static_cast<Byte>(Op::sync));
  EXPECT_EQ(info.replies, 8);
  EXPECT_EQ(info.timeout, std::chrono::milliseconds(100));
  EXPECT_EQ(std::get<ByteBuffer>(up[2]), sync_request());
  EXPECT_EQ(std::get<pe::Message>(up[3]), pe::Message(pe::BatchEnd{1}));

  // The tool tries again before the answer: nothing more goes to the chip.
  tool(sync_request());
  EXPECT_TRUE(take_upstream().empty());

  const Bytes boot = from_hex("72 73 74 3a 30 78 31 0d 0a");
  const Bytes one = reply(Op::sync, esp::rom_sync_value, from_hex("00 00 00 00"));
  Bytes eight;
  for (int i = 0; i < 8; ++i) eight.insert(eight.end(), one.begin(), one.end());
  device(concat({boot, Bytes(eight.begin(), eight.begin() + 20)}));
  EXPECT_EQ(take_tool_output(), boot);  // the boot log passes; the replies wait for all eight
  device(Bytes(eight.begin() + 20, eight.end()));
  EXPECT_EQ(take_tool_output(), eight);

  // Every later SYNC of this connect is answered here at once.
  tool(sync_request());
  EXPECT_EQ(take_tool_output(), eight);
  EXPECT_TRUE(take_upstream().empty());
  EXPECT_EQ(accelerator.counters().syncs_answered, 2u);

  // Past SYNC, requests go to the chip as they are.
  const Bytes read_reg = request(Op::read_reg, from_hex("00 10 00 40"));
  tool(read_reg);
  EXPECT_EQ(take_plain_upstream(), read_reg);
}

TEST_F(EspAcceleratorTest, ASyncWithoutAnAnswerIsFetchedAgainAtTheToolsNextTry) {
  tool(sync_request());
  take_upstream();
  accelerator.on_report(pe::BatchAborted{.id = 1, .index = 0, .reason = pe::AbortReason::timeout});
  tool(sync_request());
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 4u);
  EXPECT_EQ(std::get<pe::Message>(up[0]), pe::Message(pe::BatchBegin{2}));
  EXPECT_TRUE(take_tool_output().empty());
}

TEST_F(EspAcceleratorTest, ConstantRegistersAreReadOnceAndAnsweredWithTheChipsReply) {
  const Bytes read_efuse = request(Op::read_reg, from_hex("0c a0 f5 3f"));  // ESP32 eFuse word 3
  const Bytes chip_reply = reply(Op::read_reg, 0x00A0F500, from_hex("00 00 00 00"));
  tool(read_efuse);
  EXPECT_EQ(take_upstream().size(), 1u);
  device(chip_reply);
  EXPECT_EQ(take_tool_output(), chip_reply);

  tool(read_efuse);
  EXPECT_EQ(take_tool_output(), chip_reply);
  EXPECT_EQ(accelerator.counters().reads_answered, 1u);
  // The chip still reads it (the ROM's next replies carry the value it read last); its reply
  // is swallowed.
  EXPECT_EQ(take_plain_upstream(), read_efuse);
  device(chip_reply);
  EXPECT_TRUE(take_tool_output().empty());

  // A register that changes (the UART's clock divider) always goes to the chip.
  const Bytes read_clkdiv = request(Op::read_reg, from_hex("14 00 f4 3f"));
  tool(read_clkdiv);
  device(reply(Op::read_reg, 0x2b6, from_hex("00 00 00 00")));
  take_tool_output();
  take_upstream();
  tool(read_clkdiv);
  EXPECT_EQ(take_plain_upstream(), read_clkdiv);
  EXPECT_TRUE(take_tool_output().empty());
}

TEST_F(EspAcceleratorTest, WritingTheEfuseControllerOrAResetForgetsWhatWasRead) {
  const Bytes read_efuse = request(Op::read_reg, from_hex("0c a0 f5 3f"));
  tool(read_efuse);
  device(reply(Op::read_reg, 1, from_hex("00 00 00 00")));
  take_tool_output();
  take_upstream();
  ByteBuffer burn;
  esp::append_u32(burn, 0x3FF5A118);  // EFUSE_CMD
  esp::append_u32(burn, 2);
  esp::append_u32(burn, 0xFFFFFFFF);
  esp::append_u32(burn, 0);
  tool(request(Op::write_reg, burn));
  device(reply(Op::write_reg, 0, from_hex("00 00 00 00")));
  take_tool_output();
  take_upstream();
  tool(read_efuse);
  EXPECT_EQ(take_upstream().size(), 1u);
  EXPECT_TRUE(take_tool_output().empty());  // asked again, not answered here
  EXPECT_TRUE(is_constant_register(esp::chip_detect_magic_reg));
  EXPECT_FALSE(is_constant_register(0x3FF40014));
}

TEST_F(EspAcceleratorTest, MemEndIsAnsweredAtOnceAndTheRealReplyNeverReachesTheTool) {
  const Bytes mem_begin = request(Op::mem_begin, Bytes(16, 0));
  tool(mem_begin);
  take_upstream();
  const Bytes mem_begin_reply = reply(Op::mem_begin, 0x287ad884, from_hex("00 00 00 00"));
  device(mem_begin_reply);
  EXPECT_EQ(take_tool_output(), mem_begin_reply);

  const Bytes mem_end = request(Op::mem_end, from_hex("00 00 00 00 6c 06 08 40"));
  tool(mem_end);
  EXPECT_EQ(take_tool_output(), reply(Op::mem_end, 0x287ad884, from_hex("00 00 00 00")));
  EXPECT_EQ(take_plain_upstream(), mem_end);

  const Bytes greeting = esp::slip::encode_frame(as_bytes("OHAI"));
  device(concat({reply(Op::mem_end, 0x287ad884, from_hex("00 00 00 00")), greeting}));
  EXPECT_EQ(take_tool_output(), greeting);
}

TEST_F(EspAcceleratorTest, BlocksAreAnsweredAheadButNeverTheLast) {
  begin_write(4);
  for (std::uint32_t seq = 0; seq < 3; ++seq) {
    tool(block_request(Op::flash_defl_data, seq));
    EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_ok)) << "block " << seq;
  }
  tool(block_request(Op::flash_defl_data, 3));
  EXPECT_TRUE(take_tool_output().empty());

  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 10u);
  EXPECT_EQ(std::get<pe::Message>(up[0]), pe::Message(pe::BatchBegin{1}));
  for (std::uint32_t seq = 0; seq < 4; ++seq) {
    const auto info = std::get<pe::FrameInfo>(std::get<pe::Message>(up[1 + 2 * seq]));
    EXPECT_EQ(info.opcode, static_cast<Byte>(Op::flash_defl_data));
    EXPECT_EQ(info.status_length, 2);
    EXPECT_EQ(std::get<ByteBuffer>(up[2 + 2 * seq]), block_request(Op::flash_defl_data, seq));
  }
  EXPECT_EQ(std::get<pe::Message>(up[9]), pe::Message(pe::BatchEnd{1}));

  for (int i = 0; i < 3; ++i) device(reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_TRUE(take_tool_output().empty());  // checked and swallowed
  device(reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_EQ(accelerator.counters().answered_ahead, 3u);
  EXPECT_EQ(accelerator.counters().confirmed, 3u);
  EXPECT_EQ(accelerator.unconfirmed(), 0u);
}

TEST_F(EspAcceleratorTest, TheRomsReplyLayoutIsCopied) {
  tool(begin_request(Op::flash_begin, 3));
  take_upstream();
  const Bytes rom_ok = from_hex("00 00 00 00");
  device(reply(Op::flash_begin, 0x10000000, rom_ok));
  take_tool_output();
  tool(block_request(Op::flash_data, 0));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_data, 0x10000000, rom_ok));
  const auto up = take_upstream();
  ASSERT_GE(up.size(), 2u);
  EXPECT_EQ(std::get<pe::FrameInfo>(std::get<pe::Message>(up[1])).status_length, 4);
}

TEST_F(EspAcceleratorTest, AFailedBlockIsSentAgainWithEverythingAfterIt) {
  begin_write(4);
  for (std::uint32_t seq = 0; seq < 3; ++seq) tool(block_request(Op::flash_defl_data, seq));
  take_tool_output();
  take_upstream();
  device(reply(Op::flash_defl_data, 0, stub_ok));
  device(reply(Op::flash_defl_data, 0, stub_write_failed));
  EXPECT_TRUE(take_tool_output().empty());
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 6u);
  EXPECT_EQ(std::get<pe::Message>(up[0]), pe::Message(pe::BatchEnd{1}));
  EXPECT_EQ(std::get<pe::Message>(up[1]), pe::Message(pe::BatchBegin{2}));
  EXPECT_EQ(std::get<ByteBuffer>(up[3]), block_request(Op::flash_defl_data, 1));
  EXPECT_EQ(std::get<ByteBuffer>(up[5]), block_request(Op::flash_defl_data, 2));
  EXPECT_EQ(accelerator.counters().resent, 1u);
  const auto note = accelerator.next_note();
  ASSERT_TRUE(note);
  EXPECT_NE(
      note->text.find("FLASH_DEFL_DATA block 1: status c4 00; sending it again (attempt 2 of 3)"),
      std::string::npos)
      << note->text;

  // The failure report that follows is already handled.
  accelerator.on_report(
      pe::BatchAborted{.id = 1, .index = 1, .reason = pe::AbortReason::failed_status});
  EXPECT_TRUE(take_upstream().empty());
  device(reply(Op::flash_defl_data, 0, stub_ok));
  device(reply(Op::flash_defl_data, 0, stub_ok));
  tool(block_request(Op::flash_defl_data, 3));
  device(reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_ok));
}

TEST_F(EspAcceleratorTest, AfterThreeFailuresEveryReplyToTheToolFailsWithTheChipsStatus) {
  begin_write(4);
  for (std::uint32_t seq = 0; seq < 3; ++seq) tool(block_request(Op::flash_defl_data, seq));
  take_tool_output();
  for (int attempt = 0; attempt < 3; ++attempt)
    device(reply(Op::flash_defl_data, 0, stub_write_failed));
  EXPECT_TRUE(take_tool_output().empty());
  take_upstream();
  tool(block_request(Op::flash_defl_data, 3));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_write_failed));
  const Bytes md5 = request(Op::spi_flash_md5, Bytes(16, 0));
  tool(md5);
  EXPECT_EQ(take_tool_output(), reply(Op::spi_flash_md5, 0, stub_write_failed));
  EXPECT_TRUE(take_upstream().empty());  // nothing more reaches the chip
  EXPECT_EQ(accelerator.counters().failed_replies, 2u);
}

TEST_F(EspAcceleratorTest, AToolWaitingWhenTheLastAttemptFailsGetsTheFailure) {
  begin_write(2);
  tool(block_request(Op::flash_defl_data, 0));
  tool(block_request(Op::flash_defl_data, 1));  // the last: the tool waits for it
  take_tool_output();
  for (int attempt = 0; attempt < 3; ++attempt)
    device(reply(Op::flash_defl_data, 0, stub_write_failed));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_write_failed));
}

TEST_F(EspAcceleratorTest, AChipThatStopsAnsweringIsLeftToTheToolsTimeouts) {
  begin_write(4);
  tool(block_request(Op::flash_defl_data, 0));
  take_tool_output();
  for (std::uint16_t attempt = 0; attempt < 3; ++attempt) {
    take_upstream();
    accelerator.on_report(pe::BatchAborted{.id = static_cast<pe::BatchId>(1 + attempt),
                                           .index = 0,
                                           .reason = pe::AbortReason::timeout});
  }
  EXPECT_EQ(accelerator.counters().resent, 2u);
  take_upstream();
  tool(block_request(Op::flash_defl_data, 1));
  EXPECT_TRUE(take_tool_output().empty());  // no more answers made here
  EXPECT_EQ(take_plain_upstream(), block_request(Op::flash_defl_data, 1));
}

TEST_F(EspAcceleratorTest, ABatchAbortedByAResetIsNotSentAgain) {
  begin_write(4);
  tool(block_request(Op::flash_defl_data, 0));
  take_upstream();
  accelerator.on_report(
      pe::BatchAborted{.id = 1, .index = 0, .reason = pe::AbortReason::line_change});
  EXPECT_TRUE(take_upstream().empty());
  EXPECT_EQ(accelerator.counters().resent, 0u);
}

TEST_F(EspAcceleratorTest, AHeldAnswerSurvivesABeginTheToolSendsBeforeTheChipConfirmed) {
  accelerator.set_round_trip(std::chrono::seconds(2));  // a window of none: answers are held
  begin_write(4);
  tool(block_request(Op::flash_defl_data, 0));
  tool(request(Op::flash_defl_begin, from_hex("01 02")));  // no BEGIN a chip would take
  take_upstream();
  device(reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_ok));
}

TEST_F(EspAcceleratorTest, EncryptedWritesAreNeverAnsweredAhead) {
  tool(begin_request(Op::flash_begin, 4, 1));
  take_upstream();
  device(reply(Op::flash_begin, 0, stub_ok));
  take_tool_output();
  tool(block_request(Op::flash_data, 0));
  EXPECT_TRUE(take_tool_output().empty());
  EXPECT_EQ(take_plain_upstream(), block_request(Op::flash_data, 0));
  device(reply(Op::flash_data, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_data, 0, stub_ok));
}

TEST_F(EspAcceleratorTest, NoRoomInTheWindowHoldsTheAnswerUntilTheChipConfirms) {
  accelerator.set_round_trip(std::chrono::seconds(2));  // beyond the budget: window of none
  begin_write(4);
  tool(block_request(Op::flash_defl_data, 0));
  EXPECT_TRUE(take_tool_output().empty());
  EXPECT_EQ(take_upstream().size(), 3u);  // still sent: BatchBegin, FrameInfo, frame
  device(reply(Op::flash_defl_data, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::flash_defl_data, 0, stub_ok));
}

TEST_F(EspAcceleratorTest, TheWindowFollowsTheChipsMeasuredPace) {
  accelerator.set_round_trip(std::chrono::milliseconds(300));
  begin_write(100);
  // Two blocks out, then replies 500 ms apart: (1.8 s - 0.3 s) / 0.5 s leaves room for 3.
  std::uint32_t next = 0;
  for (; next < 2; ++next) tool(block_request(Op::flash_defl_data, next));
  take_tool_output();
  now += std::chrono::seconds(1);
  device(reply(Op::flash_defl_data, 0, stub_ok));
  for (int i = 0; i < 20; ++i, ++next) {
    tool(block_request(Op::flash_defl_data, next));
    take_tool_output();
    now += std::chrono::milliseconds(500);
    device(reply(Op::flash_defl_data, 0, stub_ok));
  }
  EXPECT_LE(accelerator.unconfirmed(), 3u);
  EXPECT_GE(accelerator.unconfirmed(), 1u);
}

TEST_F(EspAcceleratorTest, AResetEndsTheBatchAndForgetsTheChip) {
  tool(sync_request());
  take_upstream();
  const Bytes one = reply(Op::sync, esp::rom_sync_value, from_hex("00 00 00 00"));
  for (int i = 0; i < 8; ++i) device(one);
  take_tool_output();
  begin_write(4);
  tool(block_request(Op::flash_defl_data, 0));
  take_upstream();
  take_tool_output();
  accelerator.on_reset();
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<pe::Message>(up[0]));
  // The chip's SYNC answer is fetched again.
  tool(sync_request());
  EXPECT_TRUE(take_tool_output().empty());
  EXPECT_EQ(take_upstream().size(), 4u);
}

Bytes write_reg_request(std::uint32_t address, std::uint32_t value);

Bytes read_flash_request(std::uint32_t length) {
  const ByteBuffer words = esp::encode_body(
      esp::ReadFlashRequest{.offset = 0, .size = length, .packet_size = 4, .max_in_flight = 64});
  return request(Op::read_flash, words);
}

Bytes framed(const Bytes& payload) { return esp::slip::encode_frame(payload); }

Bytes read_ack(std::uint32_t count) {
  ByteBuffer word;
  esp::append_u32(word, count);
  return framed(word);
}

TEST_F(EspAcceleratorTest, AStubReadIsAcknowledgedByTheFarServerAndTheToolsAcksAreDropped) {
  accelerator.set_far_features(pe::feature_server_read_acks);
  tool(read_flash_request(8));
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 4u);
  const auto info = std::get<pe::FrameInfo>(std::get<pe::Message>(up[1]));
  EXPECT_EQ(info.opcode, static_cast<Byte>(Op::read_flash));
  EXPECT_TRUE(info.server_acks_read);
  EXPECT_EQ(std::get<ByteBuffer>(up[2]), read_flash_request(8));
  EXPECT_EQ(std::get<pe::Message>(up[3]), pe::Message(pe::BatchEnd{1}));

  // The reply, data that looks like replies, and the digest pass untouched, however split.
  const Bytes from_chip =
      concat({reply(Op::read_flash, 0, stub_ok), framed(from_hex("01 0a 00 00")),
              framed(from_hex("01 d2 02 00")), framed(Bytes(16, 0xC0))});
  device(Bytes(from_chip.begin(), from_chip.begin() + 13));
  device(Bytes(from_chip.begin() + 13, from_chip.end()));
  EXPECT_EQ(take_tool_output(), from_chip);
  // The tool's acknowledgements never reach the chip: the far server gave its own.
  const Bytes acks = concat({read_ack(4), read_ack(8)});
  tool(Bytes(acks.begin(), acks.begin() + 3));
  tool(Bytes(acks.begin() + 3, acks.end()));
  EXPECT_TRUE(take_upstream().empty());
  EXPECT_EQ(accelerator.counters().reads_streamed, 1u);

  // Afterwards everything is as before: a request goes to the chip, its reply to the tool.
  const Bytes md5 =
      request(Op::spi_flash_md5, from_hex("00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00"));
  tool(md5);
  EXPECT_EQ(take_plain_upstream(), md5);
  device(reply(Op::spi_flash_md5, 0, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::spi_flash_md5, 0, stub_ok));
}

TEST_F(EspAcceleratorTest, ReadDataInTheReplysChunkIsNeverTakenForAPacket) {
  accelerator.set_far_features(pe::feature_server_read_acks);
  tool(read_flash_request(12));
  take_upstream();
  // The data frame is a plausible WRITE_REG reply; taken for one, it would become the model
  // for answering register writes ahead.
  const Bytes lookalike = reply(Op::write_reg, 0, stub_ok);
  const Bytes from_chip =
      concat({reply(Op::read_flash, 0, stub_ok), lookalike, framed(Bytes(16, 0xAA))});
  device(from_chip);
  EXPECT_EQ(take_tool_output(), from_chip);
  tool(read_ack(12));
  const Bytes write = write_reg_request(0x3FF42000, 1);
  tool(write);
  EXPECT_TRUE(take_tool_output().empty());  // not answered here: the chip has not answered one
  EXPECT_EQ(take_plain_upstream(), write);
}

TEST_F(EspAcceleratorTest, AReadPassesAsItIsWhenTheFarServerDoesNotAcknowledgeReads) {
  tool(read_flash_request(4));
  EXPECT_EQ(take_plain_upstream(), read_flash_request(4));
  device(concat({reply(Op::read_flash, 0, stub_ok), framed(from_hex("01 02 03 04"))}));
  take_tool_output();
  tool(read_ack(4));
  EXPECT_EQ(take_plain_upstream(), read_ack(4));
}

TEST_F(EspAcceleratorTest, AToolThatGivesAReadUpIsHeardAgainAtItsNextRequest) {
  accelerator.set_far_features(pe::feature_server_read_acks);
  tool(read_flash_request(8));
  take_upstream();
  device(concat({reply(Op::read_flash, 0, stub_ok), framed(from_hex("01 02 03 04"))}));
  take_tool_output();
  // The far server gave the read up (the chip went silent); the tool times out and moves on.
  accelerator.on_report(pe::BatchAborted{.id = 1, .index = 0, .reason = pe::AbortReason::timeout});
  const Bytes next = request(Op::read_reg, from_hex("00 10 00 40"));
  tool(concat({read_ack(4), next}));
  EXPECT_EQ(take_plain_upstream(), next);
  // The chip's bytes are packets again.
  device(reply(Op::read_reg, 7, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::read_reg, 7, stub_ok));
}

TEST_F(EspAcceleratorTest, AFailedReadBringsNoDataAndNoAcknowledgements) {
  accelerator.set_far_features(pe::feature_server_read_acks);
  tool(read_flash_request(8));
  take_upstream();
  device(reply(Op::read_flash, 0, from_hex("01 05")));
  EXPECT_EQ(take_tool_output(), reply(Op::read_flash, 0, from_hex("01 05")));
  const Bytes next = request(Op::read_reg, from_hex("00 10 00 40"));
  tool(next);
  EXPECT_EQ(take_plain_upstream(), next);
}

Bytes slow_read(std::uint32_t offset) {
  return request(Op::read_flash_slow,
                 esp::encode_body(esp::RegionRequest{.offset = offset, .size = 64}));
}

Bytes slow_read_reply(std::uint32_t offset, const Bytes& status = stub_ok) {
  Bytes data(64, static_cast<Byte>(offset / 64));
  data.insert(data.end(), status.begin(), status.end());
  return reply(Op::read_flash_slow, 0, data);
}

// The SLIP frames among upstream items (data runs), in order.
std::vector<Bytes> frames_in(const std::vector<Upstream>& items) {
  std::vector<Bytes> frames;
  for (const auto& item : items) {
    if (const auto* data = std::get_if<ByteBuffer>(&item)) frames.push_back(*data);
  }
  return frames;
}

TEST_F(EspAcceleratorTest, SequentialSlowReadsAreReadAheadAndAnsweredFromTheChipsReplies) {
  tool(slow_read(0));  // one read alone is no pattern: it goes as it is
  EXPECT_EQ(frames_in(take_upstream()), std::vector<Bytes>{slow_read(0)});
  device(slow_read_reply(0));
  EXPECT_EQ(take_tool_output(), slow_read_reply(0));

  // The next one continues it: it and the three after it (the window at no round trip) go
  // to the chip in a batch, as esptool would send them.
  tool(slow_read(64));
  EXPECT_EQ(frames_in(take_upstream()),
            (std::vector<Bytes>{slow_read(64), slow_read(128), slow_read(192), slow_read(256)}));
  device(concat({slow_read_reply(64), slow_read_reply(128), slow_read_reply(192)}));
  EXPECT_EQ(take_tool_output(), slow_read_reply(64));  // only what the tool asked for

  tool(slow_read(128));
  EXPECT_EQ(take_tool_output(), slow_read_reply(128));  // at once, the chip's own reply
  // Topped up: four not taken by the tool again.
  EXPECT_EQ(frames_in(take_upstream()), (std::vector<Bytes>{slow_read(320), slow_read(384)}));
  tool(slow_read(192));
  EXPECT_EQ(take_tool_output(), slow_read_reply(192));
  EXPECT_EQ(frames_in(take_upstream()), std::vector<Bytes>{slow_read(448)});
  EXPECT_EQ(accelerator.counters().reads_ahead, 2u);

  // The tool goes elsewhere: what was read for it is swallowed, its request waits behind.
  const Bytes read_reg = request(Op::read_reg, from_hex("00 10 00 40"));
  tool(read_reg);
  const auto up = take_upstream();
  ASSERT_FALSE(up.empty());
  EXPECT_EQ(std::get<pe::Message>(up.back()), pe::Message(pe::BatchEnd{1}));
  EXPECT_EQ(frames_in(up).back(), read_reg);
  device(concat(
      {slow_read_reply(256), slow_read_reply(320), slow_read_reply(384), slow_read_reply(448)}));
  EXPECT_TRUE(take_tool_output().empty());
  device(reply(Op::read_reg, 7, stub_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::read_reg, 7, stub_ok));
}

TEST_F(EspAcceleratorTest, AFailedSlowReadIsGivenWhenAskedForAndNothingMoreIsReadAhead) {
  tool(slow_read(0));
  device(slow_read_reply(0));
  tool(slow_read(64));
  take_upstream();
  take_tool_output();
  device(concat({slow_read_reply(64), slow_read_reply(128, from_hex("01 05"))}));
  EXPECT_EQ(take_tool_output(), slow_read_reply(64));
  // The far server dropped the rest of the batch; the batch is ended here too.
  const auto up = take_upstream();
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(std::get<pe::Message>(up[0]), pe::Message(pe::BatchEnd{1}));
  tool(slow_read(128));
  EXPECT_EQ(take_tool_output(), slow_read_reply(128, from_hex("01 05")));
  // Whatever the tool asks next goes to the chip as it is, alone.
  tool(slow_read(192));
  EXPECT_EQ(frames_in(take_upstream()), std::vector<Bytes>{slow_read(192)});
}

TEST_F(EspAcceleratorTest, TheReadAheadCoversTheRoundTripWithinTheBudget) {
  accelerator.set_baud(921600);
  accelerator.set_round_trip(std::chrono::milliseconds(300));
  tool(slow_read(0));
  device(slow_read_reply(0));
  tool(slow_read(64));
  const auto many = frames_in(take_upstream()).size();
  EXPECT_GT(many, 300u);  // about 1 ms each on the wire
  EXPECT_LE(many, 512u);
  accelerator.on_reset();
  accelerator.set_round_trip(std::chrono::milliseconds(1800));  // no time left for any
  tool(slow_read(0));
  device(slow_read_reply(0));
  tool(slow_read(64));
  const auto alone = frames_in(take_upstream());  // one run: no batch
  EXPECT_EQ(alone, (std::vector<Bytes>{concat({slow_read(0), slow_read(64)})}));
}

Bytes write_reg_request(std::uint32_t address, std::uint32_t value) {
  ByteBuffer body;
  for (const std::uint32_t word : {address, value, 0xFFFFFFFFu, 0u}) esp::append_u32(body, word);
  return request(Op::write_reg, body);
}

TEST_F(EspAcceleratorTest, RomRegisterWritesAreAnsweredAheadWithTheValueOfTheLastRead) {
  const Bytes rom_ok = from_hex("00 00 00 00");  // the ESP32 ROM's four status bytes
  // The first write of the loader passes: its reply is the model.
  tool(write_reg_request(0x3FF42000, 1));
  take_upstream();
  device(reply(Op::write_reg, 0x1234, rom_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::write_reg, 0x1234, rom_ok));
  // A read the tool waits for; its value stays in the ROM's replies.
  tool(request(Op::read_reg, from_hex("00 20 f4 3f")));
  take_upstream();
  device(reply(Op::read_reg, 0xABCD, rom_ok));
  EXPECT_EQ(take_tool_output(), reply(Op::read_reg, 0xABCD, rom_ok));

  tool(write_reg_request(0x3FF42004, 2));
  tool(write_reg_request(0x3FF42008, 3));
  EXPECT_EQ(take_tool_output(),
            concat({reply(Op::write_reg, 0xABCD, rom_ok), reply(Op::write_reg, 0xABCD, rom_ok)}));
  const auto up = take_upstream();
  EXPECT_EQ(std::get<pe::Message>(up.front()), pe::Message(pe::BatchBegin{1}));
  EXPECT_EQ(accelerator.counters().registers_ahead, 2u);
  // A read waits behind them, in the same batch, and its reply passes.
  tool(request(Op::read_reg, from_hex("00 20 f4 3f")));
  EXPECT_EQ(std::get<pe::Message>(take_upstream().back()), pe::Message(pe::BatchEnd{1}));
  device(concat({reply(Op::write_reg, 0xABCD, rom_ok), reply(Op::write_reg, 0xABCD, rom_ok),
                 reply(Op::read_reg, 0x77, rom_ok)}));
  EXPECT_EQ(take_tool_output(), reply(Op::read_reg, 0x77, rom_ok));
  EXPECT_EQ(accelerator.counters().confirmed, 2u);
}

// The stub has answered one register write: the model for the next.
void EspAcceleratorTest::learn_stub_register_write() {
  tool(write_reg_request(0x3FF42000, 1));
  device(reply(Op::write_reg, 0, stub_ok));
  take_tool_output();
  take_upstream();
}

TEST_F(EspAcceleratorTest, ARegisterWriteTheChipFailsIsSentAgainLikeABlock) {
  learn_stub_register_write();
  tool(write_reg_request(0x3FF42004, 2));
  EXPECT_EQ(take_tool_output(), reply(Op::write_reg, 0, stub_ok));
  take_upstream();
  device(reply(Op::write_reg, 0, from_hex("01 05")));
  EXPECT_EQ(frames_in(take_upstream()), std::vector<Bytes>{write_reg_request(0x3FF42004, 2)});
  EXPECT_EQ(accelerator.counters().resent, 1u);
}

TEST_F(EspAcceleratorTest, EfuseWritesAreNeverAnsweredAhead) {
  learn_stub_register_write();
  tool(write_reg_request(esp::chips().front().efuse_base, 1));  // a burn is being set up
  EXPECT_TRUE(take_tool_output().empty());
  EXPECT_EQ(take_plain_upstream(), write_reg_request(esp::chips().front().efuse_base, 1));
}

TEST(EspAcceleratorBaudTest, ARawFrontFollowsTheChipsBaudOnceItsReplyCame) {
  EspAccelerator accelerator({.follows_baud_changes = true});
  const TimePoint now{};
  accelerator.from_tool(request(Op::change_baudrate, from_hex("00 10 0e 00 00 00 00 00")), now);
  EXPECT_FALSE(accelerator.next_baud());  // not before the chip answered at the old rate
  accelerator.from_device(reply(Op::change_baudrate, 0, from_hex("00 00 00 00")), now);
  EXPECT_EQ(accelerator.next_baud(), 921600u);
  EXPECT_FALSE(accelerator.next_baud());

  // A refused change changes nothing.
  accelerator.from_tool(request(Op::change_baudrate, from_hex("00 08 07 00 00 10 0e 00")), now);
  accelerator.from_device(reply(Op::change_baudrate, 0, from_hex("01 05 00 00")), now);
  EXPECT_FALSE(accelerator.next_baud());
}

TEST(EspAcceleratorBaudTest, AnRfc2217ToolChangesTheBaudItself) {
  EspAccelerator accelerator;
  const TimePoint now{};
  accelerator.from_tool(request(Op::change_baudrate, from_hex("00 10 0e 00 00 00 00 00")), now);
  accelerator.from_device(reply(Op::change_baudrate, 0, from_hex("00 00 00 00")), now);
  EXPECT_FALSE(accelerator.next_baud());
}

TEST(EspAcceleratorBaudTest, TheEsp32RomsSkewedRateIsRoundedToTheStandardOne) {
  EXPECT_EQ(nearest_standard_baud(921600), 921600u);
  EXPECT_EQ(nearest_standard_baud(946183), 921600u);    // +2.7 %
  EXPECT_EQ(nearest_standard_baud(449000), 460800u);    // -2.6 %
  EXPECT_EQ(nearest_standard_baud(1234567), 1234567u);  // none near: as asked
}

}  // namespace
}  // namespace ttynet::forward
