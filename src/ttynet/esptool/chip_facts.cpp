#include "ttynet/esptool/chip_facts.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <span>
#include <vector>

#include "ttynet/esp/efuse.hpp"

namespace ttynet::esptool {
namespace {

// The package name and features esptool prints for an ESP32 (targets/esp32.py).
void describe_esp32(const esp::EfuseFields& fuses, ChipFacts& facts) {
  const bool v3 = fuses.revision.major == 3;
  std::string name;
  switch (fuses.package) {
    case 0:
      name = fuses.single_core ? "ESP32-S0WDQ6" : "ESP32-D0WDQ6";
      if (v3) name += "-V3";
      break;
    case 1:
      name = fuses.single_core ? "ESP32-S0WD" : "ESP32-D0WD";
      if (v3) name += "-V3";
      break;
    case 2:
      name = "ESP32-D2WD";
      break;
    case 4:
      name = "ESP32-U4WDH";
      break;
    case 5:
      name = v3 ? "ESP32-PICO-V3" : "ESP32-PICO-D4";
      break;
    case 6:
      name = "ESP32-PICO-V3-02";
      break;
    case 7:
      name = "ESP32-D0WDR2-V3";
      break;
    default:
      name = "unknown ESP32";
  }
  facts.description =
      fmt::format("{} (revision v{}.{})", name, fuses.revision.major, fuses.revision.minor);

  facts.features = {"WiFi"};
  if (!fuses.bt_disabled) facts.features.emplace_back("BT");
  facts.features.emplace_back(fuses.single_core ? "Single Core" : "Dual Core");
  if (fuses.cpu_rated) facts.features.emplace_back(fuses.cpu_160mhz ? "160MHz" : "240MHz");
  const std::uint32_t package = fuses.package;
  if (package == 2 || package == 4 || package == 5 || package == 6)
    facts.features.emplace_back("Embedded Flash");
  if (package == 6) facts.features.emplace_back("Embedded PSRAM");
  if (fuses.vref != 0) facts.features.emplace_back("VRef calibration in efuse");
  if (fuses.blk3_partially_reserved) facts.features.emplace_back("BLK3 partially reserved");
  static constexpr std::array<const char*, 4> coding = {"None", "3/4", "Repeat (UNSUPPORTED)",
                                                        "None (may contain encoding data)"};
  facts.features.emplace_back(fmt::format("Coding Scheme {}", coding[fuses.coding_scheme & 3]));
}

// The name by eFuse value from a chip-table column; `fallback` past its end.
std::string_view name_at(std::span<const std::string_view> names, std::uint32_t index,
                         std::string_view fallback = {}) {
  return index < names.size() ? names[index] : fallback;
}

// ESP32-C3/S3: names from the chip table's columns.
void describe_block1(const esp::EfuseFields& fuses, const esp::ChipInfo& chip, ChipFacts& facts) {
  facts.features = {"WiFi", "BLE"};
  for (const std::string_view embedded : {name_at(chip.embedded_flash_names, fuses.flash_cap),
                                          name_at(chip.embedded_psram_names, fuses.psram_cap)}) {
    if (!embedded.empty()) facts.features.emplace_back(embedded);
  }
  const std::string unknown = fmt::format("unknown {}", chip.chip_name);
  facts.description =
      fmt::format("{} (revision v{}.{})", name_at(chip.package_names, fuses.package, unknown),
                  fuses.revision.major, fuses.revision.minor);
}

std::uint32_t normalise_crystal(double estimate) {
  if (estimate > 45) return 48;
  if (estimate > 33) return 40;
  return 26;
}

}  // namespace

std::string format_mac(const esp::MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

std::string join_features(const std::vector<std::string>& features) {
  std::string out;
  for (const auto& feature : features) {
    if (!out.empty()) out += ", ";
    out += feature;
  }
  return out;
}

Result<esp::MacAddress, Error> read_mac(Loader& loader, const esp::ChipInfo& chip) {
  const std::uint32_t addresses[] = {chip.mac_low_reg, chip.mac_high_reg};
  auto words = loader.read_regs(addresses);
  if (!words) return words.error();
  return esp::mac_from_words((*words)[0], (*words)[1]);
}

std::vector<std::uint32_t> chip_facts_registers(const esp::ChipInfo& chip) {
  std::vector<std::uint32_t> addresses = esp::efuse_addresses(chip);
  addresses.push_back(chip.mac_low_reg);
  addresses.push_back(chip.mac_high_reg);
  if (!chip.has_fixed_crystal) addresses.push_back(chip.uart_clkdiv_reg);
  return addresses;
}

ChipFacts describe_chip(const esp::ChipInfo& chip, const RegisterValues& registers,
                        std::uint32_t host_baud) {
  std::vector<std::uint32_t> efuse_words;
  for (const std::uint32_t address : esp::efuse_addresses(chip)) {
    efuse_words.push_back(registers.at(address));
  }
  ChipFacts facts;
  const esp::EfuseFields fuses = esp::decode_efuses(chip, efuse_words);
  if (chip.efuse_layout == esp::EfuseLayout::esp32) {
    describe_esp32(fuses, facts);
  } else {
    describe_block1(fuses, chip, facts);
  }
  facts.mac = esp::mac_from_words(registers.at(chip.mac_low_reg), registers.at(chip.mac_high_reg));
  if (chip.has_fixed_crystal) {
    facts.crystal_mhz = chip.xtal_mhz;
  } else {
    const std::uint32_t divider = registers.at(chip.uart_clkdiv_reg) & 0xFFFFF;
    const double estimate = static_cast<double>(host_baud) * divider / 1e6 /
                            std::max<std::uint32_t>(chip.xtal_clk_divider, 1);
    facts.crystal_mhz = normalise_crystal(estimate);
  }
  return facts;
}

}  // namespace ttynet::esptool
