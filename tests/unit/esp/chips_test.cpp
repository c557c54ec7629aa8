#include "ttynet/esp/chips.hpp"

#include <gtest/gtest.h>

#include <string>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/packet.hpp"

namespace ttynet::esp {
namespace {

const ChipInfo& chip(std::string_view name) {
  const auto found = find_chip(name);
  EXPECT_TRUE(found) << name;
  return **found;
}

TEST(Chips, ListsEsp32Esp32c3AndEsp32s3) {
  ASSERT_EQ(chips().size(), 3u);
  EXPECT_EQ(chips()[0].name, "esp32");
  EXPECT_EQ(chips()[1].name, "esp32c3");
  EXPECT_EQ(chips()[2].name, "esp32s3");
}

TEST(Chips, FindsByNameInAnySpelling) {
  for (const std::string_view name : {"esp32c3", "ESP32-C3", "esp32-c3", "Esp32_C3"}) {
    const auto found = find_chip(name);
    ASSERT_TRUE(found) << name;
    EXPECT_EQ((*found)->chip_name, "ESP32-C3");
  }
  EXPECT_EQ(chip("ESP32").name, "esp32");
  EXPECT_EQ(find_chip("esp8266").error(), errc::unknown_chip);
  EXPECT_EQ(find_chip("esp32c").error(), errc::unknown_chip);
  EXPECT_EQ(find_chip("").error(), errc::unknown_chip);
}

TEST(Chips, FindsByEveryMagicValue) {
  EXPECT_EQ((*find_chip_by_magic(0x00F01D83))->name, "esp32");
  for (const std::uint32_t magic : {0x6921506Fu, 0x1B31506Fu, 0x4881606Fu, 0x4361606Fu}) {
    EXPECT_EQ((*find_chip_by_magic(magic))->name, "esp32c3");
  }
  EXPECT_EQ((*find_chip_by_magic(0x9))->name, "esp32s3");
  EXPECT_EQ(find_chip_by_magic(0x000007C6).error(), errc::unknown_chip);  // ESP32-S2
  for (const ChipInfo& c : chips()) {
    EXPECT_EQ((*find_chip_by_magic(c.detect_magic))->name, c.name);
  }
}

TEST(Chips, FindsBySecurityInfoChipIdExceptEsp32) {
  EXPECT_EQ((*find_chip_by_id(5))->name, "esp32c3");
  EXPECT_EQ((*find_chip_by_id(9))->name, "esp32s3");
  EXPECT_EQ(find_chip_by_id(0).error(), errc::unknown_chip);  // ESP32 never reports one
  EXPECT_EQ(find_chip_by_id(13).error(), errc::unknown_chip);
}

TEST(Chips, SecurityInfoReplies) {
  EXPECT_TRUE(security_info_data(chip("esp32")).empty());
  for (const auto& [name, id] : {std::pair{"esp32c3", 5u}, std::pair{"esp32s3", 9u}}) {
    const ByteBuffer data = security_info_data(chip(name));
    ASSERT_EQ(data.size(), 20u);
    EXPECT_EQ(load_u32(data, 0), 0u);   // flags: nothing secured
    EXPECT_EQ(data[4], 0);              // flash_crypt_cnt
    EXPECT_EQ(load_u32(data, 12), id);  // chip id = IMAGE_CHIP_ID
  }
}

TEST(Chips, StatusLengthIsFourForTheseRoms) {
  for (const ChipInfo& c : chips()) {
    EXPECT_EQ(c.rom_status_length, 4u) << c.name;
  }
}

TEST(Chips, MacAssemblesAsEsptoolDoes) {
  // Observed: eFuse word 1 = 0x287AD884, word 2 = 0x005A246F -> 24:6f:28:7a:d8:84.
  const MacAddress mac = mac_from_words(0x287AD884, 0x005A246F);
  EXPECT_EQ(mac, (MacAddress{0x24, 0x6F, 0x28, 0x7A, 0xD8, 0x84}));
  const auto words = mac_to_words(mac);
  EXPECT_EQ(words[0], 0x287AD884u);
  EXPECT_EQ(words[1], 0x0000246Fu);  // the CRC byte is not part of the MAC
  EXPECT_EQ(chip("esp32").mac_low_reg, 0x3FF5A004u);
  EXPECT_EQ(chip("esp32").mac_high_reg, 0x3FF5A008u);
  EXPECT_EQ(chip("esp32c3").mac_low_reg, 0x60008844u);
  EXPECT_EQ(chip("esp32s3").mac_low_reg, 0x60007044u);
}

TEST(Chips, SpiRegistersForTheRdidFlow) {
  const SpiRegisters& esp32 = chip("esp32").spi;
  EXPECT_EQ(esp32.cmd(), 0x3FF42000u);
  EXPECT_EQ(esp32.usr(), 0x3FF4201Cu);
  EXPECT_EQ(esp32.usr2(), 0x3FF42024u);
  EXPECT_EQ(esp32.miso_dlen(), 0x3FF4202Cu);
  EXPECT_EQ(esp32.w0(), 0x3FF42080u);
  EXPECT_TRUE(esp32.address_msb_aligned);
  for (const std::string_view name : {"esp32c3", "esp32s3"}) {
    const SpiRegisters& spi = chip(name).spi;
    EXPECT_EQ(spi.cmd(), 0x60002000u);
    EXPECT_EQ(spi.usr(), 0x60002018u);
    EXPECT_EQ(spi.usr2(), 0x60002020u);
    EXPECT_EQ(spi.miso_dlen(), 0x60002028u);
    EXPECT_EQ(spi.w0(), 0x60002058u);
    EXPECT_FALSE(spi.address_msb_aligned);
  }
}

TEST(Chips, CrystalAndUartDivider) {
  EXPECT_EQ(chip("esp32").uart_clkdiv_reg, 0x3FF40014u);
  EXPECT_EQ(chip("esp32").xtal_mhz, 40u);
  EXPECT_FALSE(chip("esp32").has_fixed_crystal);
  EXPECT_TRUE(chip("esp32c3").has_fixed_crystal);
}

TEST(Chips, RomTextEndsLinesWithCrLf) {
  for (const ChipInfo& c : chips()) {
    for (const std::string_view text : {c.rom.banner, c.rom.waiting, c.rom.flash_boot}) {
      ASSERT_GE(text.size(), 2u);
      EXPECT_EQ(text.substr(text.size() - 2), "\r\n") << c.name;
    }
    EXPECT_EQ(c.rom.waiting, "waiting for download\r\n");
    EXPECT_EQ(c.stub_greeting, "OHAI");
  }
  EXPECT_EQ(chip("esp32").rom.banner, "ets Jul 29 2019 12:21:46\r\n\r\n");
  EXPECT_EQ(chip("esp32").rom.download_mode, "DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)");
  EXPECT_EQ(chip("esp32").strap_download, 0x03);
  EXPECT_EQ(chip("esp32").strap_spi_boot, 0x13);
}

TEST(Chips, BlockSizes) {
  for (const ChipInfo& c : chips()) {
    EXPECT_EQ(c.ram_block_size, 0x1800u);
    EXPECT_EQ(c.rom_flash_write_size, 0x400u);
    EXPECT_EQ(c.stub_flash_write_size, 0x4000u);
  }
  EXPECT_EQ(chip("esp32").bootloader_offset, 0x1000u);
  EXPECT_EQ(chip("esp32c3").bootloader_offset, 0x0u);
}

}  // namespace
}  // namespace ttynet::esp
