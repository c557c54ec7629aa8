// The strict chip: busy times of the flash work, the ROM's receive FIFO, the stubs' two
// receive buffers, and the faults a test can inject.

#include <gtest/gtest.h>

#include <algorithm>

#include "esp_test_support.hpp"
#include "sim_host.hpp"

namespace ttynet::esp {
namespace {

using namespace test;  // the host harness (sim_host.hpp)
using std::chrono::microseconds;

SimConfig strict(SimFaults faults = {}) {
  SimConfig config;
  config.busy_times = true;
  config.loader.faults = faults;
  return config;
}

// The ROM with its SPI flash attached, as esptool --no-stub leaves it.
Host strict_rom_host(SimFaults faults = {}) {
  Host host = download_mode_host("esp32", strict(faults));
  EXPECT_TRUE(status_of(host.command(Op::spi_attach, Bytes(8, 0)), 4).is_ok());
  return host;
}

Host strict_stub_host(const StubImage& image, SimFaults faults = {}) {
  Host host = download_mode_host("esp32", strict(faults));
  upload_stub(host, image);
  return host;
}

// Waits for the replies to come, in fake time.
std::vector<Bytes> replies_within(Host& host, Duration limit) {
  host.wait(limit);
  return host.take_frames();
}

TEST(SimStrict, RomErasesInFlashBeginBeforeItAnswers) {
  Host host = strict_rom_host();
  // 64 KiB at a 64 KiB boundary: one block erase, 150 ms.
  EXPECT_TRUE(host.exchange(Op::flash_begin, words({0x10000, 64, 0x400, 0x10000})).empty());
  EXPECT_TRUE(host.chip.is_busy());
  EXPECT_TRUE(replies_within(host, milliseconds(149)).empty());
  const auto frames = replies_within(host, milliseconds(1));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(status_of(Host::decode(frames[0]), 4).is_ok());
  EXPECT_FALSE(host.chip.is_busy());
}

TEST(SimStrict, RomProgramsABlockBeforeItAnswers) {
  Host host = strict_rom_host();
  host.exchange(Op::flash_begin, words({0x1000, 4, 0x400, 0}));
  host.wait(milliseconds(45));  // one sector erase
  host.take_frames();
  // 1 KiB is four 256-byte pages of 0.4 ms.
  EXPECT_TRUE(host.exchange(Op::flash_data, concat(words({0x400, 0, 0, 0}), pattern(0x400)),
                            checksum(pattern(0x400)))
                  .empty());
  EXPECT_TRUE(replies_within(host, microseconds(1599)).empty());
  EXPECT_EQ(replies_within(host, microseconds(1)).size(), 1u);
}

TEST(SimStrict, RomLosesInputBeyondItsFifoWhileBusy) {
  Host host = strict_rom_host();
  host.exchange(Op::flash_begin, words({0x10000, 64, 0x400, 0x10000}));  // busy 150 ms
  const Bytes block = test::data_request(Op::flash_data, 0, pattern(0x400));
  host.write(block);  // arrives while the ROM erases
  EXPECT_EQ(host.chip.counters().overrun_bytes, block.size() - 128);
  host.wait(milliseconds(200));
  EXPECT_EQ(host.take_frames().size(), 1u);  // FLASH_BEGIN's reply; the block is lost
  // A SYNC that fits the FIFO waits there and is answered when the erase is done.
  Host fresh = strict_rom_host();
  fresh.exchange(Op::flash_begin, words({0x10000, 64, 0x400, 0x20000}));
  fresh.write(test::request(Op::sync, sync_data()));
  EXPECT_TRUE(fresh.take_frames().empty());
  EXPECT_EQ(replies_within(fresh, milliseconds(200)).size(), 1u + 8u);
  EXPECT_EQ(fresh.chip.counters().overrun_bytes, 0u);
}

TEST(SimStrict, StubAnswersABlockOnReceiptThenWrites) {
  Host host = strict_stub_host(esp32_flasher_stub);
  host.command(Op::flash_begin, words({0x4000, 1, 0x4000, 0x10000, 0}));
  // The reply comes at once; then four sector erases and 64 pages keep the stub busy.
  EXPECT_EQ(host.data_command(Op::flash_data, 0, pattern(0x4000)).data, (Bytes{0, 0}));
  EXPECT_TRUE(host.chip.is_busy());
  host.wait(milliseconds(4 * 45) + microseconds(400 * 64 - 1));
  EXPECT_TRUE(host.chip.is_busy());
  host.wait(microseconds(1));
  EXPECT_FALSE(host.chip.is_busy());
}

TEST(SimStrict, EraseFlashAnswersWhenTheChipIsErased) {
  Host host = strict_stub_host(esp32_legacy_stub);
  EXPECT_TRUE(host.exchange(Op::erase_flash, {}).empty());
  EXPECT_TRUE(replies_within(host, milliseconds(9999)).empty());  // 4 MiB: 10 s
  EXPECT_EQ(replies_within(host, milliseconds(1)).size(), 1u);
}

// Three 16 KiB blocks sent back to back, as a client that does not wait for replies would.
struct PipelinedWrite {
  std::vector<Bytes> replies;
  SimCounters counters;
  Bytes flash;
};
PipelinedWrite pipeline_three_blocks(Host host) {
  host.command(Op::flash_begin, words({0xC000, 3, 0x4000, 0x10000}));
  Bytes burst;
  for (std::uint32_t seq = 0; seq < 3; ++seq) {
    const Bytes frame = test::data_request(Op::flash_data, seq, pattern(0x4000, seq + 1));
    burst.insert(burst.end(), frame.begin(), frame.end());
  }
  host.write(burst);
  host.wait(std::chrono::seconds(2));
  const ByteView flash = host.chip.flash().subspan(0x10000, 0xC000);
  return {host.take_frames(), host.chip.counters(), Bytes(flash.begin(), flash.end())};
}

Bytes expected_three_blocks() {
  Bytes all;
  for (std::uint32_t seq = 0; seq < 3; ++seq) {
    const Bytes block = pattern(0x4000, seq + 1);
    all.insert(all.end(), block.begin(), block.end());
  }
  return all;
}

TEST(SimStrict, FlasherStubDropsAThirdFrameWhileBothBuffersAreFull) {
  const PipelinedWrite result = pipeline_three_blocks(strict_stub_host(esp32_flasher_stub));
  ASSERT_EQ(result.replies.size(), 2u);  // block 2 came while blocks 0 and 1 held both buffers
  EXPECT_GT(result.counters.ignored_bytes, 0x4000u);
  EXPECT_NE(result.flash, expected_three_blocks());
  const Bytes expected = expected_three_blocks();
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + 0x8000, result.flash.begin()));
}

TEST(SimStrict, LegacyStubReceivesAThirdFrameIntoTheBufferItWritesFrom) {
  const PipelinedWrite result = pipeline_three_blocks(strict_stub_host(esp32_legacy_stub));
  // Block 1's reply never comes (block 2 replaced it); block 2's reply takes its place, and
  // block 0 was written from a buffer block 2 overwrote.
  ASSERT_EQ(result.replies.size(), 2u);
  EXPECT_EQ(result.counters.frames_lost, 1u);
  const Bytes expected = expected_three_blocks();
  EXPECT_FALSE(std::equal(expected.begin(), expected.begin() + 0x4000, result.flash.begin()));
}

TEST(SimStrict, WithoutBusyTimesTheSamePipelineGoesThrough) {
  Host host = download_mode_host("esp32");
  upload_stub(host, esp32_flasher_stub);
  const PipelinedWrite result = pipeline_three_blocks(std::move(host));
  EXPECT_EQ(result.replies.size(), 3u);
  EXPECT_EQ(result.flash, expected_three_blocks());
}

// A deliberately careless client: esptool's --no-stub write, but every block sent without
// waiting for the one before to be answered. A real ROM loses most of it; so does this one.
TEST(SimStrict, AClientThatPipelinesToTheRomFails) {
  Host host = strict_rom_host();
  const Bytes image = pattern(0x2000, 9);
  host.exchange(Op::flash_begin, words({0x2000, 8, 0x400, 0x10000}));
  host.wait(milliseconds(100));
  ASSERT_EQ(host.take_frames().size(), 1u);
  for (std::uint32_t seq = 0; seq < 8; ++seq) {
    host.write(
        test::data_request(Op::flash_data, seq, ByteView{image}.subspan(seq * 0x400, 0x400)));
  }
  host.wait(std::chrono::seconds(1));
  EXPECT_LT(host.take_frames().size(), 8u);  // the client waits for replies that never come
  EXPECT_GT(host.chip.counters().overrun_bytes, 0u);
  // What did reach the flash is not the image.
  const ByteView written = host.chip.flash().subspan(0x10000, image.size());
  EXPECT_FALSE(std::equal(image.begin(), image.end(), written.begin()));
}

TEST(SimFaults, FailBlockOnceThenTheRetryPasses) {
  SimFaults faults;
  faults.fail_block = 1;
  Host host =
      download_mode_host("esp32", make_config([&](SimConfig& c) { c.loader.faults = faults; }));
  host.command(Op::spi_attach, Bytes(8, 0));
  host.command(Op::flash_begin, words({0x800, 2, 0x400, 0}));
  const Bytes block = pattern(0x400);
  EXPECT_TRUE(status_of(host.data_command(Op::flash_data, 0, block), 4).is_ok());
  EXPECT_EQ(status_of(host.data_command(Op::flash_data, 1, block), 4),
            rom_status(RomError::flash_write_error));
  EXPECT_TRUE(status_of(host.data_command(Op::flash_data, 1, block), 4).is_ok());
}

TEST(SimFaults, FailBlockAlwaysFailsEveryAttempt) {
  Host host = download_mode_host("esp32", make_config([](SimConfig& c) {
                                   c.loader.faults.fail_block = 0;
                                   c.loader.faults.fail_block_always = true;
                                 }));
  host.command(Op::spi_attach, Bytes(8, 0));
  for (int write = 0; write < 2; ++write) {
    host.command(Op::flash_begin, words({0x400, 1, 0x400, 0}));
    for (int attempt = 0; attempt < 3; ++attempt) {
      EXPECT_EQ(status_of(host.data_command(Op::flash_data, 0, pattern(0x400)), 4),
                rom_status(RomError::flash_write_error));
    }
  }
}

TEST(SimFaults, StopAfterLeavesTheHostWaiting) {
  Host host = download_mode_host("esp32",
                                 make_config([](SimConfig& c) { c.loader.faults.stop_after = 2; }));
  EXPECT_EQ(host.exchange(Op::read_reg, words({0x40001000})).size(), 1u);
  EXPECT_EQ(host.exchange(Op::read_reg, words({0x40001000})).size(), 1u);
  EXPECT_TRUE(host.exchange(Op::read_reg, words({0x40001000})).empty());
  EXPECT_EQ(host.chip.counters().frames_unanswered, 1u);
  host.classic_reset();  // a reset brings it back, for two frames
  host.take_text();
  EXPECT_EQ(host.exchange(Op::read_reg, words({0x40001000})).size(), 1u);
}

TEST(SimFaults, CorruptReadInvertsOneByteAfterTheDigest) {
  Host host = download_mode_host("esp32", make_config([](SimConfig& c) {
                                   c.loader.faults.corrupt_read = 5;
                                   c.initial_flash = pattern(0x2000);
                                 }));
  upload_stub(host, esp32_flasher_stub);
  auto frames = host.exchange(Op::read_flash, words({0, 0x1000, 0x1000, 64}));
  ASSERT_EQ(frames.size(), 2u);
  Bytes expected = pattern(0x1000);
  const Md5Digest digest = esp::md5(expected);
  expected[5] ^= 0xFF;
  EXPECT_EQ(frames[1], expected);
  host.write(slip::encode_frame(words({0x1000})));
  frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], Bytes(digest.begin(), digest.end()));  // the host sees a mismatch
}

TEST(SimFaults, CorruptReadAlsoHitsTheRomsSlowRead) {
  Host host = download_mode_host("esp32", make_config([](SimConfig& c) {
                                   c.loader.faults.corrupt_read = 2;
                                   c.initial_flash = pattern(0x100);
                                 }));
  host.command(Op::spi_attach, Bytes(8, 0));
  Bytes expected = pattern(64);
  expected[2] ^= 0xFF;
  EXPECT_EQ(rom_read_flash(host, 0, 64), expected);
}

}  // namespace
}  // namespace ttynet::esp
