#include "ttynet/esptool/commands.hpp"

#include <gtest/gtest.h>

#include "esptool_test_support.hpp"
#include "ttynet/esp/md5.hpp"

namespace ttynet::esptool {
namespace {

using test::read_all;
using test::TempDir;
using test::write_all;

constexpr std::uint32_t flash_size = 4u << 20;

class EsptoolCommands : public ::testing::TestWithParam<std::string> {
 protected:
  // The chip keeps its flash in a file of this directory; boot=app so every run needs the
  // reset into download mode.
  std::string url(const std::string& extra = "") const {
    return "sim://" + GetParam() + "?boot=app&flash_file=" + dir_.file("flash.bin") + extra;
  }
  int run(const Command& command, GlobalOptions options = {}) {
    if (options.port.empty()) options.port = url();
    output_.clear();
    auto console = Console::capture(output_);
    return run_esptool(options, command, console);
  }
  ByteBuffer flash() const { return read_all(dir_.file("flash.bin")); }
  bool printed(const std::string& text) const { return output_.find(text) != std::string::npos; }

  TempDir dir_;
  std::string output_;
};

TEST_P(EsptoolCommands, ReadMacPrintsTheChipAndTheMac) {
  ASSERT_EQ(run(ReadMacCommand{}), exit_ok) << output_;
  EXPECT_TRUE(printed("Chip is ")) << output_;
  EXPECT_TRUE(printed("Features: WiFi, ")) << output_;
  EXPECT_TRUE(printed("Crystal is 40MHz\n")) << output_;
  EXPECT_TRUE(printed("Enabling default SPI flash mode...\n")) << output_;
  EXPECT_TRUE(printed("\nMAC: ")) << output_;
  EXPECT_TRUE(printed("Hard resetting via RTS pin...\n")) << output_;
}

TEST_P(EsptoolCommands, ChipIdReadsTheMacInstead) {
  ASSERT_EQ(run(ChipIdCommand{}), exit_ok) << output_;
  EXPECT_TRUE(printed(" has no Chip ID. Reading MAC instead.\nMAC: ")) << output_;
}

TEST_P(EsptoolCommands, FlashIdPrintsTheJedecIdAndSize) {
  ASSERT_EQ(run(FlashIdCommand{}), exit_ok) << output_;
  EXPECT_TRUE(printed("Manufacturer: ")) << output_;
  EXPECT_TRUE(printed("Detected flash size: 4MB\n")) << output_;
}

TEST_P(EsptoolCommands, WritesCompressedAndPlainAndReadsBack) {
  const ByteBuffer random = test::random_bytes(40000);
  ByteBuffer text;
  for (int i = 0; text.size() < 30000; ++i)
    append(text, as_bytes("line of text " + std::to_string(i) + "\n"));
  write_all(dir_.file("random.bin"), random);
  write_all(dir_.file("text.bin"), text);

  WriteFlashCommand write;
  write.files = {{0x10000, dir_.file("random.bin")}, {0x30000, dir_.file("text.bin")}};
  ASSERT_EQ(run(write), exit_ok) << output_;
  EXPECT_TRUE(printed("Compressed 40000 bytes to ")) << output_;
  EXPECT_TRUE(printed("Wrote 40000 bytes (")) << output_;
  EXPECT_TRUE(printed("Writing at 0x00010000... (")) << output_;
  EXPECT_TRUE(printed("Hash of data verified.\n")) << output_;
  EXPECT_TRUE(printed("Flash will be erased from 0x00010000 to 0x00019fff...")) << output_;
  const ByteBuffer after_compressed = flash();
  ASSERT_EQ(after_compressed.size(), flash_size);
  EXPECT_TRUE(std::equal(random.begin(), random.end(), after_compressed.begin() + 0x10000));
  EXPECT_TRUE(std::equal(text.begin(), text.end(), after_compressed.begin() + 0x30000));

  write.compress = false;
  write.files = {{0x50000, dir_.file("text.bin")}};
  ASSERT_EQ(run(write), exit_ok) << output_;
  EXPECT_TRUE(printed("Erasing flash...\n")) << output_;
  EXPECT_TRUE(printed("Wrote 30720 bytes at 0x00050000")) << output_;  // whole 1 KiB blocks
  EXPECT_TRUE(printed("Hash of data verified.\n")) << output_;
  const ByteBuffer after_plain = flash();
  EXPECT_TRUE(std::equal(text.begin(), text.end(), after_plain.begin() + 0x50000));

  ASSERT_EQ(run(ReadFlashCommand{0x10000 + 3, 1000, dir_.file("back.bin")}), exit_ok) << output_;
  EXPECT_TRUE(printed("Read 1000 bytes at 0x00010003 in ")) << output_;
  EXPECT_EQ(read_all(dir_.file("back.bin")), ByteBuffer(random.begin() + 3, random.begin() + 1003));

  ASSERT_EQ(run(VerifyFlashCommand{
                {{0x10000, dir_.file("random.bin")}, {0x50000, dir_.file("text.bin")}}}),
            exit_ok)
      << output_;
  EXPECT_TRUE(printed("-- verify OK (digest matched)")) << output_;
  EXPECT_EQ(run(VerifyFlashCommand{{{0x30000, dir_.file("random.bin")}}}), exit_fatal);
  EXPECT_TRUE(printed("-- verify FAILED (digest mismatch)")) << output_;
  EXPECT_TRUE(printed("A fatal error occurred: Verify failed.")) << output_;
}

TEST_P(EsptoolCommands, AnUnalignedWriteKeepsTheBytesBeforeItErased) {
  const ByteBuffer data = test::random_bytes(3000, 7);
  write_all(dir_.file("data.bin"), data);
  WriteFlashCommand write;
  write.files = {{0x20100, dir_.file("data.bin")}};
  ASSERT_EQ(run(write), exit_ok) << output_;
  const ByteBuffer image = flash();
  EXPECT_TRUE(std::equal(data.begin(), data.end(), image.begin() + 0x20100));
  EXPECT_EQ(image[0x200FF], 0xFF);
}

TEST_P(EsptoolCommands, ErasesARegionAndTheWholeFlash) {
  write_all(dir_.file("zeros.bin"), ByteBuffer(0x3000, 0x00));
  WriteFlashCommand write;
  write.files = {{0x0, dir_.file("zeros.bin")}, {0x100000, dir_.file("zeros.bin")}};
  ASSERT_EQ(run(write), exit_ok) << output_;
  ASSERT_EQ(flash()[0x1000], 0x00);

  ASSERT_EQ(run(EraseRegionCommand{0x1000, 0x1000}), exit_ok) << output_;
  EXPECT_TRUE(printed("Erase completed successfully")) << output_;
  ByteBuffer image = flash();
  EXPECT_EQ(image[0x0FFF], 0x00);
  EXPECT_EQ(image[0x1000], 0xFF);
  EXPECT_EQ(image[0x1FFF], 0xFF);
  EXPECT_EQ(image[0x2000], 0x00);

  EXPECT_EQ(run(EraseRegionCommand{0x1001, 0x1000}), exit_fatal);
  EXPECT_TRUE(printed("Offset to erase from must be a multiple of 4096")) << output_;

  ASSERT_EQ(run(EraseFlashCommand{}), exit_ok) << output_;
  EXPECT_TRUE(printed("Chip erase completed successfully in ")) << output_;
  image = flash();
  EXPECT_EQ(image, ByteBuffer(flash_size, 0xFF));
}

TEST_P(EsptoolCommands, ChangesTheBaudRateAndKeepsWorking) {
  GlobalOptions options;
  options.baud = 921600;
  options.port = url("&pace=1");
  write_all(dir_.file("data.bin"), test::random_bytes(8192, 3));
  WriteFlashCommand write;
  write.files = {{0x8000, dir_.file("data.bin")}};
  ASSERT_EQ(run(write, options), exit_ok) << output_;
  EXPECT_TRUE(printed("Changing baud rate to 921600\nChanged.\n")) << output_;
  EXPECT_TRUE(printed("Hash of data verified.")) << output_;
}

TEST_P(EsptoolCommands, RunLeavesTheLoaderAndStaysWithNoReset) {
  GlobalOptions options;
  options.after = AfterAction::no_reset;
  ASSERT_EQ(run(RunCommand{}, options), exit_ok) << output_;
  EXPECT_TRUE(printed("Staying in bootloader.\n")) << output_;
}

TEST_P(EsptoolCommands, AFileThatDoesNotFitIsRefusedBeforeWriting) {
  write_all(dir_.file("data.bin"), ByteBuffer(0x2000, 1));
  WriteFlashCommand write;
  write.files = {{flash_size - 0x1000, dir_.file("data.bin")}};
  EXPECT_EQ(run(write), exit_fatal);
  EXPECT_TRUE(printed("will not fit in 4194304 bytes of flash")) << output_;
  write.files = {{0, dir_.file("missing.bin")}};
  EXPECT_EQ(run(write), exit_bad_argument);
  EXPECT_TRUE(printed("cannot read ")) << output_;
}

TEST_P(EsptoolCommands, ASilentChipFailsWithEsptoolsMessage) {
  GlobalOptions options;
  options.before = BeforeAction::no_reset;
  options.connect_attempts = 1;
  const auto start = Clock::now();
  EXPECT_EQ(run(ReadMacCommand{}, options), exit_fatal);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(printed("A fatal error occurred: Failed to connect to Espressif device: "))
      << output_;
  EXPECT_TRUE(printed("For troubleshooting steps visit")) << output_;
}

INSTANTIATE_TEST_SUITE_P(Chips, EsptoolCommands, ::testing::Values("esp32", "esp32c3", "esp32s3"));

TEST(EsptoolCommandLine, AnUnopenablePortIsAFatalError) {
  std::string output;
  auto console = Console::capture(output);
  GlobalOptions options;
  options.port = "/nonexistent/ttyUSB9";
  EXPECT_EQ(run_esptool(options, FlashIdCommand{}, console), exit_fatal);
  EXPECT_NE(output.find("A fatal error occurred: Could not open /nonexistent/ttyUSB9, the port "
                        "is busy or doesn't exist."),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace ttynet::esptool
