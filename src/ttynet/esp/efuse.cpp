#include "ttynet/esp/efuse.hpp"

#include <array>

namespace ttynet::esp {
namespace {

// One field: `count` bits of a word, from bit `low`.
struct Bits {
  unsigned low;
  unsigned count;
  std::uint32_t get(std::uint32_t word) const { return (word >> low) & mask(); }
  void put(std::uint32_t& word, std::uint32_t value) const { word |= (value & mask()) << low; }
  std::uint32_t mask() const { return (std::uint32_t{1} << count) - 1; }
};

// The ESP32 keeps its major revision as three scattered bits with these values.
constexpr std::array<std::uint32_t, 4> esp32_major_bits = {0b000, 0b001, 0b011, 0b111};

std::uint8_t esp32_major_from_bits(std::uint32_t bits) {
  for (std::size_t major = esp32_major_bits.size(); major-- > 0;) {
    if (bits == esp32_major_bits[major]) return static_cast<std::uint8_t>(major);
  }
  return 0;
}

// ESP32: eFuse block 0 words 3..6 (from efuse_base), then APB_CTL_DATE.
namespace esp32 {
constexpr std::uint32_t word3 = 0x0C, word4 = 0x10, word5 = 0x14, word6 = 0x18;
constexpr Bits single_core{0, 1}, bt_disabled{1, 1}, package_high{2, 1}, package_low{9, 3},
    cpu_160mhz{12, 1}, cpu_rated{13, 1}, blk3_partial{14, 1}, revision_bit0{15, 1};  // word 3
constexpr Bits ck8m{0, 8}, vref{8, 5};                                               // word 4
constexpr Bits revision_bit1{20, 1}, minor{24, 2};                                   // word 5
constexpr Bits coding_scheme{0, 2};                                                  // word 6
constexpr Bits revision_bit2{31, 1};                                                 // APB_CTL_DATE
}  // namespace esp32

// ESP32-C3/S3: eFuse block 1 words 3..5 (from efuse_block1).
namespace block1 {
constexpr std::uint32_t word3 = 0x0C, word4 = 0x10, word5 = 0x14;
constexpr Bits minor_low{18, 3}, package{21, 3}, flash_cap{27, 3};  // word 3
constexpr Bits psram_cap{3, 2};                                     // word 4
constexpr Bits minor_high{23, 1}, major{24, 2};                     // word 5
}  // namespace block1

}  // namespace

std::vector<std::uint32_t> efuse_addresses(const ChipInfo& chip) {
  if (chip.efuse_layout == EfuseLayout::esp32) {
    const std::uint32_t base = chip.efuse_base;
    return {base + esp32::word3, base + esp32::word4, base + esp32::word5, base + esp32::word6,
            esp32_apb_ctl_date};
  }
  const std::uint32_t base = chip.efuse_block1;
  return {base + block1::word3, base + block1::word4, base + block1::word5};
}

std::vector<RegisterWord> encode_efuses(const ChipInfo& chip, const EfuseFields& fields) {
  const std::vector<std::uint32_t> addresses = efuse_addresses(chip);
  std::vector<std::uint32_t> words(addresses.size(), 0);
  if (chip.efuse_layout == EfuseLayout::esp32) {
    const std::uint32_t major_bits = esp32_major_bits[fields.revision.major & 3u];
    esp32::single_core.put(words[0], fields.single_core);
    esp32::bt_disabled.put(words[0], fields.bt_disabled);
    esp32::package_low.put(words[0], fields.package);
    esp32::package_high.put(words[0], fields.package >> 3);
    esp32::cpu_160mhz.put(words[0], fields.cpu_160mhz);
    esp32::cpu_rated.put(words[0], fields.cpu_rated);
    esp32::blk3_partial.put(words[0], fields.blk3_partially_reserved);
    esp32::revision_bit0.put(words[0], major_bits);
    esp32::ck8m.put(words[1], fields.ck8m);
    esp32::vref.put(words[1], fields.vref);
    esp32::revision_bit1.put(words[2], major_bits >> 1);
    esp32::minor.put(words[2], fields.revision.minor);
    esp32::coding_scheme.put(words[3], fields.coding_scheme);
    esp32::revision_bit2.put(words[4], major_bits >> 2);
  } else {
    block1::minor_low.put(words[0], fields.revision.minor);
    block1::package.put(words[0], fields.package);
    block1::flash_cap.put(words[0], fields.flash_cap);
    block1::psram_cap.put(words[1], fields.psram_cap);
    block1::minor_high.put(words[2], fields.revision.minor >> 3);
    block1::major.put(words[2], fields.revision.major);
  }
  std::vector<RegisterWord> out;
  for (std::size_t i = 0; i < addresses.size(); ++i) out.push_back({addresses[i], words[i]});
  return out;
}

EfuseFields decode_efuses(const ChipInfo& chip, std::span<const std::uint32_t> values) {
  std::array<std::uint32_t, 5> w{};
  for (std::size_t i = 0; i < values.size() && i < w.size(); ++i) w[i] = values[i];
  EfuseFields fields;
  if (chip.efuse_layout == EfuseLayout::esp32) {
    const std::uint32_t major_bits = esp32::revision_bit2.get(w[4]) << 2 |
                                     esp32::revision_bit1.get(w[2]) << 1 |
                                     esp32::revision_bit0.get(w[0]);
    fields.revision = {esp32_major_from_bits(major_bits),
                       static_cast<std::uint8_t>(esp32::minor.get(w[2]))};
    fields.package = esp32::package_low.get(w[0]) | esp32::package_high.get(w[0]) << 3;
    fields.single_core = esp32::single_core.get(w[0]) != 0;
    fields.bt_disabled = esp32::bt_disabled.get(w[0]) != 0;
    fields.cpu_160mhz = esp32::cpu_160mhz.get(w[0]) != 0;
    fields.cpu_rated = esp32::cpu_rated.get(w[0]) != 0;
    fields.blk3_partially_reserved = esp32::blk3_partial.get(w[0]) != 0;
    fields.ck8m = esp32::ck8m.get(w[1]);
    fields.vref = esp32::vref.get(w[1]);
    fields.coding_scheme = esp32::coding_scheme.get(w[3]);
  } else {
    fields.revision = {
        static_cast<std::uint8_t>(block1::major.get(w[2])),
        static_cast<std::uint8_t>(block1::minor_high.get(w[2]) << 3 | block1::minor_low.get(w[0]))};
    fields.package = block1::package.get(w[0]);
    fields.flash_cap = block1::flash_cap.get(w[0]);
    fields.psram_cap = block1::psram_cap.get(w[1]);
  }
  return fields;
}

}  // namespace ttynet::esp
