#include "ttynet/esptool/loader.hpp"

#include <gtest/gtest.h>

#include "esptool_test_support.hpp"
#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/md5.hpp"

namespace ttynet::esptool {
namespace {

using test::open_port;

constexpr std::uint32_t esp32_magic = 0x00F01D83;

TEST(EsptoolLoader, SyncsWithTheRomAndReadsTheChipMagic) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  auto magic = loader.read_reg(esp::chip_detect_magic_reg);
  ASSERT_TRUE(magic) << magic.error().message;
  EXPECT_EQ(*magic, esp32_magic);
}

TEST(EsptoolLoader, AnotherSyncRightAfterTheFirstIsAnsweredToo) {
  // The seven extra replies of the first SYNC must not be taken for the second's.
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  ASSERT_FALSE(loader.sync());
  auto magic = loader.read_reg(esp::chip_detect_magic_reg);
  ASSERT_TRUE(magic);
  EXPECT_EQ(*magic, esp32_magic);
}

TEST(EsptoolLoader, SecurityInfoIsUnsupportedOnTheEsp32Rom) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  auto info = loader.get_security_info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, errc::unsupported_command);
  EXPECT_EQ(info.error().message, "Invalid (unsupported) command 0x14");
  // The loader is still usable afterwards.
  EXPECT_TRUE(loader.read_reg(esp::chip_detect_magic_reg));
}

TEST(EsptoolLoader, SecurityInfoGivesTheChipIdOnC3AndS3) {
  for (const auto& [name, id] : {std::pair{"esp32c3", 5u}, std::pair{"esp32s3", 9u}}) {
    auto port = open_port(std::string("sim://") + name);
    ASSERT_TRUE(port);
    Loader loader(*port);
    ASSERT_FALSE(loader.sync());
    auto info = loader.get_security_info();
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_EQ(info->size(), 20u);
    EXPECT_EQ(esp::load_u32(*info, 12), id) << name;
  }
}

TEST(EsptoolLoader, AFailureStatusBecomesAMessageNamingTheCommandAndTheCode) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  ASSERT_FALSE(loader.spi_attach(0));
  auto data = loader.read_flash_slow(0, 65);  // the ROM reads at most 64 bytes
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error().code, errc::command_failed);
  EXPECT_EQ(data.error().message,
            "Failed to read flash block (result was 010A: " +
                std::string(esp::describe(esp::RomError::flash_read_length_error)) + ")");
}

TEST(EsptoolLoader, FlashDataWithoutBeginIsRefused) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  const ByteBuffer block(rom_flash_block, 0x5A);
  auto reply = loader.run(Loader::block_request(block, 0, false, esp::default_timeout));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, errc::command_failed);
  EXPECT_NE(
      reply.error().message.find("Failed to write to target Flash after seq 0 (result was 0106"),
      std::string::npos)
      << reply.error().message;
}

TEST(EsptoolLoader, WritesReadsBackAndHashesFlash) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_FALSE(loader.sync());
  ASSERT_FALSE(loader.spi_attach(0));
  ASSERT_FALSE(loader.spi_set_params(4u << 20));
  const ByteBuffer data = test::random_bytes(2 * rom_flash_block);
  ASSERT_FALSE(loader.flash_begin(static_cast<std::uint32_t>(data.size()), 2, 0x10000, false,
                                  esp::default_timeout));
  for (std::uint32_t seq = 0; seq < 2; ++seq) {
    auto reply = loader.run(
        Loader::block_request(ByteView{data}.subspan(seq * rom_flash_block, rom_flash_block), seq,
                              false, esp::default_timeout));
    ASSERT_TRUE(reply) << reply.error().message;
  }
  auto md5 = loader.flash_md5(0x10000, static_cast<std::uint32_t>(data.size()));
  ASSERT_TRUE(md5) << md5.error().message;
  EXPECT_EQ(*md5, esp::to_hex(esp::md5(data)));
  auto back = loader.read_flash_slow(0x10000 + 100, 64);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, ByteBuffer(data.begin() + 100, data.begin() + 164));
}

TEST(EsptoolLoader, ASilentChipTimesOutWithEsptoolsMessage) {
  // The application prints text: no frame ever comes, only noise.
  auto port = open_port("sim://esp32?boot=app");
  ASSERT_TRUE(port);
  Loader loader(*port);
  const auto start = Clock::now();
  auto error = loader.sync();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, errc::no_reply);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(error->message == "No serial data received." ||
              error->message.starts_with("Invalid head of packet"))
      << error->message;
}

TEST(EsptoolLoader, DescribesStatusCodes) {
  EXPECT_EQ(describe_status(esp::rom_status(esp::RomError::bad_checksum)),
            "result was 0107: " + std::string(esp::describe(esp::RomError::bad_checksum)));
}

}  // namespace
}  // namespace ttynet::esptool
