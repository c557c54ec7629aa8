// The two flasher stubs the simulated chip models, told apart by the uploaded image:
// esptool v4's legacy stub and esptool v5.3's esp-flasher-stub.

#include <gtest/gtest.h>

#include "esp_test_support.hpp"
#include "sim_host.hpp"
#include "ttynet/esp/stub_images.hpp"

namespace ttynet::esp {
namespace {

using namespace test;  // the host harness (sim_host.hpp)

// esptool v5.3.1's legacy stub (v1.11.1) for the ESP32, taken with --stub-version 1.
constexpr StubImage esp32_legacy_v1_11_stub{0x400BE000, 3540, 0x3FFDEBAC, 156, 0x400BE658};

Host stub_host(const StubImage& image, SimConfig config = {}) {
  Host host = download_mode_host("esp32", std::move(config));
  upload_stub(host, image);
  return host;
}

Bytes flash_begin_words(std::uint32_t size, std::uint32_t offset, bool with_encrypt_word) {
  const std::uint32_t blocks = (size + 0x3FFF) / 0x4000;
  Bytes data = words({size, blocks, 0x4000, offset});
  if (with_encrypt_word) {
    append_u32(data, 0);
  }
  return data;
}

TEST(StubImages, KnownImagesAndTheRuleForOthers) {
  const ChipInfo& esp32 = **find_chip("esp32");
  const ChipInfo& c3 = **find_chip("esp32c3");
  auto identify = [](const ChipInfo& chip, const StubImage& image) {
    const UploadedSegment segments[] = {{image.text_address, image.text_size},
                                        {image.data_address, image.data_size}};
    return identify_stub(chip, segments, image.entry);
  };
  EXPECT_EQ(identify(esp32, esp32_legacy_stub), StubFlavor::legacy);
  EXPECT_EQ(identify(esp32, esp32_legacy_v1_11_stub), StubFlavor::legacy_v1_10);
  EXPECT_EQ(identify(esp32, esp32_flasher_stub), StubFlavor::esp_flasher_stub);
  // esptool v4.8.1's legacy stub for the C3, and the ESP32's image on a C3 (unknown there).
  EXPECT_EQ(identify(c3, {0x40380000, 3868, 0x3FC96BB4, 160, 0x403806D0}), StubFlavor::legacy);
  EXPECT_EQ(identify(c3, esp32_legacy_stub), StubFlavor::esp_flasher_stub);
  EXPECT_EQ(identify(esp32, {0x400BE000, 3533, 0x3FFDEBA8, 156, 0x400BE5EC}),
            StubFlavor::esp_flasher_stub);

  EXPECT_EQ(parse_stub_flavor("legacy"), StubFlavor::legacy_v1_10);
  EXPECT_EQ(parse_stub_flavor("flasher"), StubFlavor::esp_flasher_stub);
  EXPECT_EQ(parse_stub_flavor("auto"), std::nullopt);
}

TEST(SimStub, TheUploadedImageChoosesTheDialectUnlessForced) {
  EXPECT_EQ(stub_host(esp32_legacy_stub).chip.loader().stub_flavor(), StubFlavor::legacy);
  EXPECT_EQ(stub_host(esp32_flasher_stub).chip.loader().stub_flavor(),
            StubFlavor::esp_flasher_stub);
  const Host forced = stub_host(esp32_flasher_stub, make_config([](SimConfig& config) {
                                  config.loader.stub = StubFlavor::legacy_v1_10;
                                }));
  EXPECT_EQ(forced.chip.loader().stub_flavor(), StubFlavor::legacy_v1_10);
}

TEST(SimStub, V5FlashBeginWithTheEncryptWordIsTakenByBothV5Stubs) {
  for (const StubImage& image : {esp32_flasher_stub, esp32_legacy_v1_11_stub}) {
    Host host = stub_host(image);
    for (const Op op : {Op::flash_begin, Op::flash_defl_begin}) {
      const Reply reply = host.command(op, flash_begin_words(0x1000, 0x10000, true));
      EXPECT_EQ(reply.data, (Bytes{0, 0})) << static_cast<int>(op);
    }
  }
  // esptool v4.8.1's stub knows four words only (the failure esptool v5 would see there).
  Host old = stub_host(esp32_legacy_stub);
  const Reply reply = old.command(Op::flash_begin, flash_begin_words(0x1000, 0x10000, true));
  EXPECT_EQ(reply.data, (Bytes{0xC0, 0x00}));
}

// esptool v5's write_flash: FLASH_DEFL_BEGIN with five words, 16 KiB blocks, then
// FLASH_DEFL_END(1) as the barrier that answers once the last block is written.
TEST(SimStub, FlasherStubWritesCompressedAndEndsWithTheBarrier) {
  Host host = stub_host(esp32_flasher_stub);
  const Bytes image = pattern(40000, 7);
  const Bytes compressed = compress(image);
  const std::uint32_t blocks = static_cast<std::uint32_t>((compressed.size() + 0x3FFF) / 0x4000);
  Bytes begin = words({static_cast<std::uint32_t>(image.size()), blocks, 0x4000, 0x10000, 0});
  EXPECT_EQ(host.command(Op::flash_defl_begin, begin).data, (Bytes{0, 0}));
  for (std::uint32_t seq = 0; seq < blocks; ++seq) {
    const ByteView chunk =
        ByteView{compressed}
            .subspan(seq * 0x4000)
            .first(std::min<std::size_t>(0x4000, compressed.size() - seq * 0x4000));
    if (seq + 1 == blocks) {
      // Before the last block the write is not complete: the barrier says so.
      EXPECT_EQ(host.command(Op::flash_defl_end, words({1})).data, (Bytes{0xC0, 0x00}));
    }
    EXPECT_EQ(host.data_command(Op::flash_defl_data, seq, chunk).data, (Bytes{0, 0}));
  }
  EXPECT_EQ(host.command(Op::flash_defl_end, words({1})).data, (Bytes{0, 0}));
  EXPECT_EQ(host.chip.state(), SimState::stub);  // v1.0.0 ignores the reboot flag
  const Reply md5 = host.command(Op::spi_flash_md5,
                                 words({0x10000, static_cast<std::uint32_t>(image.size()), 0, 0}));
  const Md5Digest digest = esp::md5(image);
  EXPECT_EQ(payload_of(md5, 2), Bytes(digest.begin(), digest.end()));
  // A second barrier finds no write in progress.
  EXPECT_EQ(host.command(Op::flash_defl_end, words({1})).data, (Bytes{0xC6, 0x00}));
}

TEST(SimStub, FlasherStubReportsAWriteErrorOnceInsteadOfTheNextReply) {
  Host host =
      stub_host(esp32_flasher_stub,
                make_config([](SimConfig& config) { config.loader.faults.fail_block = 0; }));
  const Bytes block = pattern(0x4000);
  host.command(Op::flash_begin, flash_begin_words(0x8000, 0x10000, true));
  EXPECT_EQ(host.data_command(Op::flash_data, 0, block).data, (Bytes{0, 0}));  // acked on receipt
  // The write failed after the reply: the next command, whatever it is, gets the error and
  // is not executed.
  const Reply failed = host.command(Op::read_reg, words({0x40001000}));
  EXPECT_EQ(failed.op, Op::read_reg);
  EXPECT_EQ(failed.value, 0u);
  EXPECT_EQ(failed.data, (Bytes{0xC4, 0x00}));
  EXPECT_NE(host.command(Op::read_reg, words({0x40001000})).value, 0u);  // once only
  EXPECT_EQ(host.data_command(Op::flash_data, 1, block).data, (Bytes{0, 0}));
  EXPECT_EQ(host.command(Op::flash_end, words({1})).data, (Bytes{0, 0}));
}

TEST(SimStub, LegacyStubReportsAWriteErrorWithTheNextBlock) {
  Host host =
      stub_host(esp32_legacy_stub,
                make_config([](SimConfig& config) { config.loader.faults.fail_block = 0; }));
  const Bytes block = pattern(0x4000);
  host.command(Op::flash_begin, flash_begin_words(0x8000, 0x10000, false));
  EXPECT_EQ(host.data_command(Op::flash_data, 0, block).data, (Bytes{0, 0}));
  EXPECT_NE(host.command(Op::read_reg, words({0x40001000})).value, 0u);  // other commands pass
  EXPECT_EQ(host.data_command(Op::flash_data, 1, block).data, (Bytes{0xC4, 0x00}));
}

TEST(SimStub, EachStubAnswersUnknownCommandsItsOwnWay) {
  for (const auto& [image, expected] :
       {std::pair{esp32_legacy_stub, Byte{0xFF}}, std::pair{esp32_flasher_stub, Byte{0xC3}}}) {
    Host host = stub_host(image);
    const Reply reply = host.command(static_cast<Op>(0x55), {});
    EXPECT_EQ(reply.op, static_cast<Op>(0x55));
    EXPECT_EQ(reply.data, (Bytes{expected, 0x00}));
  }
  // esp-flasher-stub v1.0.0 has no FLASH_ENCRYPT_DATA; GET_SECURITY_INFO is not supported on
  // the ESP32.
  Host host = stub_host(esp32_flasher_stub);
  EXPECT_EQ(host.command(Op::flash_encrypt_data, Bytes(16, 0)).data, (Bytes{0xC3, 0x00}));
  EXPECT_EQ(host.command(Op::get_security_info, {}).data, (Bytes{0xFF, 0x00}));
}

TEST(SimStub, FlasherStubChecksLengthsItsOwnWay) {
  Host host = stub_host(esp32_flasher_stub);
  host.command(Op::flash_begin, flash_begin_words(0x1000, 0x10000, true));
  const Bytes block = concat(words({63, 0, 0, 0}), pattern(64));  // length word is off by one
  EXPECT_EQ(host.command(Op::flash_data, block, checksum(pattern(64))).data,
            (Bytes{0xC9, 0x00}));  // TOO_MUCH_DATA, where the legacy stub says BAD_DATA_LEN
  EXPECT_EQ(host.command(Op::flash_data, Bytes(8, 0)).data, (Bytes{0xC8, 0x00}));
  EXPECT_EQ(host.command(Op::write_reg, Bytes(8, 0)).data, (Bytes{0xC8, 0x00}));
  EXPECT_EQ(host.command(Op::erase_region, words({0x800, 0x1000})).data, (Bytes{0xC0, 0x00}));
  // No block size limit in FLASH_BEGIN (the legacy stub refuses blocks over 16 KiB).
  EXPECT_EQ(host.command(Op::flash_begin, words({0x8000, 1, 0x8000, 0x10000})).data, (Bytes{0, 0}));
}

TEST(SimStub, FlasherStubReadFlashKeepsOneFrameInFlight) {
  Host host = stub_host(esp32_flasher_stub);
  const Bytes data = stub_read_flash(host, 0, 0x3000);  // asserts one frame per ack, digest
  EXPECT_EQ(data.size(), 0x3000u);

  // A frame that is no 4-byte count ends the transfer: the digest of what was sent follows.
  auto frames = host.exchange(Op::read_flash, words({0, 0x3000, 0x1000, 64}));
  ASSERT_EQ(frames.size(), 2u);  // ack and the first data frame
  host.write(slip::encode_frame(Bytes{1, 2, 3}));
  frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  const Md5Digest first_block = esp::md5(ByteView{data}.first(0x1000));
  EXPECT_EQ(frames[0], Bytes(first_block.begin(), first_block.end()));

  // Frames over 4 KiB: the ack is sent, then the next command gets the error.
  EXPECT_EQ(host.exchange(Op::read_flash, words({0, 0x3000, 0x2000, 64})).size(), 1u);
  EXPECT_EQ(host.command(Op::read_reg, words({0x40001000})).data, (Bytes{0xC0, 0x00}));
}

}  // namespace
}  // namespace ttynet::esp
