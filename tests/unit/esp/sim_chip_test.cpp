#include "ttynet/esp/sim_chip.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "esp_test_support.hpp"
#include "sim_host.hpp"
#include "ttynet/esp/error.hpp"
#include "ttynet/esp/md5.hpp"

namespace ttynet::esp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::Bytes;
using test::words;
using namespace test;  // the host harness (sim_host.hpp)

// ---------------------------------------------------------------------------------------
// Reset circuit and boot

TEST(SimChipReset, ClassicResetEntersDownloadModeWithTheRomLog) {
  Host host;
  host.lines(true, true);
  host.lines(false, true);
  EXPECT_EQ(host.chip.state(), SimState::reset);
  EXPECT_FALSE(host.chip.is_en_high());
  EXPECT_FALSE(host.chip.deadline());
  host.wait(milliseconds(100));
  host.lines(true, true);  // EN rises
  host.lines(true, false);
  EXPECT_TRUE(host.chip.is_gpio0_low());
  EXPECT_EQ(host.chip.state(), SimState::booting);
  host.wait(milliseconds(4));
  EXPECT_EQ(host.chip.state(), SimState::booting);
  host.wait(milliseconds(1));  // straps sampled 5 ms after EN rose
  EXPECT_EQ(host.chip.state(), SimState::download);
  // The whole log is out well inside esptool's 50 ms reset delay.
  EXPECT_EQ(host.take_text(),
            "ets Jul 29 2019 12:21:46\r\n\r\n"
            "rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
            "waiting for download\r\n");
  host.wait(milliseconds(45));
  host.lines(false, false);
  EXPECT_EQ(host.chip.state(), SimState::download);
  EXPECT_TRUE(host.take_text().empty());
  sync(host, rom_sync_value);
}

TEST(SimChipReset, LongEsp32RevisionZeroDelayWorksToo) {
  Host host("esp32", make_config([](SimConfig& c) { c.revision = ChipRevision{1, 0}; }));
  host.classic_reset(milliseconds(550));
  EXPECT_EQ(host.chip.state(), SimState::download);
  EXPECT_EQ(host.take_text().substr(0, 28), "ets Jun  8 2016 00:22:57\r\n\r\n");
}

TEST(SimChipReset, GpioZeroArrivingLateBootsTheApplication) {
  // Over a plain RFC 2217 link R0 arrives ~100 ms after D1: the chip boots from flash.
  Host host;
  host.classic_reset(milliseconds(50), milliseconds(100));
  EXPECT_EQ(host.chip.state(), SimState::app);
  const std::string text = host.take_text();
  EXPECT_NE(text.find("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("configsip: 0, SPIWP:0xee\r\n"), std::string::npos);
  EXPECT_EQ(text.find("waiting for download"), std::string::npos);
}

TEST(SimChipReset, BothLinesAssertedIsIdle) {
  Host host;
  host.lines(true, true);
  EXPECT_TRUE(host.chip.is_en_high());
  EXPECT_FALSE(host.chip.is_gpio0_low());
  EXPECT_EQ(host.chip.state(), SimState::download);  // default power-on: already waiting
}

TEST(SimChipReset, IgnoresTheHostWhileInReset) {
  Host host;
  host.lines(false, true);
  host.write(test::request(Op::sync, sync_data()));
  EXPECT_TRUE(host.take_frames().empty());
  EXPECT_EQ(host.chip.counters().ignored_bytes, 46u);
}

TEST(SimChipReset, HardResetBootsTheApplicationAndResetReturnsToTheRom) {
  Host host = download_mode_host();
  upload_stub(host);
  host.hard_reset();
  host.wait(milliseconds(10));
  EXPECT_EQ(host.chip.state(), SimState::app);
  host.classic_reset();
  EXPECT_EQ(host.chip.state(), SimState::download);
  sync(host, rom_sync_value);  // the ROM again, not the stub
}

TEST(SimChipReset, PowerOnModes) {
  Host download("esp32", make_config([](SimConfig& c) { c.power_on = PowerOn::boot_download; }));
  EXPECT_EQ(download.chip.state(), SimState::booting);
  ASSERT_TRUE(download.chip.deadline());
  download.wait(milliseconds(10));
  EXPECT_EQ(download.chip.state(), SimState::download);
  EXPECT_NE(download.take_text().find("waiting for download"), std::string::npos);

  Host flash("esp32c3", make_config([](SimConfig& c) { c.power_on = PowerOn::boot_flash; }));
  flash.wait(milliseconds(400));
  EXPECT_EQ(flash.chip.state(), SimState::app);
  EXPECT_NE(flash.take_text().find("rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)"),
            std::string::npos);
}

TEST(SimChipReset, RestartWithoutLinesLeavesTheStub) {
  Host host;
  upload_stub(host);
  host.chip.restart(PowerOn::in_download_mode, host.now);
  EXPECT_EQ(host.chip.state(), SimState::download);
  EXPECT_TRUE(host.take_text().empty());  // silent: already waiting
  sync(host, rom_sync_value);
  host.chip.restart(PowerOn::boot_flash, host.now);
  host.wait(milliseconds(5));
  EXPECT_EQ(host.chip.state(), SimState::app);
  EXPECT_NE(host.take_text().find("boot:0x13 (SPI_FAST_FLASH_BOOT)"), std::string::npos);
  host.chip.restart(PowerOn::boot_download, host.now);
  host.wait(milliseconds(5));
  EXPECT_EQ(host.chip.state(), SimState::download);
  EXPECT_NE(host.take_text().find("waiting for download"), std::string::npos);
  // EN held low wins.
  host.lines(false, true);
  host.chip.restart(PowerOn::in_download_mode, host.now);
  EXPECT_EQ(host.chip.state(), SimState::reset);
}

TEST(SimChipReset, RomTextOfTheC3AndS3) {
  Host c3 = Host("esp32c3");
  c3.classic_reset();
  EXPECT_EQ(c3.take_text(),
            "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
            "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART0/1))\r\nwaiting for download\r\n");
  Host s3 = Host("esp32s3");
  s3.classic_reset();
  EXPECT_EQ(s3.take_text(),
            "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
            "rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n");
}

// ---------------------------------------------------------------------------------------
// Application

TEST(SimChipApp, PrintsABootLogThenALinePerSecond) {
  Host host;
  host.hard_reset();
  host.wait(milliseconds(500));
  const std::string boot = host.take_text();
  EXPECT_NE(boot.find("boot: ESP-IDF"), std::string::npos);
  EXPECT_NE(boot.find("boot: chip revision: v3.0\r\n"), std::string::npos);
  EXPECT_NE(boot.find("SPI Flash Size : 4MB"), std::string::npos);
  EXPECT_NE(boot.find("MAC 24:6f:28:7a:d8:84"), std::string::npos);
  host.wait(milliseconds(3000));
  const std::string ticks = host.take_text();
  EXPECT_NE(ticks.find("main: tick 1, uptime 1 s\r\n"), std::string::npos);
  EXPECT_NE(ticks.find("main: tick 2, uptime 2 s\r\n"), std::string::npos);
  EXPECT_NE(ticks.find("main: tick 3, uptime 3 s\r\n"), std::string::npos);
  EXPECT_EQ(std::count(ticks.begin(), ticks.end(), '\n'), 3);
  // The application does not speak the loader protocol.
  host.write(test::request(Op::sync, sync_data()));
  EXPECT_TRUE(host.take_frames().empty());
}

TEST(SimChipApp, OutputStaysBoundedWhenNobodyReads) {
  SimConfig config;
  config.power_on = PowerOn::boot_flash;
  config.app_line_period = milliseconds(10);
  config.limits.max_pending_output = 1000;
  SimChip chip(**find_chip("esp32"), config);
  TimePoint now{};
  for (int i = 0; i < 10000; ++i) {
    now += milliseconds(10);
    chip.on_timer(now);
  }
  EXPECT_LE(chip.pending_output().size(), 1000u);
  EXPECT_GT(chip.counters().dropped_output, 0u);
}

// ---------------------------------------------------------------------------------------
// ROM loader

TEST(SimChipRom, AnswersSyncWithEightReplies) {
  Host host = download_mode_host();
  host.write(test::request(Op::sync, sync_data()));
  const auto frames = host.take_frames();
  ASSERT_EQ(frames.size(), 8u);
  for (const Bytes& frame : frames) {
    EXPECT_EQ(frame, (Bytes{0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0}));
  }
}

TEST(SimChipRom, ReadsTheRegistersEsptoolDetectsWith) {
  Host host = download_mode_host();
  const Reply magic = host.command(Op::read_reg, words({0x40001000}));
  EXPECT_EQ(magic.value, 0x00F01D83u);
  EXPECT_EQ(magic.data, (Bytes{0, 0, 0, 0}));
  const MacAddress mac = mac_from_words(read_reg(host, 0x3FF5A004), read_reg(host, 0x3FF5A008));
  EXPECT_EQ(mac, (MacAddress{0x24, 0x6F, 0x28, 0x7A, 0xD8, 0x84}));
  EXPECT_EQ(read_reg(host, 0x3FF5A00C), 0x0000A200u);
  EXPECT_EQ(read_reg(host, 0x3FF44038), 0x03u);  // GPIO_STRAP in download mode
  // Crystal: esptool estimates 115200 * divider / 1e6 = 40 MHz.
  EXPECT_EQ(read_reg(host, 0x3FF40014) & 0xFFFFF, 347u);
}

TEST(SimChipRom, UnknownCommandsGetTheUnsupportedReply) {
  Host host = download_mode_host();
  const Bytes unsupported{0x01, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0x01, 0x05, 0x00, 0x00};
  EXPECT_EQ(host.exchange(Op::get_security_info, {}), std::vector<Bytes>{unsupported});
  EXPECT_EQ(host.exchange(Op::erase_flash, {}), std::vector<Bytes>{unsupported});
  EXPECT_EQ(host.exchange(static_cast<Op>(0x55), {}), std::vector<Bytes>{unsupported});
}

TEST(SimChipRom, C3AnswersGetSecurityInfoWithItsChipId) {
  Host host = download_mode_host("esp32c3");
  const Reply reply = host.command(Op::get_security_info, {});
  EXPECT_EQ(reply.data.size(), 24u);  // 20 data + 4 status
  EXPECT_TRUE(status_of(reply, 4).is_ok());
  EXPECT_EQ(load_u32(reply.data, 12), 5u);
  EXPECT_EQ(read_reg(host, 0x40001000), 0x1B31506Fu);
}

struct RomErrorCase {
  const char* what;
  Op op;
  Bytes data;
  std::uint32_t checksum;
  RomError expected;
};

TEST(SimChipRom, RejectsBadRequestsWithTheRomsErrorCodes) {
  const Bytes block = test::pattern(0x400);
  Bytes good_block;
  append_data_block(good_block, 0, block);
  Bytes bad_length = good_block;
  bad_length[0] = 0x01;  // length word says 1, payload is 0x400
  Bytes corrupt_stream;
  append_data_block(corrupt_stream, 0, Bytes{0x78, 0xDA, 0xFF, 0xFF});
  const std::vector<RomErrorCase> cases = {
      {"SYNC with another pattern", Op::sync, Bytes(36, 0x55), 0, RomError::invalid_message},
      {"READ_REG without an address", Op::read_reg, {}, 0, RomError::invalid_message},
      {"WRITE_REG of 15 bytes", Op::write_reg, Bytes(15, 0), 0, RomError::invalid_message},
      {"SPI_ATTACH with the stub's 4 bytes", Op::spi_attach, words({0}), 0,
       RomError::invalid_message},
      {"SPI_SET_PARAMS short", Op::spi_set_params, words({0, 1}), 0, RomError::invalid_message},
      {"CHANGE_BAUDRATE to 0", Op::change_baudrate, words({0, 0}), 0, RomError::invalid_message},
      {"FLASH_DATA before FLASH_BEGIN", Op::flash_data, good_block, checksum(block),
       RomError::execution_failed},
      {"FLASH_BEGIN of 3 words", Op::flash_begin, words({0, 0, 0x400}), 0,
       RomError::invalid_message},
      {"FLASH_BEGIN past the flash", Op::flash_begin, words({0x2000, 8, 0x400, 0x3FF000}), 0,
       RomError::execution_failed},
      {"FLASH_BEGIN with the encrypt word (ESP32)", Op::flash_begin, words({0, 0, 0x400, 0, 0}), 0,
       RomError::invalid_message},
      {"READ_FLASH_SLOW of 65 bytes", Op::read_flash_slow, words({0, 65}), 0,
       RomError::flash_read_length_error},
      {"READ_FLASH_SLOW past the flash", Op::read_flash_slow, words({0x3FFFF0, 64}), 0,
       RomError::flash_read_error},
      {"SPI_FLASH_MD5 past the flash", Op::spi_flash_md5, words({0x300000, 0x200000, 0, 0}), 0,
       RomError::flash_read_error},
      {"MEM_DATA before MEM_BEGIN", Op::mem_data, good_block, checksum(block),
       RomError::execution_failed},
  };
  for (const RomErrorCase& c : cases) {
    Host host = download_mode_host();
    host.command(Op::spi_attach, words({0, 0}));
    const Reply reply = host.command(c.op, c.data, c.checksum);
    EXPECT_EQ(reply.op, c.op) << c.what;
    EXPECT_EQ(reply.data.size(), 4u) << c.what;
    EXPECT_EQ(status_of(reply, 4), rom_status(c.expected)) << c.what;
  }

  // Errors inside a flash or RAM download.
  Host host = download_mode_host();
  host.command(Op::spi_attach, words({0, 0}));
  ASSERT_TRUE(status_of(host.command(Op::flash_begin, words({0x1000, 4, 0x400, 0})), 4).is_ok());
  EXPECT_EQ(status_of(host.command(Op::flash_data, good_block, checksum(block) ^ 1), 4),
            rom_status(RomError::bad_checksum));
  EXPECT_EQ(status_of(host.command(Op::flash_data, bad_length, checksum(block)), 4),
            rom_status(RomError::invalid_message));
  EXPECT_EQ(status_of(host.data_command(Op::flash_data, 0, Bytes(0x401, 0)), 4),
            rom_status(RomError::invalid_message));  // longer than the block size
  EXPECT_EQ(status_of(host.data_command(Op::flash_defl_data, 0, block), 4),
            rom_status(RomError::execution_failed));  // not a compressed download

  ASSERT_TRUE(
      status_of(host.command(Op::flash_defl_begin, words({0x1000, 1, 0x400, 0})), 4).is_ok());
  EXPECT_EQ(status_of(host.command(Op::flash_defl_data, corrupt_stream,
                                   checksum(Bytes{0x78, 0xDA, 0xFF, 0xFF})),
                      4),
            rom_status(RomError::deflate_error));
  Bytes stream = test::compress(test::pattern(100));
  stream.back() ^= 1;
  ASSERT_TRUE(
      status_of(host.command(Op::flash_defl_begin, words({0x400, 1, 0x400, 0})), 4).is_ok());
  EXPECT_EQ(status_of(host.data_command(Op::flash_defl_data, 0, stream), 4),
            rom_status(RomError::deflate_adler32_error));

  ASSERT_TRUE(
      status_of(host.command(Op::mem_begin, words({16, 1, 0x1800, 0x40080000})), 4).is_ok());
  EXPECT_EQ(status_of(host.data_command(Op::mem_data, 0, Bytes(20, 1)), 4),
            rom_status(RomError::invalid_ram_size));
  Bytes mem;
  append_data_block(mem, 0, Bytes(16, 1));
  EXPECT_EQ(status_of(host.command(Op::mem_data, mem, 0), 4), rom_status(RomError::bad_checksum));

  // A size field that disagrees with the data.
  Bytes packet;
  append_request(packet, Op::read_reg, words({0x40001000}));
  packet[2] = 8;
  host.write(slip::encode_frame(packet));
  const auto frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(status_of(Host::decode(frames[0]), 4), rom_status(RomError::invalid_message));
}

TEST(SimChipRom, C3RomTakesTheEncryptFlagButRefusesEncryption) {
  Host host = download_mode_host("esp32c3");
  host.command(Op::spi_attach, words({0, 0}));
  EXPECT_TRUE(status_of(host.command(Op::flash_begin, words({0x1000, 4, 0x400, 0, 0})), 4).is_ok());
  EXPECT_EQ(status_of(host.command(Op::flash_begin, words({0x1000, 4, 0x400, 0, 1})), 4),
            rom_status(RomError::invalid_parameter));
}

TEST(SimChipRom, FlashIdNeedsSpiAttach) {
  Host host = download_mode_host();
  EXPECT_EQ(spi_rdid(host), 0x00FFFFFFu);  // flash pins not attached yet: bus reads ones
  EXPECT_TRUE(status_of(host.command(Op::spi_attach, words({0, 0})), 4).is_ok());
  EXPECT_EQ(spi_rdid(host), 0x001640EFu);  // Manufacturer ef, Device 4016, 4MB
  for (const std::string_view name : {"esp32c3", "esp32s3"}) {
    Host other =
        download_mode_host(name, make_config([](SimConfig& c) { c.flash_size = 16u << 20; }));
    other.command(Op::spi_attach, words({0, 0}));
    EXPECT_EQ(spi_rdid(other), 0x001840EFu) << name;
  }
}

TEST(SimChipRom, WriteFlashThenVerifyByMd5AndReadBack) {
  // esptool --no-stub write_flash 0x10000 (3000 bytes): erase up front, 3 blocks of 0x400
  // padded with 0xFF, then SPI_FLASH_MD5 of the file's 3000 bytes.
  Host host = download_mode_host();
  const Bytes file = test::pattern(3000);
  host.command(Op::spi_attach, words({0, 0}));
  EXPECT_TRUE(
      status_of(
          host.command(Op::spi_set_params, words({0, 4u << 20, 0x10000, 0x1000, 0x100, 0xFFFF})), 4)
          .is_ok());
  EXPECT_TRUE(
      status_of(host.command(Op::flash_begin, words({3000, 3, 0x400, 0x10000})), 4).is_ok());
  for (std::uint32_t seq = 0; seq < 3; ++seq) {
    Bytes block(file.begin() + seq * 0x400,
                file.begin() + std::min<std::size_t>(3000, (seq + 1) * 0x400));
    block.resize(0x400, 0xFF);
    EXPECT_TRUE(status_of(host.data_command(Op::flash_data, seq, block), 4).is_ok());
  }
  const Reply md5_reply = host.command(Op::spi_flash_md5, words({0x10000, 3000, 0, 0}));
  EXPECT_EQ(md5_reply.data.size(), 36u);
  const Bytes hex = payload_of(md5_reply, 4);
  EXPECT_EQ(std::string(hex.begin(), hex.end()), to_hex(md5(file)));
  EXPECT_EQ(rom_read_flash(host, 0x10000, 3000), file);
  EXPECT_EQ(rom_read_flash(host, 0x10000 + 3000, 72), Bytes(72, 0xFF));  // the padding
  EXPECT_EQ(host.chip.flash_changes(), (SimFlash::Range{0x10000, 0x11000}));
}

TEST(SimChipRom, FlashBeginErasesTheWholeSectorsUpFront) {
  Host host = download_mode_host(
      "esp32", make_config([](SimConfig& c) { c.initial_flash = Bytes(0x4000, 0x00); }));
  host.command(Op::spi_attach, words({0, 0}));
  host.command(Op::flash_begin, words({0x1001, 2, 0x400, 0x1000}));
  EXPECT_EQ(rom_read_flash(host, 0x0FC0, 64), Bytes(64, 0x00));
  EXPECT_EQ(rom_read_flash(host, 0x1000, 64), Bytes(64, 0xFF));
  EXPECT_EQ(rom_read_flash(host, 0x2FC0, 64), Bytes(64, 0xFF));
  EXPECT_EQ(rom_read_flash(host, 0x3000, 64), Bytes(64, 0x00));
}

TEST(SimChipRom, WriteFlashCompressed) {
  Host host = download_mode_host("esp32s3");
  const Bytes file = test::pattern(5000);
  const Bytes stream = test::compress(file);
  host.command(Op::spi_attach, words({0, 0}));
  const std::uint32_t rounded = 5 * 0x400;  // esptool rounds the size up to the block
  const auto blocks = static_cast<std::uint32_t>((stream.size() + 0x3FF) / 0x400);
  EXPECT_TRUE(
      status_of(host.command(Op::flash_defl_begin, words({rounded, blocks, 0x400, 0x8000, 0})), 4)
          .is_ok());
  for (std::uint32_t seq = 0; seq < blocks; ++seq) {
    const ByteView chunk = ByteView{stream}.subspan(
        seq * 0x400, std::min<std::size_t>(0x400, stream.size() - seq * 0x400));
    EXPECT_TRUE(status_of(host.data_command(Op::flash_defl_data, seq, chunk), 4).is_ok());
  }
  const Bytes hex = payload_of(host.command(Op::spi_flash_md5, words({0x8000, 5000, 0, 0})), 4);
  EXPECT_EQ(std::string(hex.begin(), hex.end()), to_hex(md5(file)));
}

TEST(SimChipRom, FlashEndLeavesTheLoader) {
  Host host = download_mode_host();
  host.command(Op::flash_begin, words({0, 0, 0x400, 0}));
  EXPECT_TRUE(status_of(host.command(Op::flash_end, words({1})), 4).is_ok());
  EXPECT_EQ(host.chip.state(), SimState::app);  // run user code: no ROM banner again
  host.wait(milliseconds(300));
  const std::string text = host.take_text();
  EXPECT_EQ(text.find("ets "), std::string::npos);
  EXPECT_NE(text.find("2nd stage bootloader"), std::string::npos);

  // Reboot: the straps stay latched, so the ROM loader comes back.
  Host reboot = download_mode_host();
  EXPECT_TRUE(status_of(reboot.command(Op::flash_end, words({0})), 4).is_ok());
  reboot.wait(milliseconds(20));
  EXPECT_EQ(reboot.chip.state(), SimState::download);
  EXPECT_EQ(reboot.take_text(),
            "ets Jul 29 2019 12:21:46\r\n\r\n"
            "rst:0xc (SW_CPU_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
            "waiting for download\r\n");
}

TEST(SimChipRom, ChangeBaudrateRepliesAtTheOldRateThenSwitches) {
  Host host = download_mode_host();
  const Reply reply = host.command(Op::change_baudrate, words({460800, 0}));
  EXPECT_TRUE(status_of(reply, 4).is_ok());
  EXPECT_EQ(host.chip.uart_baud(), 460800u);
  // The host still at 115200: no frame comes back.
  EXPECT_TRUE(host.exchange(Op::read_reg, words({0x3FF40014})).empty());
  host.chip.set_host_baud(460800);
  EXPECT_EQ(read_reg(host, 0x3FF40014) & 0xFFFFF, 86u);  // 40 MHz / 460800, fraction masked
}

TEST(SimChipRom, AutobaudFollowsAHostAtAnotherRate) {
  Host host("esp32", make_config([](SimConfig& c) { c.host_baud = 57600; }));
  host.classic_reset();
  host.take_text();                                           // the boot log, garbled at this rate
  EXPECT_TRUE(host.exchange(Op::sync, sync_data()).empty());  // measured on, lost
  EXPECT_EQ(host.chip.uart_baud(), 57600u);
  sync(host, rom_sync_value);
}

TEST(SimChipRom, AHostAtTheWrongBaudNeverSyncsWithoutAutobaud) {
  Host host("esp32", make_config([](SimConfig& c) {
              c.host_baud = 9600;
              c.autobaud = false;
            }));
  host.classic_reset();
  const std::string boot = host.take_text();
  EXPECT_FALSE(boot.empty());
  EXPECT_EQ(boot.find("waiting"), std::string::npos);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(host.exchange(Op::sync, sync_data()).empty());
  }
  EXPECT_EQ(host.chip.counters().frames_received, 0u);
  EXPECT_GT(host.chip.counters().garbled_bytes, 0u);
  EXPECT_EQ(host.reader.errors, 0);
}

// ---------------------------------------------------------------------------------------
// Flasher stub

TEST(SimChipStub, UploadStartsTheStubThatAnswersLikeOne) {
  Host host = download_mode_host();
  upload_stub(host);
  sync(host, 0);  // value 0: esptool's "stub already running"
  const Reply magic = host.command(Op::read_reg, words({0x40001000}));
  EXPECT_EQ(magic.value, 0x00F01D83u);
  EXPECT_EQ(magic.data, (Bytes{0, 0}));
  EXPECT_EQ(spi_rdid(host), 0x001640EFu);  // the stub attached the flash itself
}

TEST(SimChipStub, WriteFlashCompressedVerifyAndReadBack) {
  Host host = download_mode_host();
  upload_stub(host);
  const Bytes file = test::pattern(40000, 7);
  const Bytes stream = test::compress(file);
  const std::uint32_t offset = 0x10000;
  EXPECT_TRUE(
      status_of(
          host.command(Op::spi_set_params, words({0, 4u << 20, 0x10000, 0x1000, 0x100, 0xFFFF})), 2)
          .is_ok());
  const auto blocks = static_cast<std::uint32_t>((stream.size() + 0x3FFF) / 0x4000);
  EXPECT_TRUE(
      status_of(host.command(Op::flash_defl_begin, words({static_cast<std::uint32_t>(file.size()),
                                                          blocks, 0x4000, offset})),
                2)
          .is_ok());
  for (std::uint32_t seq = 0; seq < blocks; ++seq) {
    const ByteView chunk = ByteView{stream}.subspan(
        seq * 0x4000, std::min<std::size_t>(0x4000, stream.size() - seq * 0x4000));
    EXPECT_TRUE(status_of(host.data_command(Op::flash_defl_data, seq, chunk), 2).is_ok());
  }
  read_reg(host, 0x40001000);  // esptool's barrier
  const Reply digest = host.command(Op::spi_flash_md5, words({offset, 40000, 0, 0}));
  const Md5Digest expected = md5(file);
  EXPECT_EQ(payload_of(digest, 2), Bytes(expected.begin(), expected.end()));  // 16 raw bytes
  EXPECT_TRUE(status_of(host.command(Op::flash_begin, words({0, 0, 0x4000, 0})), 2).is_ok());
  EXPECT_TRUE(status_of(host.command(Op::flash_defl_end, words({1})), 2).is_ok());
  EXPECT_EQ(host.chip.state(), SimState::stub);
  EXPECT_EQ(stub_read_flash(host, offset, 40000), file);
  // Just-in-time erase covered whole sectors only.
  EXPECT_EQ(host.chip.flash_changes(), (SimFlash::Range{0x10000, 0x1A000}));
}

TEST(SimChipStub, UncompressedWriteTruncatesThePaddedLastBlock) {
  Host host = download_mode_host("esp32c3");
  upload_stub(host);
  const Bytes file = test::pattern(5000);
  host.command(Op::flash_begin, words({5000, 1, 0x4000, 0x3000}));
  Bytes block = file;
  block.resize(0x4000, 0xFF);
  EXPECT_TRUE(status_of(host.data_command(Op::flash_data, 0, block), 2).is_ok());
  EXPECT_TRUE(status_of(host.command(Op::flash_end, words({1})), 2).is_ok());
  EXPECT_EQ(stub_read_flash(host, 0x3000, 5000), file);
}

TEST(SimChipStub, ReadFlashSendsOneBlockPerAcknowledgement) {
  Host host("esp32", make_config([](SimConfig& c) { c.initial_flash = test::pattern(0x3000); }));
  upload_stub(host);
  auto frames = host.exchange(Op::read_flash, words({0, 0x2800, 0x1000, 64}));
  ASSERT_EQ(frames.size(), 2u);  // the ack, then one 4 KiB frame: 4096 - 0 >= 64
  EXPECT_EQ(frames[1].size(), 0x1000u);
  EXPECT_TRUE(host.take_frames().empty());
  host.write(slip::encode_frame(words({0x1000})));
  frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  host.write(slip::encode_frame(words({0x2000})));
  frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].size(), 0x800u);
  host.write(slip::encode_frame(words({0x2800})));
  frames = host.take_frames();
  ASSERT_EQ(frames.size(), 1u);  // the digest
  const Md5Digest digest = md5(ByteView{test::pattern(0x3000)}.first(0x2800));
  EXPECT_EQ(frames[0], Bytes(digest.begin(), digest.end()));
  sync(host, 0);  // back to commands
}

TEST(SimChipStub, ReadFlashWaitsWhileTheOutputIsFull) {
  SimConfig config;
  config.limits.stream_high_water = 0x3000;
  Host host("esp32", config);
  upload_stub(host);
  host.chip.receive(test::request(Op::read_flash, words({0, 0x100000, 0x1000, 0xFFFFFFFF})),
                    host.now);
  EXPECT_LE(host.chip.pending_output().size(), 0x3000u + 0x2100u);
  host.take_output();  // consuming lets the stub go on
  EXPECT_GT(host.reader.frames.size(), 3u);
}

TEST(SimChipStub, EraseRegionAndEraseFlash) {
  Host host("esp32", make_config([](SimConfig& c) { c.initial_flash = Bytes(0x30000, 0x00); }));
  upload_stub(host);
  EXPECT_TRUE(status_of(host.command(Op::erase_region, words({0x1000, 0x2000})), 2).is_ok());
  EXPECT_EQ(stub_read_flash(host, 0, 0x4000),
            test::concat(test::concat(Bytes(0x1000, 0), Bytes(0x2000, 0xFF)), Bytes(0x1000, 0)));
  EXPECT_TRUE(status_of(host.command(Op::erase_flash, {}), 2).is_ok());
  EXPECT_EQ(host.chip.flash().size(), 4u << 20);
  EXPECT_TRUE(std::all_of(host.chip.flash().begin(), host.chip.flash().end(),
                          [](Byte b) { return b == 0xFF; }));
}

struct StubErrorCase {
  const char* what;
  Op op;
  Bytes data;
  std::uint32_t checksum;
  Status expected;
};

TEST(SimChipStub, RejectsBadRequestsWithTheStubsErrorCodes) {
  const Bytes payload = test::pattern(64);
  Bytes block;
  append_data_block(block, 0, payload);
  const std::vector<StubErrorCase> cases = {
      {"SYNC of 35 bytes", Op::sync, Bytes(35, 0x55), 0, stub_status(StubError::bad_data_len)},
      {"READ_REG of 8 bytes", Op::read_reg, Bytes(8, 0), 0, stub_status(StubError::bad_data_len)},
      {"FLASH_BEGIN with 0x8000 blocks", Op::flash_begin, words({0x8000, 1, 0x8000, 0}), 0,
       stub_status(StubError::bad_blocksize)},
      {"FLASH_BEGIN with the ROM's 5 words", Op::flash_begin, words({0, 0, 0x4000, 0, 0}), 0,
       stub_status(StubError::bad_data_len)},
      {"FLASH_DATA without FLASH_BEGIN", Op::flash_data, block, checksum(payload),
       stub_status(StubError::not_in_flash_mode)},
      {"FLASH_END without FLASH_BEGIN", Op::flash_end, words({1}), 0,
       stub_status(StubError::not_in_flash_mode)},
      {"READ_FLASH_SLOW (ROM only)", Op::read_flash_slow, words({0, 64}), 0,
       stub_status(StubError::cmd_not_implemented)},
      {"GET_SECURITY_INFO on the ESP32 stub",
       Op::get_security_info,
       {},
       0,
       stub_status(StubError::cmd_not_implemented)},
      {"an unknown opcode",
       static_cast<Op>(0x55),
       {},
       0,
       stub_status(StubError::cmd_not_implemented)},
      {"ERASE_REGION at an odd offset", Op::erase_region, words({0x800, 0x1000}), 0,
       stub_status(StubError::erase_unaligned_offset)},
      {"ERASE_REGION of an odd size", Op::erase_region, words({0x1000, 0x800}), 0,
       stub_status(StubError::erase_unaligned_size)},
      {"ERASE_REGION starting past the flash", Op::erase_region, words({0x401000, 0x1000}), 0,
       stub_status(StubError::erase_sector_failed)},
      {"ERASE_REGION with a block past the flash", Op::erase_region, words({0x3F0000, 0x30000}), 0,
       stub_status(StubError::erase_block_failed)},
      {"ERASE_REGION ending past the flash", Op::erase_region, words({0x3F0000, 0x20000}), 0,
       stub_status(StubError::erase_tail_failed)},
      {"SPI_FLASH_MD5 past the flash", Op::spi_flash_md5, words({0x3FF000, 0x2000, 0, 0}), 0,
       stub_status(StubError::md5_read_failed)},
      {"READ_FLASH past the flash", Op::read_flash, words({0x3FF000, 0x2000, 0x1000, 64}), 0,
       stub_status(StubError::failed_spi_op)},
      {"MEM_DATA past MEM_BEGIN's size", Op::mem_data, block, 0,
       stub_status(StubError::not_in_flash_mode)},
      {"a packet longer than the stub's buffer", Op::flash_data, Bytes(0x4011, 0), 0,
       stub_status(StubError::bad_data_len, 0xEE)},
  };
  for (const StubErrorCase& c : cases) {
    Host host = download_mode_host();
    upload_stub(host);
    host.command(Op::spi_set_params, words({0, 4u << 20, 0x10000, 0x1000, 0x100, 0xFFFF}));
    const Reply reply = host.command(c.op, c.data, c.checksum);
    EXPECT_EQ(reply.op, c.op) << c.what;
    EXPECT_EQ(reply.value, 0u) << c.what;
    EXPECT_EQ(reply.data.size(), 2u) << c.what;
    EXPECT_EQ(status_of(reply, 2), c.expected) << c.what;
  }

  Host host = download_mode_host();
  upload_stub(host);
  // Bad length word, bad checksum.
  host.command(Op::flash_begin, words({128, 2, 64, 0x1000}));
  Bytes bad_length = block;
  bad_length[0] = 63;
  EXPECT_EQ(status_of(host.command(Op::flash_data, bad_length, checksum(payload)), 2),
            stub_status(StubError::bad_data_len));
  EXPECT_EQ(status_of(host.command(Op::flash_data, block, checksum(payload) ^ 0x100), 2),
            stub_status(StubError::bad_data_checksum));  // the whole 32-bit field counts
  EXPECT_TRUE(status_of(host.command(Op::flash_data, block, checksum(payload)), 2).is_ok());
  EXPECT_EQ(status_of(host.command(Op::flash_end, words({1})), 2),
            stub_status(StubError::not_enough_data));
  // A corrupt stream is reported with the next block, or at the end.
  host.command(Op::flash_defl_begin, words({0x1000, 2, 0x4000, 0x1000}));
  const Bytes junk{0x78, 0xDA, 0xFF, 0xFF};
  EXPECT_TRUE(status_of(host.data_command(Op::flash_defl_data, 0, junk), 2).is_ok());
  EXPECT_EQ(status_of(host.data_command(Op::flash_defl_data, 1, junk), 2),
            stub_status(StubError::inflate_error));
  // Too much data for MEM_BEGIN's size.
  host.command(Op::mem_begin, words({16, 1, 0x1800, 0x40090000}));
  EXPECT_EQ(status_of(host.data_command(Op::mem_data, 0, Bytes(20, 0)), 2),
            stub_status(StubError::too_much_data));
  EXPECT_EQ(status_of(host.command(Op::mem_end, words({1, 0})), 2),
            stub_status(StubError::not_enough_data));
}

TEST(SimChipStub, C3StubAnswersGetSecurityInfo) {
  Host host = download_mode_host("esp32c3");
  upload_stub(host);
  const Reply reply = host.command(Op::get_security_info, {});
  EXPECT_EQ(reply.data.size(), 22u);
  EXPECT_EQ(load_u32(reply.data, 12), 5u);
}

TEST(SimChipStub, ChangeBaudrateThenAHostLeftBehindSeesGarbage) {
  Host host = download_mode_host();
  upload_stub(host);
  EXPECT_TRUE(status_of(host.command(Op::change_baudrate, words({921600, 115200})), 2).is_ok());
  EXPECT_EQ(host.chip.uart_baud(), 921600u);
  // The host still at 115200: requests arrive as junk, nothing comes back.
  EXPECT_TRUE(host.exchange(Op::sync, sync_data()).empty());
  host.chip.set_host_baud(921600);
  sync(host, 0);
  // The chip answers, the host listens at another rate: junk without frame bytes.
  host.chip.set_host_baud(115200);
  host.write(test::request(Op::sync, sync_data()));
  host.chip.set_host_baud(921600);
  EXPECT_TRUE(host.take_frames().empty());
}

TEST(SimChipStub, FlashEndWithRebootGoesBackToTheRom) {
  // esptool --after no_reset with the stub: FLASH_BEGIN(0, 0) and FLASH_END(0).
  Host host = download_mode_host();
  upload_stub(host);
  host.command(Op::flash_begin, words({0, 0, 0x4000, 0}));
  EXPECT_TRUE(status_of(host.command(Op::flash_end, words({0})), 2).is_ok());
  EXPECT_EQ(host.chip.state(), SimState::stub);
  host.wait(milliseconds(10));
  EXPECT_EQ(host.chip.state(), SimState::download);
  EXPECT_NE(host.take_text().find("rst:0xc (SW_CPU_RESET),boot:0x3"), std::string::npos);
  sync(host, rom_sync_value);
}

TEST(SimChipStub, RunUserCodeHasNoReply) {
  Host host = download_mode_host();
  upload_stub(host);
  EXPECT_TRUE(host.exchange(Op::run_user_code, {}).empty());
  EXPECT_EQ(host.chip.state(), SimState::app);
}

// ---------------------------------------------------------------------------------------
// Configuration

TEST(SimChipConfig, ValidatesFlashSizeContentsAndRevision) {
  const ChipInfo& esp32 = **find_chip("esp32");
  EXPECT_FALSE(SimChip::validate(esp32, {}));
  EXPECT_EQ(SimChip::validate(esp32, make_config([](SimConfig& c) { c.flash_size = 3u << 20; })),
            errc::invalid_flash_size);
  EXPECT_EQ(SimChip::validate(esp32, make_config([](SimConfig& c) { c.flash_size = 32u << 20; })),
            errc::invalid_flash_size);
  EXPECT_EQ(SimChip::validate(esp32, make_config([](SimConfig& c) {
                                c.flash_size = 1u << 20;
                                c.initial_flash = Bytes((1u << 20) + 1);
                              })),
            errc::initial_flash_too_large);
  EXPECT_EQ(SimChip::validate(esp32, make_config([](SimConfig& c) {
                                c.revision = ChipRevision{4, 0};
                              })),
            errc::invalid_revision);
  // Invalid values fall back to defaults.
  const SimChip chip(esp32, make_config([](SimConfig& c) { c.flash_size = 3u << 20; }));
  EXPECT_EQ(chip.flash().size(), 4u << 20);
}

TEST(SimChipConfig, MacAndFlashContentsAreConfigurable) {
  const MacAddress mac{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  Host host("esp32s3", make_config([&](SimConfig& c) {
              c.flash_size = 1u << 20;
              c.initial_flash = Bytes{0xE9, 0x03};
              c.mac = mac;
            }));
  EXPECT_EQ(host.chip.flash().size(), 1u << 20);
  EXPECT_EQ(host.chip.flash()[0], 0xE9);
  EXPECT_EQ(mac_from_words(read_reg(host, 0x60007044), read_reg(host, 0x60007048)), mac);
  EXPECT_FALSE(host.chip.flash_changes());
}

}  // namespace
}  // namespace ttynet::esp
