#include "ttynet/esptool/loader.hpp"

#include <gtest/gtest.h>

#include "esptool_test_support.hpp"
#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/md5.hpp"

namespace ttynet::esptool {
namespace {

using test::open_port;

constexpr std::uint32_t esp32_magic = 0x00F01D83;

LoaderRequest security_info_request() {
  LoaderRequest request{};
  request.op = esp::Op::get_security_info;
  request.timeout = esp::default_timeout;
  request.what = "get security info";
  return request;
}

TEST(EsptoolLoader, SyncsWithTheRomAndReadsTheChipMagic) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  auto magic = loader.read_reg(esp::chip_detect_magic_reg);
  ASSERT_TRUE(magic) << magic.error().message;
  EXPECT_EQ(*magic, esp32_magic);
}

TEST(EsptoolLoader, AnotherSyncRightAfterTheFirstIsAnsweredToo) {
  // The seven extra replies of the first SYNC must not be taken for the second's.
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  auto magic = loader.read_reg(esp::chip_detect_magic_reg);
  ASSERT_TRUE(magic);
  EXPECT_EQ(*magic, esp32_magic);
}

TEST(EsptoolLoader, SecurityInfoIsUnsupportedOnTheEsp32Rom) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  auto info = loader.run(security_info_request());
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
    ASSERT_TRUE(loader.run(Loader::sync_request()));
    auto info = loader.run(security_info_request());
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_EQ(info->payload.size(), 20u);
    EXPECT_EQ(esp::load_u32(info->payload, 12), id) << name;
  }
}

TEST(EsptoolLoader, PostedRequestsLeadTheNextExchange) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  constexpr std::uint32_t scratch = 0x3FFB0000;  // internal RAM
  const LoaderRequest write = Loader::write_reg_request(scratch, 0x12345678);
  loader.post(std::span(&write, 1));
  EXPECT_TRUE(loader.has_posted());
  std::vector<std::size_t> answered;
  auto replies = loader.exchange(std::vector{Loader::read_reg_request(scratch)},
                                 [&](std::size_t index) { answered.push_back(index); });
  ASSERT_TRUE(replies) << replies.error().message;
  ASSERT_EQ(replies->size(), 1u);  // the posted request's reply is not the caller's
  EXPECT_EQ(replies->front().value, 0x12345678u);
  EXPECT_EQ(answered, std::vector<std::size_t>{0});
  EXPECT_FALSE(loader.has_posted());

  loader.post(std::vector{Loader::write_reg_request(scratch, 1)});
  loader.discard_posted();
  auto kept = loader.read_reg(scratch);
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0x12345678u);
}

TEST(EsptoolLoader, ASequenceStopsAtItsFirstFailureAndKeepsTheRepliesBefore) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  ASSERT_TRUE(loader.run(Loader::spi_attach_request(0)));
  const std::vector<LoaderRequest> requests = {
      Loader::read_reg_request(esp::chip_detect_magic_reg),
      Loader::read_flash_slow_request(0, 65),  // the ROM reads at most 64 bytes
      Loader::read_reg_request(esp::chip_detect_magic_reg),
  };
  const Exchanged done = loader.exchange_some(requests);
  ASSERT_EQ(done.replies.size(), 1u);
  EXPECT_EQ(done.replies[0].value, esp32_magic);
  ASSERT_TRUE(done.error);
  EXPECT_EQ(done.error->code, errc::command_failed);
}

TEST(EsptoolLoader, AFailureStatusBecomesAMessageNamingTheCommandAndTheCode) {
  auto port = open_port("sim://esp32");
  ASSERT_TRUE(port);
  Loader loader(*port);
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  ASSERT_TRUE(loader.run(Loader::spi_attach_request(0)));
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
  ASSERT_TRUE(loader.run(Loader::sync_request()));
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
  ASSERT_TRUE(loader.run(Loader::sync_request()));
  ASSERT_TRUE(loader.run(Loader::spi_attach_request(0)));
  ASSERT_TRUE(loader.run(Loader::spi_set_params_request(4u << 20)));
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
  auto synced = loader.run(Loader::sync_request());
  ASSERT_FALSE(synced);
  const Error& error = synced.error();
  EXPECT_EQ(error.code, errc::no_reply);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(error.message == "No serial data received." ||
              error.message.starts_with("Invalid head of packet"))
      << error.message;
  EXPECT_FALSE(loader.noise().empty());  // the application's text, kept
}

TEST(EsptoolLoader, DescribesStatusCodes) {
  EXPECT_EQ(describe_status(esp::rom_status(esp::RomError::bad_checksum)),
            "result was 0107: " + std::string(esp::describe(esp::RomError::bad_checksum)));
}

}  // namespace
}  // namespace ttynet::esptool
