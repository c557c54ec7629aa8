#include "ttynet/esp/chips.hpp"

#include <algorithm>
#include <cctype>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/packet.hpp"

namespace ttynet::esp {
namespace {

constexpr std::uint32_t esp32_magic[] = {0x00F01D83};
// ECO1+2, ECO3, ECO6, ECO7.
constexpr std::string_view esp32c3_packages[] = {"ESP32-C3 (QFN32)", "ESP8685 (QFN28)",
                                                 "ESP32-C3 AZ (QFN32)", "ESP8686 (QFN24)"};
constexpr std::string_view esp32c3_flash[] = {"", "Embedded Flash 4MB", "Embedded Flash 2MB",
                                              "Embedded Flash 1MB", "Embedded Flash 8MB"};
constexpr std::string_view esp32s3_packages[] = {"ESP32-S3 (QFN56)", "ESP32-S3-PICO-1 (LGA56)"};
constexpr std::string_view esp32s3_flash[] = {"", "Embedded Flash 8MB", "Embedded Flash 4MB"};
constexpr std::string_view esp32s3_psram[] = {"", "Embedded PSRAM 8MB", "Embedded PSRAM 2MB"};
constexpr std::uint32_t esp32c3_magic[] = {0x6921506F, 0x1B31506F, 0x4881606F, 0x4361606F};
constexpr std::uint32_t esp32s3_magic[] = {0x00000009};

constexpr std::array<ChipInfo, 3> chip_table = {{
    {
        .name = "esp32",
        .chip_name = "ESP32",
        .magic_values = esp32_magic,
        .detect_magic = 0x00F01D83,
        .image_chip_id = 0,
        .security_info = SecurityInfoSupport::none,
        .security_api_version = 0,
        .rom_status_length = esp32_rom_status_length,
        .rom_begin_has_encrypt_word = false,
        .default_revision = {3, 0},
        .mac_low_reg = 0x3FF5A004,   // eFuse block 0 word 1
        .mac_high_reg = 0x3FF5A008,  // word 2: MAC bytes 0-1 in 15:0, CRC in 23:16
        .efuse_layout = EfuseLayout::esp32,
        .efuse_base = 0x3FF5A000,
        .efuse_block1 = 0,
        .uart_clkdiv_reg = 0x3FF40014,
        .xtal_mhz = 40,
        .xtal_clk_divider = 1,
        .has_fixed_crystal = false,
        .cpu_cores = 2,
        .gpio_strap_reg = 0x3FF44038,
        .strap_download = 0x03,
        .strap_spi_boot = 0x13,
        .uartdev_buf_no = 0,
        .spi = {0x3FF42000, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x80, true},
        .rom =
            {
                .banner = "ets Jul 29 2019 12:21:46\r\n\r\n",
                .early_banner = "ets Jun  8 2016 00:22:57\r\n\r\n",
                .early_before_major = 3,
                .power_on_reset = "rst:0x1 (POWERON_RESET)",
                .software_reset = "rst:0xc (SW_CPU_RESET)",
                .download_mode = "DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)",
                .flash_mode = "SPI_FAST_FLASH_BOOT",
                .waiting = "waiting for download\r\n",
                .flash_boot = "configsip: 0, SPIWP:0xee\r\n"
                              "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,"
                              "wp_drv:0x00\r\n"
                              "mode:DIO, clock div:2\r\n"
                              "load:0x3fff0030,len:6612\r\n"
                              "load:0x40078000,len:14788\r\n"
                              "load:0x40080400,len:3792\r\n"
                              "entry 0x40080694\r\n",
            },
        .package_names = {},  // named from several fields (esptool/chip_facts.cpp)
        .embedded_flash_names = {},
        .embedded_psram_names = {},
        .stub_greeting = "OHAI",
        .bootloader_offset = 0x1000,
        .ram_block_size = 0x1800,
        .rom_flash_write_size = 0x400,
        .stub_flash_write_size = 0x4000,
        .stub_max_flash_size = 16u << 20,
    },
    {
        .name = "esp32c3",
        .chip_name = "ESP32-C3",
        .magic_values = esp32c3_magic,
        .detect_magic = 0x1B31506F,  // ECO3, the default revision v0.3
        .image_chip_id = 5,
        .security_info = SecurityInfoSupport::full,
        .security_api_version = 0,
        .rom_status_length = esp32_rom_status_length,
        .rom_begin_has_encrypt_word = true,
        .default_revision = {0, 3},
        .mac_low_reg = 0x60008844,  // eFuse block 1 word 0
        .mac_high_reg = 0x60008848,
        .efuse_layout = EfuseLayout::block1,
        .efuse_base = 0x60008800,
        .efuse_block1 = 0x60008844,
        .uart_clkdiv_reg = 0x60000014,
        .xtal_mhz = 40,
        .xtal_clk_divider = 1,
        .has_fixed_crystal = true,
        .cpu_cores = 1,
        .gpio_strap_reg = 0x60004038,
        .strap_download = 0x04,  // GPIO9 (0x08) low, GPIO8 (0x04) high
        .strap_spi_boot = 0x0C,
        .uartdev_buf_no = 0x3FCDF07C,
        .spi = {0x60002000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58, false},
        .rom =
            {
                .banner = "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n",
                .early_banner = "",
                .early_before_major = 0,
                .power_on_reset = "rst:0x1 (POWERON)",
                .software_reset = "rst:0xc (RTC_SW_CPU_RST)",
                .download_mode = "DOWNLOAD(USB/UART0/1)",
                .flash_mode = "SPI_FAST_FLASH_BOOT",
                .waiting = "waiting for download\r\n",
                .flash_boot = "SPIWP:0xee\r\n"
                              "mode:DIO, clock div:1\r\n"
                              "load:0x3fcd5820,len:0x1714\r\n"
                              "load:0x403cc710,len:0x968\r\n"
                              "load:0x403ce710,len:0x2f9c\r\n"
                              "entry 0x403cc710\r\n",
            },
        .package_names = esp32c3_packages,
        .embedded_flash_names = esp32c3_flash,
        .embedded_psram_names = {},
        .stub_greeting = "OHAI",
        .bootloader_offset = 0x0,
        .ram_block_size = 0x1800,
        .rom_flash_write_size = 0x400,
        .stub_flash_write_size = 0x4000,
        .stub_max_flash_size = 16u << 20,
    },
    {
        .name = "esp32s3",
        .chip_name = "ESP32-S3",
        .magic_values = esp32s3_magic,
        .detect_magic = 0x00000009,
        .image_chip_id = 9,
        .security_info = SecurityInfoSupport::full,
        .security_api_version = 0,
        .rom_status_length = esp32_rom_status_length,
        .rom_begin_has_encrypt_word = true,
        .default_revision = {0, 2},
        .mac_low_reg = 0x60007044,
        .mac_high_reg = 0x60007048,
        .efuse_layout = EfuseLayout::block1,
        .efuse_base = 0x60007000,
        .efuse_block1 = 0x60007044,
        .uart_clkdiv_reg = 0x60000014,
        .xtal_mhz = 40,
        .xtal_clk_divider = 1,
        .has_fixed_crystal = true,
        .cpu_cores = 2,
        .gpio_strap_reg = 0x60004038,
        .strap_download = 0x00,  // GPIO0 (0x08) low, GPIO46 (0x04) low
        .strap_spi_boot = 0x08,
        .uartdev_buf_no = 0x3FCEF14C,
        .spi = {0x60002000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58, false},
        .rom =
            {
                .banner = "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n",
                .early_banner = "",
                .early_before_major = 0,
                .power_on_reset = "rst:0x1 (POWERON)",
                .software_reset = "rst:0xc (RTC_SW_CPU_RST)",
                .download_mode = "DOWNLOAD(USB/UART0)",
                .flash_mode = "SPI_FAST_FLASH_BOOT",
                .waiting = "waiting for download\r\n",
                .flash_boot = "SPIWP:0xee\r\n"
                              "mode:DIO, clock div:1\r\n"
                              "load:0x3fce3818,len:0x16f8\r\n"
                              "load:0x403c9700,len:0x4\r\n"
                              "load:0x403c9704,len:0xc3c\r\n"
                              "load:0x403cc700,len:0x2da0\r\n"
                              "entry 0x403c9914\r\n",
            },
        .package_names = esp32s3_packages,
        .embedded_flash_names = esp32s3_flash,
        .embedded_psram_names = esp32s3_psram,
        .stub_greeting = "OHAI",
        .bootloader_offset = 0x0,
        .ram_block_size = 0x1800,
        .rom_flash_write_size = 0x400,
        .stub_flash_write_size = 0x4000,
        .stub_max_flash_size = 64u << 20,  // the S3 stub handles 32-bit addressed flash
    },
}};

// Lower case without '-' or '_', so "ESP32-C3" and "esp32c3" compare equal.
bool same_name(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) -> int {
    while (!s.empty() && (s.front() == '-' || s.front() == '_')) {
      s.remove_prefix(1);
    }
    if (s.empty()) {
      return -1;
    }
    const int c = std::tolower(static_cast<unsigned char>(s.front()));
    s.remove_prefix(1);
    return c;
  };
  for (;;) {
    const int ca = next(a);
    const int cb = next(b);
    if (ca != cb) {
      return false;
    }
    if (ca < 0) {
      return true;
    }
  }
}

}  // namespace

std::span<const ChipInfo> chips() { return chip_table; }

Result<const ChipInfo*> find_chip(std::string_view name) {
  for (const ChipInfo& chip : chip_table) {
    if (same_name(chip.name, name) || same_name(chip.chip_name, name)) {
      return &chip;
    }
  }
  return make_error_code(errc::unknown_chip);
}

Result<const ChipInfo*> find_chip_by_magic(std::uint32_t value) {
  for (const ChipInfo& chip : chip_table) {
    if (std::find(chip.magic_values.begin(), chip.magic_values.end(), value) !=
        chip.magic_values.end()) {
      return &chip;
    }
  }
  return make_error_code(errc::unknown_chip);
}

Result<const ChipInfo*> find_chip_by_id(std::uint32_t chip_id) {
  for (const ChipInfo& chip : chip_table) {
    if (chip.security_info == SecurityInfoSupport::full && chip.image_chip_id == chip_id) {
      return &chip;
    }
  }
  return make_error_code(errc::unknown_chip);
}

ByteBuffer security_info_data(const ChipInfo& chip) {
  ByteBuffer data;
  if (chip.security_info == SecurityInfoSupport::none) {
    return data;
  }
  append_u32(data, 0);            // flags: nothing secured
  data.push_back(0);              // flash_crypt_cnt
  data.insert(data.end(), 7, 0);  // key_purposes: all user/empty
  if (chip.security_info == SecurityInfoSupport::full) {
    append_u32(data, chip.image_chip_id);
    append_u32(data, chip.security_api_version);
  }
  return data;
}

MacAddress mac_from_words(std::uint32_t low_word, std::uint32_t high_word) {
  return {static_cast<Byte>(high_word >> 8), static_cast<Byte>(high_word),
          static_cast<Byte>(low_word >> 24), static_cast<Byte>(low_word >> 16),
          static_cast<Byte>(low_word >> 8),  static_cast<Byte>(low_word)};
}

std::array<std::uint32_t, 2> mac_to_words(const MacAddress& mac) {
  const auto low = static_cast<std::uint32_t>(mac[2]) << 24 |
                   static_cast<std::uint32_t>(mac[3]) << 16 |
                   static_cast<std::uint32_t>(mac[4]) << 8 | static_cast<std::uint32_t>(mac[5]);
  const auto high = static_cast<std::uint32_t>(mac[0]) << 8 | static_cast<std::uint32_t>(mac[1]);
  return {low, high};
}

}  // namespace ttynet::esp
