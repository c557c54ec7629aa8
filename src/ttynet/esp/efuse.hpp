#pragma once
// The eFuse fields esptool reads to describe a chip (targets/*.py get_chip_description and
// get_chip_features), and the bits that hold them: encode_efuses() gives the register words
// for a set of fields (the simulated chip answers READ_REG with them), decode_efuses() reads
// the fields back from those words (the flasher, after reading them with READ_REG). One pair
// per ChipInfo::efuse_layout, so the two sides cannot disagree about a bit.

#include <cstdint>
#include <span>
#include <vector>

#include "ttynet/esp/chips.hpp"

namespace ttynet::esp {

// ESP32-only register esptool reads for the third revision bit.
inline constexpr std::uint32_t esp32_apb_ctl_date = 0x3FF6607C;

struct EfuseFields {
  ChipRevision revision;
  std::uint32_t package = 0;
  // EfuseLayout::esp32
  bool single_core = false;
  bool bt_disabled = false;
  bool cpu_rated = false;   // a maximum CPU frequency is burnt ...
  bool cpu_160mhz = false;  // ... 160 MHz, else 240 MHz
  bool blk3_partially_reserved = false;
  std::uint32_t vref = 0;           // ADC reference calibration, 5 bits
  std::uint32_t ck8m = 0;           // 8 MHz clock calibration, 8 bits
  std::uint32_t coding_scheme = 0;  // 2 bits: none, 3/4, repeat
  // EfuseLayout::block1
  std::uint32_t flash_cap = 0;  // embedded flash, 3 bits
  std::uint32_t psram_cap = 0;  // embedded PSRAM, 2 bits

  friend bool operator==(const EfuseFields&, const EfuseFields&) = default;
};

struct RegisterWord {
  std::uint32_t address;
  std::uint32_t value;
};

// The words decode_efuses() reads, in the order it takes their values.
std::vector<std::uint32_t> efuse_addresses(const ChipInfo& chip);
// The value of each of those addresses that holds `fields` (fields the layout lacks are
// dropped; values out of their bit range are truncated).
std::vector<RegisterWord> encode_efuses(const ChipInfo& chip, const EfuseFields& fields);
// `values[i]` is what efuse_addresses(chip)[i] read; fewer values read as zeros.
EfuseFields decode_efuses(const ChipInfo& chip, std::span<const std::uint32_t> values);

}  // namespace ttynet::esp
