#include "ttynet/server/frame_pacer.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "wire_bytes.hpp"

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;
namespace pe = rfc2217::paced_esp;
using esp::Op;
using ttynet::test::Bytes;
using ttynet::test::hex;
using Strings = std::vector<std::string>;

Bytes request_frame(Op op, const Bytes& data = {}) {
  ByteBuffer packet;
  esp::append_request(packet, op, data);
  return esp::slip::encode_frame(packet);
}

// A reply whose data is just its status bytes.
Bytes reply_frame(Op op, const Bytes& status = {0x00, 0x00}) {
  ByteBuffer packet;
  esp::append_response(packet, op, 0, status);
  return esp::slip::encode_frame(packet);
}

pe::FrameInfo info_for(Op op, std::chrono::milliseconds timeout = 3000ms, Byte replies = 1,
                       Byte status_length = 2) {
  return {.opcode = static_cast<Byte>(op),
          .status_length = status_length,
          .timeout = timeout,
          .replies = replies};
}

std::string describe(const FramePacer::Report& report) {
  if (const auto* done = std::get_if<pe::BatchDone>(&report)) {
    return fmt::format("done {} frames={}", done->id, done->frames);
  }
  const auto& aborted = std::get<pe::BatchAborted>(report);
  std::string text =
      fmt::format("aborted {} at {}: {}", aborted.id, aborted.index, pe::to_string(aborted.reason));
  if (aborted.status_size > 0) text += " [" + hex(aborted.status_bytes()) + "]";
  return text;
}

// Drives a pacer as the session does: the device's writes take no time, `now` is set by
// the test.
class FramePacerTest : public ::testing::Test {
 protected:
  // A frame announced and sent in the client's stream.
  void client_frame(const Bytes& bytes, const pe::FrameInfo& info) {
    ASSERT_TRUE(pacer_.receive(info));
    pacer_.receive_data(bytes);
  }
  void client_frame(Op op, const Bytes& data = {}) {
    client_frame(request_frame(op, data), info_for(op));
  }
  // Writes whatever the pacer releases now; the hex of each frame written.
  Strings release() {
    Strings written;
    while (const std::optional<ByteView> frame = pacer_.next_frame()) {
      written.push_back(hex(*frame));
      pacer_.frame_written(now_);
    }
    return written;
  }
  Strings reports() {
    Strings all;
    while (const auto report = pacer_.next_report()) all.push_back(describe(*report));
    return all;
  }
  void device_sends(const Bytes& bytes) { pacer_.receive_from_device(bytes); }

  FramePacer pacer_;
  TimePoint now_{};
};

TEST_F(FramePacerTest, ReleasesTheFirstFrameAtOnceAndEachNextOnlyAfterTheReplyBefore) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{7}));
  EXPECT_TRUE(pacer_.takes_data());
  client_frame(Op::flash_data, {0x01});
  client_frame(Op::flash_data, {0x02});
  client_frame(Op::flash_end);
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{7}));
  EXPECT_FALSE(pacer_.takes_data());

  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_data, {0x01}))});
  EXPECT_TRUE(release().empty());  // waits for the device
  device_sends(reply_frame(Op::flash_data));
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_data, {0x02}))});
  device_sends(reply_frame(Op::flash_data));
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_end))});
  EXPECT_TRUE(reports().empty());
  EXPECT_TRUE(pacer_.is_active());
  device_sends(reply_frame(Op::flash_end));
  EXPECT_EQ(reports(), Strings{"done 7 frames=3"});
  EXPECT_FALSE(pacer_.is_active());
  EXPECT_FALSE(pacer_.deadline());
}

TEST_F(FramePacerTest, SyncWaitsForAllEightReplies) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(request_frame(Op::sync), info_for(Op::sync, 100ms, 8));
  client_frame(Op::read_reg);
  pacer_.receive(pe::BatchEnd{1});
  EXPECT_EQ(release().size(), 1u);
  for (int reply = 0; reply < 7; ++reply) device_sends(reply_frame(Op::sync));
  EXPECT_TRUE(release().empty());
  device_sends(reply_frame(Op::sync));
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::read_reg))});
}

TEST_F(FramePacerTest, CountsOnlyRepliesToTheReleasedOpcode) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::read_reg);
  client_frame(Op::flash_end);
  pacer_.receive(pe::BatchEnd{1});
  release();
  const Bytes boot_text = ttynet::test::from_hex("65 74 73 20 4a 75 6e 0d 0a");  // "ets Jun\r\n"
  device_sends(boot_text);
  device_sends(reply_frame(Op::sync));                 // another opcode
  device_sends(request_frame(Op::read_reg));           // not a response
  device_sends(esp::slip::encode_frame(Bytes{0x01}));  // too short to be one
  EXPECT_TRUE(release().empty());
  // The real reply, split anywhere.
  const Bytes reply = reply_frame(Op::read_reg);
  device_sends(Bytes(reply.begin(), reply.begin() + 3));
  EXPECT_TRUE(release().empty());
  device_sends(Bytes(reply.begin() + 3, reply.end()));
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_end))});
  EXPECT_TRUE(reports().empty());
}

TEST_F(FramePacerTest, AFailedStatusAbortsWithItsStatusBytesAndReleasesNothingMore) {
  pacer_.receive(pe::BatchBegin{3});
  client_frame(Op::flash_begin);
  client_frame(request_frame(Op::flash_data, {0xAA}), info_for(Op::flash_data, 3000ms, 1, 4));
  client_frame(Op::flash_data, {0xBB});
  pacer_.receive(pe::BatchEnd{3});
  release();
  device_sends(reply_frame(Op::flash_begin));
  release();
  device_sends(reply_frame(Op::flash_data, {0x01, 0x05, 0x00, 0x00}));  // ROM: invalid message
  EXPECT_EQ(reports(), Strings{"aborted 3 at 1: failed status [01 05 00 00]"});
  EXPECT_TRUE(release().empty());
  device_sends(reply_frame(Op::flash_data));
  EXPECT_TRUE(release().empty());
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(pacer_.is_active());
}

TEST_F(FramePacerTest, AReplyTooShortForItsStatusIsAFailure) {
  pacer_.receive(pe::BatchBegin{3});
  client_frame(request_frame(Op::read_reg), info_for(Op::read_reg, 3000ms, 1, 4));
  release();
  device_sends(reply_frame(Op::read_reg, {0x00, 0x00}));
  EXPECT_EQ(reports(), Strings{"aborted 3 at 0: failed status [00 00]"});
}

TEST_F(FramePacerTest, TimesOutAtTheDeadlineCountedFromTheWriteAndNotBefore) {
  pacer_.receive(pe::BatchBegin{5});
  client_frame(request_frame(Op::erase_region), info_for(Op::erase_region, 2500ms));
  client_frame(Op::flash_end);
  pacer_.receive(pe::BatchEnd{5});
  EXPECT_FALSE(pacer_.deadline());
  now_ += 10s;
  release();
  ASSERT_TRUE(pacer_.deadline());
  EXPECT_EQ(*pacer_.deadline(), now_ + 2500ms);
  pacer_.expire(now_ + 2500ms - 1ns);
  EXPECT_TRUE(reports().empty());
  pacer_.expire(now_ + 2500ms);
  EXPECT_EQ(reports(), Strings{"aborted 5 at 0: timeout"});
  EXPECT_FALSE(pacer_.deadline());
  EXPECT_TRUE(release().empty());
}

TEST_F(FramePacerTest, CountsRepliesThatCameBeforeTheWriteWasReported) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::read_reg);
  pacer_.receive(pe::BatchEnd{1});
  ASSERT_TRUE(pacer_.next_frame());
  device_sends(reply_frame(Op::read_reg));
  EXPECT_TRUE(reports().empty());
  pacer_.frame_written(now_);
  EXPECT_EQ(reports(), Strings{"done 1 frames=1"});
  EXPECT_FALSE(pacer_.deadline());
}

TEST_F(FramePacerTest, DropsAnAbortedBatchUpToItsEndAndRunsTheNextBatch) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  release();
  device_sends(reply_frame(Op::flash_data, {0xC1, 0x00}));  // stub: bad checksum
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: failed status [c1 00]"});
  // The rest of batch 1 still arriving is dropped, protocol errors included.
  EXPECT_TRUE(pacer_.takes_data());
  client_frame(Op::flash_data, {0x02});
  pacer_.receive_data(Bytes{0x41});
  pacer_.receive(pe::BatchEnd{1});
  EXPECT_TRUE(release().empty());
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(pacer_.is_active());

  pacer_.receive(pe::BatchBegin{2});
  client_frame(Op::flash_data, {0x01});
  pacer_.receive(pe::BatchEnd{2});
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_data, {0x01}))});
  device_sends(reply_frame(Op::flash_data));
  EXPECT_EQ(reports(), Strings{"done 2 frames=1"});
}

TEST_F(FramePacerTest, AbortingAQueuedBatchDropsItsFramesButNotTheNextBatch) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  client_frame(Op::flash_data, {0x02});
  pacer_.receive(pe::BatchEnd{1});
  pacer_.receive(pe::BatchBegin{2});  // queues behind batch 1: not nesting
  client_frame(Op::flash_end);
  pacer_.receive(pe::BatchEnd{2});
  EXPECT_TRUE(reports().empty());
  release();
  pacer_.expire(now_ + 3s);
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: timeout"});
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::flash_end))});
  device_sends(reply_frame(Op::flash_end));
  EXPECT_EQ(reports(), Strings{"done 2 frames=1"});
}

TEST_F(FramePacerTest, RunsTwoBatchesBackToBackAndCountsTheirFrames) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_begin);
  client_frame(Op::flash_data, {0x01});
  pacer_.receive(pe::BatchEnd{1});
  pacer_.receive(pe::BatchBegin{2});
  client_frame(Op::flash_data, {0x02});
  // Batch 2's frame waits for batch 1's last reply, even while batch 2 is still open.
  Strings written = release();
  device_sends(reply_frame(Op::flash_begin));
  for (std::string& frame : release()) written.push_back(std::move(frame));
  device_sends(reply_frame(Op::flash_data));
  EXPECT_EQ(reports(), Strings{"done 1 frames=2"});
  for (std::string& frame : release()) written.push_back(std::move(frame));
  device_sends(reply_frame(Op::flash_data));
  EXPECT_TRUE(reports().empty());  // batch 2 has not ended yet
  pacer_.receive(pe::BatchEnd{2});
  EXPECT_EQ(reports(), Strings{"done 2 frames=1"});
  EXPECT_EQ(written, (Strings{hex(request_frame(Op::flash_begin)),
                              hex(request_frame(Op::flash_data, {0x01})),
                              hex(request_frame(Op::flash_data, {0x02}))}));
}

TEST_F(FramePacerTest, AnEmptyBatchIsDoneAtItsEnd) {
  pacer_.receive(pe::BatchBegin{9});
  pacer_.receive(pe::BatchEnd{9});
  EXPECT_EQ(reports(), Strings{"done 9 frames=0"});
}

TEST_F(FramePacerTest, TakesFramesSplitAnywhereWithExtraLeadingEnds) {
  pacer_.receive(pe::BatchBegin{1});
  ASSERT_TRUE(pacer_.receive(info_for(Op::read_reg)));
  const Bytes frame = request_frame(Op::read_reg, {0xC0, 0xDB});  // escaped inside
  pacer_.receive_data(Bytes{0xC0, 0xC0});
  for (const Byte byte : frame) pacer_.receive_data(Bytes{byte});
  pacer_.receive(pe::BatchEnd{1});
  EXPECT_EQ(release(), Strings{hex(frame)});
  EXPECT_TRUE(reports().empty());
}

TEST_F(FramePacerTest, BytesOutsideAnAnnouncedFrameAreAProtocolError) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  pacer_.receive_data(Bytes{0x0D, 0x0A});  // between frames
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: protocol error"});
  EXPECT_TRUE(release().empty());  // nothing of it reaches the device

  pacer_.receive(pe::BatchEnd{1});
  pacer_.receive(pe::BatchBegin{2});
  ASSERT_TRUE(pacer_.receive(info_for(Op::flash_data)));
  pacer_.receive_data(Bytes{0x01, 0xC0});  // the frame must open with END
  EXPECT_EQ(reports(), Strings{"aborted 2 at 0: protocol error"});
}

TEST_F(FramePacerTest, ABatchBeginInsideABatchAbortsBothUntilTheNextEnd) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  pacer_.receive(pe::BatchBegin{2});
  EXPECT_EQ(reports(),
            (Strings{"aborted 1 at 0: protocol error", "aborted 2 at 0: protocol error"}));
  client_frame(Op::flash_data, {0x02});
  pacer_.receive(pe::BatchEnd{2});
  EXPECT_FALSE(pacer_.takes_data());
  EXPECT_TRUE(release().empty());
  EXPECT_FALSE(pacer_.is_active());
}

TEST_F(FramePacerTest, BadFrameInfosAndMisplacedEndsAreProtocolErrors) {
  const auto expect_protocol_error = [this](pe::BatchId id, const pe::Message& message) {
    pacer_.receive(pe::BatchBegin{id});
    pacer_.receive(message);
    EXPECT_EQ(reports(), Strings{fmt::format("aborted {} at 0: protocol error", id)});
    pacer_.receive(pe::BatchEnd{id});
  };
  expect_protocol_error(1, info_for(Op::flash_data, 0ms));           // no time to answer
  expect_protocol_error(2, info_for(Op::flash_data, 3000ms, 1, 3));  // status length 3
  expect_protocol_error(3, info_for(Op::flash_data, 3000ms, 0));     // no replies
  expect_protocol_error(4, pe::BatchEnd{5});                         // another batch's end

  pacer_.receive(pe::BatchBegin{6});
  pacer_.receive(info_for(Op::flash_data));
  pacer_.receive_data(Bytes{0xC0, 0x00});
  pacer_.receive(pe::BatchEnd{6});  // inside the frame
  EXPECT_EQ(reports(), Strings{"aborted 6 at 0: protocol error"});
  EXPECT_FALSE(pacer_.takes_data());

  pacer_.receive(pe::BatchBegin{7});
  pacer_.receive_undecodable();
  EXPECT_EQ(reports(), Strings{"aborted 7 at 0: protocol error"});
}

TEST_F(FramePacerTest, IgnoresMessagesThatBelongToNoBatch) {
  EXPECT_FALSE(pacer_.receive(info_for(Op::flash_data)));
  EXPECT_FALSE(pacer_.receive(pe::BatchEnd{1}));
  EXPECT_FALSE(pacer_.receive(pe::BatchDone{1, 1}));
  pacer_.receive_undecodable();
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(pacer_.is_active());
}

TEST_F(FramePacerTest, StopsWantingInputAtTheQueueLimitAndWantsItAgainWhenDrained) {
  const Bytes block(0x4000, 0x55);
  const Bytes frame = request_frame(Op::flash_data, block);
  pacer_.receive(pe::BatchBegin{1});
  std::size_t frames = 0;
  while (pacer_.wants_input()) {
    client_frame(frame, info_for(Op::flash_data));
    ++frames;
    ASSERT_LT(frames, 100u);
  }
  pacer_.receive(pe::BatchEnd{1});
  // Full at the limit, not long before it.
  EXPECT_EQ(frames, pe::max_queued_bytes / frame.size() + 1);
  EXPECT_EQ(release().size(), 1u);
  EXPECT_TRUE(pacer_.wants_input());  // one frame left the queue
  for (std::size_t answered = 1; answered < frames; ++answered) {
    device_sends(reply_frame(Op::flash_data));
    EXPECT_EQ(release().size(), 1u);
  }
  device_sends(reply_frame(Op::flash_data));
  EXPECT_EQ(reports(), Strings{fmt::format("done 1 frames={}", frames)});
  EXPECT_TRUE(pacer_.wants_input());
}

TEST_F(FramePacerTest, AFrameLargerThanTheQueueLimitAborts) {
  pacer_.receive(pe::BatchBegin{1});
  pacer_.receive(info_for(Op::flash_data));
  pacer_.receive_data(Bytes{0xC0});
  const Bytes chunk(16 * 1024, 0x55);
  for (int read = 0; read < 20 && pacer_.is_active(); ++read) pacer_.receive_data(chunk);
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: queue limit"});
  pacer_.receive_data(chunk);
  EXPECT_TRUE(pacer_.wants_input());  // the frame's bytes were dropped
  EXPECT_FALSE(pacer_.is_active());
}

TEST_F(FramePacerTest, ReadsOnWhenOnlyAFrameBeingReceivedFillsTheQueue) {
  pacer_.receive(pe::BatchBegin{1});
  pacer_.receive(info_for(Op::flash_data));
  pacer_.receive_data(Bytes{0xC0});
  pacer_.receive_data(Bytes(pe::max_queued_bytes - 2, 0x55));  // with the END: just below
  EXPECT_TRUE(pacer_.wants_input());  // nothing queued could drain: its end must be read
  pacer_.receive_data(Bytes{0xC0});
  EXPECT_EQ(release().size(), 1u);
  EXPECT_TRUE(reports().empty());
}

TEST_F(FramePacerTest, AbortAllStopsEveryBatchAndDropsTheOpenOneUpToItsEnd) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  client_frame(Op::flash_data, {0x02});
  pacer_.receive(pe::BatchEnd{1});
  pacer_.receive(pe::BatchBegin{2});
  client_frame(Op::flash_data, {0x03});
  release();
  device_sends(reply_frame(Op::flash_data));
  pacer_.abort_all(pe::AbortReason::line_change);
  EXPECT_EQ(reports(), (Strings{"aborted 1 at 1: line change or reset",
                                "aborted 2 at 0: line change or reset"}));
  EXPECT_TRUE(release().empty());
  EXPECT_FALSE(pacer_.deadline());
  client_frame(Op::flash_data, {0x04});  // batch 2's rest: dropped
  pacer_.receive(pe::BatchEnd{2});
  EXPECT_TRUE(release().empty());
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(pacer_.takes_data());
}

// A stub READ_FLASH of `length` bytes in packets of `packet` bytes (esptool asks for 64 bytes
// in flight), announced for acknowledgement by the server.
Bytes read_flash_frame(std::uint32_t length, std::uint32_t packet = 4) {
  ByteBuffer body;
  for (const std::uint32_t word : {0x1000u, length, packet, 64u}) esp::append_u32(body, word);
  return request_frame(Op::read_flash, body);
}

pe::FrameInfo read_info(std::chrono::milliseconds timeout = 3000ms) {
  auto info = info_for(Op::read_flash, timeout);
  info.server_acks_read = true;
  return info;
}

Bytes ack_frame(std::uint32_t count) {
  ByteBuffer word;
  esp::append_u32(word, count);
  return esp::slip::encode_frame(word);
}

TEST_F(FramePacerTest, AcknowledgesEachReadDataFrameWithTheRunningCountUntilTheDigest) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{1}));
  client_frame(read_flash_frame(10), read_info());
  client_frame(Op::spi_flash_md5);
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{1}));

  EXPECT_EQ(release(), Strings{hex(read_flash_frame(10))});
  EXPECT_TRUE(release().empty());  // nothing before the reply
  device_sends(reply_frame(Op::read_flash));
  EXPECT_TRUE(release().empty());  // the reply alone asks for nothing
  device_sends(esp::slip::encode_frame(Bytes{1, 2, 3, 4}));
  EXPECT_EQ(release(), Strings{hex(ack_frame(4))});
  // Two frames before the first acknowledgement went out: one count each, in one write.
  device_sends(esp::slip::encode_frame(Bytes{5, 6, 7, 8}));
  device_sends(esp::slip::encode_frame(Bytes{0x01, static_cast<Byte>(Op::read_flash)}));
  Bytes both = ack_frame(8);
  append(both, ack_frame(10));
  EXPECT_EQ(release(), Strings{hex(both)});
  EXPECT_TRUE(reports().empty());
  // The digest answers the READ_FLASH; the next frame goes.
  device_sends(esp::slip::encode_frame(Bytes(16, 0xAA)));
  EXPECT_EQ(release(), Strings{hex(request_frame(Op::spi_flash_md5))});
  device_sends(reply_frame(Op::spi_flash_md5));
  EXPECT_EQ(reports(), Strings{"done 1 frames=2"});
}

TEST_F(FramePacerTest, AnEmptyAcknowledgedReadIsAnsweredByItsDigest) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{1}));
  client_frame(read_flash_frame(0), read_info());
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{1}));
  ASSERT_TRUE(pacer_.next_frame());
  // Reply and digest before the write was reported complete.
  device_sends(reply_frame(Op::read_flash));
  device_sends(esp::slip::encode_frame(Bytes(16, 0xAA)));
  pacer_.frame_written(now_);
  EXPECT_TRUE(release().empty());  // no acknowledgement for no data
  EXPECT_EQ(reports(), Strings{"done 1 frames=1"});
}

TEST_F(FramePacerTest, AReadWhoseDataStopsTimesOutFromTheLastAcknowledgement) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{1}));
  client_frame(read_flash_frame(8), read_info(500ms));
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{1}));
  release();
  device_sends(reply_frame(Op::read_flash));
  now_ += 400ms;
  device_sends(esp::slip::encode_frame(Bytes{1, 2, 3, 4}));
  release();  // the acknowledgement, written at 400 ms
  EXPECT_EQ(pacer_.deadline(), now_ + 500ms);
  pacer_.expire(now_ + 499ms);
  EXPECT_TRUE(reports().empty());
  pacer_.expire(now_ + 500ms);
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: timeout"});
  device_sends(esp::slip::encode_frame(Bytes{5, 6, 7, 8}));
  EXPECT_TRUE(release().empty());  // a read given up is not acknowledged further
}

TEST_F(FramePacerTest, AFailedReadReplyAbortsWithoutAcknowledgingAnything) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{1}));
  client_frame(read_flash_frame(8), read_info());
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{1}));
  release();
  device_sends(reply_frame(Op::read_flash, {0x01, 0x63}));
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: failed status [01 63]"});
  device_sends(esp::slip::encode_frame(Bytes{1, 2, 3, 4}));
  EXPECT_TRUE(release().empty());
}

TEST_F(FramePacerTest, AskingForReadAcknowledgementsOnAnythingButAReadIsAProtocolError) {
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{1}));
  auto info = info_for(Op::read_reg);
  info.server_acks_read = true;
  client_frame(request_frame(Op::read_reg, {0, 0, 0, 0}), info);
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: protocol error"});
  ASSERT_TRUE(pacer_.receive(pe::BatchEnd{1}));
  EXPECT_TRUE(release().empty());
  // A READ_FLASH too short to carry its length is no better.
  ASSERT_TRUE(pacer_.receive(pe::BatchBegin{2}));
  client_frame(request_frame(Op::read_flash, {0, 0, 0, 0}), read_info());
  EXPECT_EQ(reports(), Strings{"aborted 2 at 0: protocol error"});
}

TEST_F(FramePacerTest, AnAbortWhileAFrameIsBeingWrittenKeepsItsBytesUntilTheWriteEnds) {
  pacer_.receive(pe::BatchBegin{1});
  client_frame(Op::flash_data, {0x01});
  const std::optional<ByteView> frame = pacer_.next_frame();
  ASSERT_TRUE(frame);
  pacer_.abort_all(pe::AbortReason::device_gone);
  EXPECT_EQ(hex(*frame), hex(request_frame(Op::flash_data, {0x01})));
  pacer_.frame_written(now_);
  EXPECT_FALSE(pacer_.deadline());
  EXPECT_EQ(reports(), Strings{"aborted 1 at 0: device gone"});
}

}  // namespace
}  // namespace ttynet::server
