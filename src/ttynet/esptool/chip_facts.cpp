#include "ttynet/esptool/chip_facts.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace ttynet::esptool {
namespace {

constexpr std::uint32_t esp32_apb_ctl_date = 0x3FF6607C;

std::uint32_t bits(std::uint32_t word, unsigned low, unsigned count) {
  return (word >> low) & ((1u << count) - 1);
}

// A batch of register reads that stops at the first failure.
class Reader {
 public:
  explicit Reader(Loader& loader) : loader_(loader) {}
  std::uint32_t operator()(std::uint32_t address) {
    if (error_) return 0;
    auto value = loader_.read_reg(address);
    if (!value) {
      error_ = value.error();
      return 0;
    }
    return *value;
  }
  const MaybeError& error() const { return error_; }

 private:
  Loader& loader_;
  MaybeError error_;
};

void describe_esp32(Reader& read, const esp::ChipInfo& chip, ChipFacts& facts) {
  const std::uint32_t w3 = read(chip.efuse_base + 0x0C);
  const std::uint32_t w4 = read(chip.efuse_base + 0x10);
  const std::uint32_t w5 = read(chip.efuse_base + 0x14);
  const std::uint32_t w6 = read(chip.efuse_base + 0x18);
  const std::uint32_t date = read(esp32_apb_ctl_date);

  const std::uint32_t rev_bits = bits(date, 31, 1) << 2 | bits(w5, 20, 1) << 1 | bits(w3, 15, 1);
  const unsigned major = rev_bits == 7 ? 3 : rev_bits == 3 ? 2 : rev_bits == 1 ? 1 : 0;
  const unsigned minor = bits(w5, 24, 2);
  const std::uint32_t package = bits(w3, 9, 3) | bits(w3, 2, 1) << 3;
  const bool single_core = bits(w3, 0, 1) != 0;
  const bool v3 = major == 3;
  std::string name;
  switch (package) {
    case 0:
      name = single_core ? "ESP32-S0WDQ6" : "ESP32-D0WDQ6";
      if (v3) name += "-V3";
      break;
    case 1:
      name = single_core ? "ESP32-S0WD" : "ESP32-D0WD";
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
  facts.description = fmt::format("{} (revision v{}.{})", name, major, minor);

  facts.features = {"WiFi"};
  if (bits(w3, 1, 1) == 0) facts.features.emplace_back("BT");
  facts.features.emplace_back(single_core ? "Single Core" : "Dual Core");
  if (bits(w3, 13, 1) != 0) facts.features.emplace_back(bits(w3, 12, 1) ? "160MHz" : "240MHz");
  if (package == 2 || package == 4 || package == 5 || package == 6)
    facts.features.emplace_back("Embedded Flash");
  if (package == 6) facts.features.emplace_back("Embedded PSRAM");
  if (bits(w4, 8, 5) != 0) facts.features.emplace_back("VRef calibration in efuse");
  if (bits(w3, 14, 1) != 0) facts.features.emplace_back("BLK3 partially reserved");
  static constexpr std::array<const char*, 4> coding = {"None", "3/4", "Repeat (UNSUPPORTED)",
                                                        "None (may contain encoding data)"};
  facts.features.emplace_back(fmt::format("Coding Scheme {}", coding[bits(w6, 0, 2)]));
}

void describe_block1(Reader& read, const esp::ChipInfo& chip, ChipFacts& facts) {
  const std::uint32_t word3 = read(chip.efuse_block1 + 0x0C);
  const std::uint32_t word4 = read(chip.efuse_block1 + 0x10);
  const std::uint32_t word5 = read(chip.efuse_block1 + 0x14);
  const std::uint32_t package = bits(word3, 21, 3);
  const unsigned minor = bits(word5, 23, 1) << 3 | bits(word3, 18, 3);
  const unsigned major = bits(word5, 24, 2);
  const std::uint32_t flash_cap = bits(word3, 27, 3);
  std::string name;
  facts.features = {"WiFi", "BLE"};
  if (chip.name == "esp32c3") {
    static constexpr std::array<const char*, 4> names = {"ESP32-C3 (QFN32)", "ESP8685 (QFN28)",
                                                         "ESP32-C3 AZ (QFN32)", "ESP8686 (QFN24)"};
    name = package < names.size() ? names[package] : "unknown ESP32-C3";
    static constexpr std::array<const char*, 5> flash = {nullptr, "Embedded Flash 4MB",
                                                         "Embedded Flash 2MB", "Embedded Flash 1MB",
                                                         "Embedded Flash 8MB"};
    if (flash_cap < flash.size() && flash[flash_cap] != nullptr)
      facts.features.emplace_back(flash[flash_cap]);
  } else {
    static constexpr std::array<const char*, 2> names = {"ESP32-S3 (QFN56)",
                                                         "ESP32-S3-PICO-1 (LGA56)"};
    name = package < names.size() ? names[package] : "unknown ESP32-S3";
    static constexpr std::array<const char*, 3> flash = {nullptr, "Embedded Flash 8MB",
                                                         "Embedded Flash 4MB"};
    if (flash_cap < flash.size() && flash[flash_cap] != nullptr)
      facts.features.emplace_back(flash[flash_cap]);
    const std::uint32_t psram_cap = bits(word4, 3, 2);
    static constexpr std::array<const char*, 3> psram = {nullptr, "Embedded PSRAM 8MB",
                                                         "Embedded PSRAM 2MB"};
    if (psram_cap < psram.size() && psram[psram_cap] != nullptr)
      facts.features.emplace_back(psram[psram_cap]);
  }
  facts.description = fmt::format("{} (revision v{}.{})", name, major, minor);
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

Outcome<esp::MacAddress> read_mac(Loader& loader, const esp::ChipInfo& chip) {
  auto low = loader.read_reg(chip.mac_low_reg);
  if (!low) return low.error();
  auto high = loader.read_reg(chip.mac_high_reg);
  if (!high) return high.error();
  return esp::mac_from_words(*low, *high);
}

Outcome<ChipFacts> read_chip_facts(Loader& loader, const esp::ChipInfo& chip,
                                   std::uint32_t host_baud) {
  ChipFacts facts;
  Reader read(loader);
  if (chip.efuse_layout == esp::EfuseLayout::esp32) {
    describe_esp32(read, chip, facts);
  } else {
    describe_block1(read, chip, facts);
  }
  if (chip.has_fixed_crystal) {
    facts.crystal_mhz = chip.xtal_mhz;
  } else {
    const std::uint32_t divider = read(chip.uart_clkdiv_reg) & 0xFFFFF;
    const double estimate = static_cast<double>(host_baud) * divider / 1e6 /
                            std::max<std::uint32_t>(chip.xtal_clk_divider, 1);
    facts.crystal_mhz = normalise_crystal(estimate);
  }
  if (read.error()) return *read.error();
  auto mac = read_mac(loader, chip);
  if (!mac) return mac.error();
  facts.mac = *mac;
  return facts;
}

}  // namespace ttynet::esptool
