#pragma once
// Chip descriptions: one plain row per supported Espressif chip, read by the flasher (chip
// detection, MAC, flash ID) and by the simulated chip (what its ROM answers and prints).
// Values are esptool's (v4.8.1 targets/*.py) and the ROMs' own output; see
// docs/reference/esp-loader-protocol.md §4 to §8. Only data here; behaviour lives with its users.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::esp {

// Chip revision as esptool prints it: v<major>.<minor>.
struct ChipRevision {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  friend bool operator==(const ChipRevision&, const ChipRevision&) = default;
};

// The SPI flash controller registers esptool drives for "user" SPI commands (RDID, SFDP).
struct SpiRegisters {
  std::uint32_t base;
  std::uint32_t usr_offset;
  std::uint32_t usr1_offset;
  std::uint32_t usr2_offset;
  std::uint32_t mosi_dlen_offset;
  std::uint32_t miso_dlen_offset;
  std::uint32_t w0_offset;
  bool address_msb_aligned;  // ADDR holds the address left-justified (ESP32), else right

  constexpr std::uint32_t cmd() const { return base; }
  constexpr std::uint32_t addr() const { return base + 0x04; }
  constexpr std::uint32_t usr() const { return base + usr_offset; }
  constexpr std::uint32_t usr1() const { return base + usr1_offset; }
  constexpr std::uint32_t usr2() const { return base + usr2_offset; }
  constexpr std::uint32_t mosi_dlen() const { return base + mosi_dlen_offset; }
  constexpr std::uint32_t miso_dlen() const { return base + miso_dlen_offset; }
  constexpr std::uint32_t w0() const { return base + w0_offset; }
};

// Bits of those registers.
namespace spi {
inline constexpr std::uint32_t cmd_usr = 1u << 18;  // start a user command; cleared when done
inline constexpr std::uint32_t usr_command = 1u << 31;
inline constexpr std::uint32_t usr_addr = 1u << 30;
inline constexpr std::uint32_t usr_dummy = 1u << 29;
inline constexpr std::uint32_t usr_miso = 1u << 28;
inline constexpr std::uint32_t usr_mosi = 1u << 27;
inline constexpr unsigned usr1_addr_bitlen_shift = 26;  // address bits - 1, 6 bits
inline constexpr unsigned usr2_command_bitlen_shift = 28;
inline constexpr std::size_t data_words = 16;  // W0..W15
}  // namespace spi

// How chip revision and package are encoded in the eFuse words esptool reads.
enum class EfuseLayout : std::uint8_t {
  esp32,   // read block 0 words at efuse_base + 4n (package w3, revision w3/w5 + APB_CTL_DATE)
  block1,  // ESP32-C3/S3: block 1 at efuse_block1 (package word 3, revision words 3 and 5)
};

enum class SecurityInfoSupport : std::uint8_t {
  none,             // ESP8266 and ESP32 ROMs: unknown command
  without_chip_id,  // ESP32-S2: 12 bytes
  full,             // 20 bytes: flags, crypt count, 7 key purposes, chip id, API version
};

// What the ROM prints on the UART when it starts. Lines end in CR LF.
struct RomText {
  std::string_view banner;        // lines before the reset line
  std::string_view early_banner;  // banner of silicon before `early_before_major`, if any
  std::uint8_t early_before_major;
  std::string_view power_on_reset;  // "rst:0x1 (POWERON_RESET)"
  std::string_view software_reset;  // after a reboot requested over the loader
  std::string_view download_mode;   // text after boot:0xNN for download mode
  std::string_view flash_mode;      // text after boot:0xNN for SPI boot
  std::string_view waiting;         // download mode's last line
  std::string_view flash_boot;      // SPI boot: lines up to the jump to the bootloader
};

struct ChipInfo {
  std::string_view name;                        // "esp32c3": --chip and sim:// spelling
  std::string_view chip_name;                   // "ESP32-C3": esptool's CHIP_NAME
  std::span<const std::uint32_t> magic_values;  // CHIP_DETECT_MAGIC_VALUE, all ECOs
  std::uint32_t detect_magic;   // the value the simulated ROM answers (default revision)
  std::uint32_t image_chip_id;  // IMAGE_CHIP_ID, also GET_SECURITY_INFO's chip_id
  SecurityInfoSupport security_info;
  std::uint32_t security_api_version;
  std::size_t rom_status_length;    // status bytes in ROM replies (the stub always sends 2)
  bool rom_begin_has_encrypt_word;  // the ROM's FLASH_BEGIN takes a fifth word (S2 and later)
  ChipRevision default_revision;

  // MAC: bytes hi[15:8], hi[7:0], lo[31:24], lo[23:16], lo[15:8], lo[7:0].
  std::uint32_t mac_low_reg;
  std::uint32_t mac_high_reg;
  EfuseLayout efuse_layout;
  std::uint32_t efuse_base;    // ESP32: EFUSE_RD_REG_BASE; others: EFUSE_BASE
  std::uint32_t efuse_block1;  // 0 on ESP32

  std::uint32_t uart_clkdiv_reg;
  std::uint32_t xtal_mhz;
  std::uint32_t xtal_clk_divider;
  bool has_fixed_crystal;  // esptool does not estimate it (C3/S3: always 40 MHz)
  std::uint8_t cpu_cores;  // the 2nd stage bootloader says "Multicore" for more than one
  std::uint32_t gpio_strap_reg;
  std::uint8_t strap_download;   // GPIO_STRAP / "boot:0x.." in download mode
  std::uint8_t strap_spi_boot;   // ... and when booting from flash
  std::uint32_t uartdev_buf_no;  // ROM variable esptool reads to detect USB; 0 = none
  SpiRegisters spi;

  RomText rom;
  // What esptool calls the package and the embedded flash and PSRAM, by eFuse value (block1
  // layout; the ESP32's names depend on more fields and are made in esptool/chip_facts.cpp).
  // An empty name: nothing embedded.
  std::span<const std::string_view> package_names;
  std::span<const std::string_view> embedded_flash_names;
  std::span<const std::string_view> embedded_psram_names;
  std::string_view stub_greeting;  // first frame the flasher stub sends

  std::uint32_t bootloader_offset;      // where the 2nd stage bootloader lives in flash
  std::uint32_t ram_block_size;         // MEM_DATA block (ESP_RAM_BLOCK)
  std::uint32_t rom_flash_write_size;   // FLASH_DATA block with the ROM
  std::uint32_t stub_flash_write_size;  // ... with the stub
  std::uint32_t stub_max_flash_size;    // flash size the stub assumes until SPI_SET_PARAMS
};

inline constexpr std::uint32_t chip_detect_magic_reg = 0x40001000;
inline constexpr std::uint32_t flash_sector_size = 0x1000;
inline constexpr std::uint32_t flash_block_size = 0x10000;
inline constexpr std::uint32_t flash_page_size = 0x100;
inline constexpr std::uint32_t read_flash_slow_block = 64;

std::span<const ChipInfo> chips();
// By name: "esp32c3", "ESP32-C3" and "esp32-c3" all match (case and '-' ignored).
Result<const ChipInfo*> find_chip(std::string_view name);
// By the value READ_REG(chip_detect_magic_reg) returned, over every ECO's value.
Result<const ChipInfo*> find_chip_by_magic(std::uint32_t value);
// By GET_SECURITY_INFO's chip_id (only chips that report one).
Result<const ChipInfo*> find_chip_by_id(std::uint32_t chip_id);

// The data of a successful GET_SECURITY_INFO reply (before status), nothing secured:
// 20 bytes (full), 12 (without_chip_id), empty (none).
ByteBuffer security_info_data(const ChipInfo& chip);

using MacAddress = std::array<Byte, 6>;
// The MAC from the two eFuse words, as esptool assembles it.
MacAddress mac_from_words(std::uint32_t low_word, std::uint32_t high_word);
// The two eFuse words that hold `mac` (high word: MAC bytes 0 and 1 in bits 15:0).
std::array<std::uint32_t, 2> mac_to_words(const MacAddress& mac);

}  // namespace ttynet::esp
