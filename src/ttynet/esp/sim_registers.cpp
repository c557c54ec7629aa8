#include "ttynet/esp/sim_registers.hpp"

#include <algorithm>

#include "ttynet/esp/efuse.hpp"

namespace ttynet::esp {
namespace {

// ESP32-only registers esptool reads (targets/esp32.py) besides the eFuses.
constexpr std::uint32_t esp32_rtc_sdio_conf = 0x3FF48074;  // 0: no VDD_SDIO override
constexpr std::uint32_t esp32_rtc_cali_cfg1 = 0x3FF5F06C;  // RTC calibration, bits 31:7
// CK8M eFuse value and RTC calibration chosen so cali * ck8m = 102400: esptool's ESP32 ROM
// baud skew (baud * f_rom / f_xtal) then comes out as exactly the requested baud.
constexpr std::uint32_t esp32_ck8m = 100;
constexpr std::uint32_t esp32_rtc_cali = 1024;

// What the simulated chips have burnt: an ESP32-D0WD rated 240 MHz with calibrated ADC
// reference; C3/S3 package 0 without embedded flash. Nothing secured, coding scheme none.
EfuseFields burnt_efuses(const ChipInfo& chip, ChipRevision revision) {
  EfuseFields fields{.revision = revision};
  if (chip.efuse_layout == EfuseLayout::esp32) {
    fields.package = 1;
    fields.cpu_rated = true;
    fields.vref = 0x10;
    fields.ck8m = esp32_ck8m;
  }
  return fields;
}

void add_efuses(std::vector<std::pair<std::uint32_t, std::uint32_t>>& fixed, const ChipInfo& chip,
                ChipRevision revision) {
  for (const RegisterWord& word : encode_efuses(chip, burnt_efuses(chip, revision))) {
    fixed.emplace_back(word.address, word.value);
  }
  if (chip.efuse_layout == EfuseLayout::esp32) {
    fixed.emplace_back(chip.efuse_base, 0);  // no encryption, nothing read-protected
    fixed.emplace_back(esp32_rtc_sdio_conf, 0);
    fixed.emplace_back(esp32_rtc_cali_cfg1, esp32_rtc_cali << 7);
  } else {
    // Block 0 (security, key purposes, flash type) reads as all zeros: nothing burnt.
    for (std::uint32_t offset = 0x2C; offset <= 0x40; offset += 4) {
      fixed.emplace_back(chip.efuse_base + offset, 0);
    }
  }
}

}  // namespace

SimRegisters::SimRegisters(const ChipInfo& chip, const MacAddress& mac, ChipRevision revision,
                           std::size_t max_written)
    : chip_(chip), max_written_(max_written) {
  const auto mac_words = mac_to_words(mac);
  fixed_.emplace_back(chip_detect_magic_reg, chip.detect_magic);
  fixed_.emplace_back(chip.mac_low_reg, mac_words[0]);
  fixed_.emplace_back(chip.mac_high_reg, mac_words[1]);
  if (chip.uartdev_buf_no != 0) {
    fixed_.emplace_back(chip.uartdev_buf_no, 0);  // console on UART0, not USB
  }
  add_efuses(fixed_, chip, revision);
  std::sort(fixed_.begin(), fixed_.end());
  fixed_.erase(std::unique(fixed_.begin(), fixed_.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               fixed_.end());
  set_uart_baud(115200);
}

const std::uint32_t* SimRegisters::spi_register(std::uint32_t address) const {
  if (address < chip_.spi.base || address >= chip_.spi.base + spi_words * 4 || address % 4 != 0) {
    return nullptr;
  }
  return &spi_[(address - chip_.spi.base) / 4];
}

std::uint32_t SimRegisters::read(std::uint32_t address) const {
  if (const std::uint32_t* spi = spi_register(address)) {
    return *spi;
  }
  if (address == chip_.uart_clkdiv_reg) {
    return uart_clkdiv_;
  }
  if (address == chip_.gpio_strap_reg) {
    return strap_;
  }
  const auto fixed = std::lower_bound(fixed_.begin(), fixed_.end(),
                                      std::pair<std::uint32_t, std::uint32_t>{address, 0});
  if (fixed != fixed_.end() && fixed->first == address) {
    return fixed->second;
  }
  const auto written = written_.find(address);
  return written == written_.end() ? 0 : written->second;
}

void SimRegisters::write(std::uint32_t address, std::uint32_t value, std::uint32_t mask,
                         SimFlash& flash) {
  const std::uint32_t merged = (read(address) & ~mask) | (value & mask);
  if (const std::uint32_t* spi = spi_register(address)) {
    const auto index = static_cast<std::size_t>(spi - spi_.data());
    spi_[index] = merged;
    if (address == chip_.spi.cmd() && (merged & spi::cmd_usr) != 0) {
      run_spi_command(flash);
      spi_[index] &= ~spi::cmd_usr;  // done at once: esptool's first poll sees it clear
    }
    return;
  }
  if (address == chip_.uart_clkdiv_reg || address == chip_.gpio_strap_reg) {
    return;  // follows the baud and the straps
  }
  const auto fixed = std::lower_bound(fixed_.begin(), fixed_.end(),
                                      std::pair<std::uint32_t, std::uint32_t>{address, 0});
  if (fixed != fixed_.end() && fixed->first == address) {
    return;  // eFuse and ROM words are read-only
  }
  if (written_.size() < max_written_ || written_.contains(address)) {
    written_[address] = merged;
  }
}

void SimRegisters::set_uart_baud(std::uint32_t baud) {
  // Integer divider in bits 19:0, a 4-bit fraction in bits 23:20 (esptool masks it off).
  if (baud == 0) {
    uart_clkdiv_ = 0;
    return;
  }
  const std::uint64_t clock = std::uint64_t{chip_.xtal_mhz} * 1'000'000;
  const std::uint64_t sixteenths = (clock * 16 + baud / 2) / baud;
  uart_clkdiv_ = static_cast<std::uint32_t>((sixteenths / 16) & 0xFFFFF) |
                 static_cast<std::uint32_t>(sixteenths % 16) << 20;
}

void SimRegisters::set_boot_strap(std::uint8_t strap) { strap_ = strap; }

void SimRegisters::reset() {
  spi_.fill(0);
  written_.clear();
  flash_attached_ = false;
}

void SimRegisters::run_spi_command(SimFlash& flash) {
  const SpiRegisters& r = chip_.spi;
  const std::uint32_t usr = read(r.usr());
  if ((usr & spi::usr_command) == 0) {
    return;
  }
  const auto code = static_cast<Byte>(read(r.usr2()) & 0xFF);
  std::optional<std::uint32_t> address;
  if ((usr & spi::usr_addr) != 0) {
    const std::uint32_t bits = ((read(r.usr1()) >> spi::usr1_addr_bitlen_shift) & 0x3F) + 1;
    const std::uint32_t raw = read(r.addr());
    const std::uint32_t bit_mask = bits >= 32 ? 0xFFFFFFFF : (1u << bits) - 1;
    address = r.address_msb_aligned ? (bits >= 32 ? raw : raw >> (32 - bits)) : raw & bit_mask;
  }
  const std::size_t max_bytes = spi::data_words * 4;
  auto length_bytes = [&](std::uint32_t dlen_register) {
    return std::min<std::size_t>((std::size_t{read(dlen_register) & 0xFFFFFF} + 1 + 7) / 8,
                                 max_bytes);
  };
  ByteBuffer mosi;
  if ((usr & spi::usr_mosi) != 0) {
    const std::size_t n = length_bytes(r.mosi_dlen());
    for (std::size_t i = 0; i < n; ++i) {
      mosi.push_back(
          static_cast<Byte>(read(static_cast<std::uint32_t>(r.w0() + i / 4 * 4)) >> (8 * (i % 4))));
    }
  }
  const std::size_t miso_length = (usr & spi::usr_miso) != 0 ? length_bytes(r.miso_dlen()) : 0;
  ByteBuffer miso = flash_attached_ ? flash.run_command(code, address, mosi, miso_length)
                                    : ByteBuffer(miso_length, Byte{0xFF});
  for (std::size_t word = 0; word * 4 < miso.size(); ++word) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4 && word * 4 + i < miso.size(); ++i) {
      value |= static_cast<std::uint32_t>(miso[word * 4 + i]) << (8 * i);
    }
    spi_[(r.w0_offset / 4) + word] = value;
  }
}

}  // namespace ttynet::esp
