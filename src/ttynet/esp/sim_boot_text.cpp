#include "ttynet/esp/sim_boot_text.hpp"

#include <iterator>

#include <fmt/format.h>

namespace ttynet::esp {

std::string rom_boot_text(const SimBootFacts& facts, ResetReason reason, bool download) {
  const ChipInfo& chip = facts.chip;
  const RomText& rom = chip.rom;
  const bool early = facts.revision.major < rom.early_before_major && !rom.early_banner.empty();
  std::string text{early ? rom.early_banner : rom.banner};
  text += reason == ResetReason::software ? rom.software_reset : rom.power_on_reset;
  fmt::format_to(std::back_inserter(text), ",boot:{:#x} ({})\r\n",
                 download ? chip.strap_download : chip.strap_spi_boot,
                 download ? rom.download_mode : rom.flash_mode);
  text += download ? rom.waiting : rom.flash_boot;
  return text;
}

std::string bootloader_log(const SimBootFacts& facts, std::uint64_t ms) {
  const std::string_view name = facts.chip.name;
  std::string log;
  auto out = std::back_inserter(log);
  const std::uint64_t t = ms - 4;
  fmt::format_to(out, "I ({}) boot: ESP-IDF v5.1.4 2nd stage bootloader\r\n", t);
  fmt::format_to(out, "I ({}) boot: compile time Jun 12 2024 10:03:17\r\n", t);
  if (facts.chip.cpu_cores > 1) {
    fmt::format_to(out, "I ({}) boot: Multicore bootloader\r\n", t);
  }
  fmt::format_to(out, "I ({}) boot: chip revision: v{}.{}\r\n", t + 4, facts.revision.major,
                 facts.revision.minor);
  fmt::format_to(out, "I ({}) boot.{}: SPI Speed      : 40MHz\r\n", t + 8, name);
  fmt::format_to(out, "I ({}) boot.{}: SPI Mode       : DIO\r\n", t + 12, name);
  fmt::format_to(out, "I ({}) boot.{}: SPI Flash Size : {}MB\r\n", t + 17, name,
                 facts.flash_size >> 20);
  fmt::format_to(out, "I ({}) boot: Enabling RNG early entropy source...\r\n", t + 21);
  fmt::format_to(out, "I ({}) boot: Partition Table:\r\n", t + 27);
  fmt::format_to(out, "I ({}) boot: ## Label            Usage          Type ST Offset   Length\r\n",
                 t + 30);
  fmt::format_to(
      out, "I ({}) boot:  0 nvs              WiFi data        01 02 00009000 00006000\r\n", t + 38);
  fmt::format_to(
      out, "I ({}) boot:  1 phy_init         RF data          01 01 0000f000 00001000\r\n", t + 45);
  fmt::format_to(
      out, "I ({}) boot:  2 factory          factory app      00 00 00010000 00100000\r\n", t + 53);
  fmt::format_to(out, "I ({}) boot: End of partition table\r\n", t + 60);
  fmt::format_to(out, "I ({}) boot: Loaded app from partition at offset 0x10000\r\n", t + 66);
  fmt::format_to(out, "I ({}) boot: Disabling RNG early entropy source...\r\n", t + 72);
  return log;
}

std::string app_start_log(const SimBootFacts& facts, std::uint64_t ms) {
  const MacAddress& mac = facts.mac;
  std::string log;
  auto out = std::back_inserter(log);
  fmt::format_to(out, "I ({}) cpu_start: Pro cpu start user code\r\n", ms - 10);
  fmt::format_to(out, "I ({}) app_init: Project name:     ttynet-sim\r\n", ms - 6);
  fmt::format_to(out, "I ({}) app_init: ESP-IDF:          v5.1.4\r\n", ms - 3);
  fmt::format_to(out,
                 "I ({}) main: simulated {} (revision v{}.{}), {}MB flash, "
                 "MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\r\n",
                 ms, facts.chip.chip_name, facts.revision.major, facts.revision.minor,
                 facts.flash_size >> 20, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return log;
}

std::string app_tick_line(std::uint64_t ms, std::uint64_t tick, std::uint64_t uptime_seconds) {
  return fmt::format("I ({}) main: tick {}, uptime {} s\r\n", ms, tick, uptime_seconds);
}

}  // namespace ttynet::esp
