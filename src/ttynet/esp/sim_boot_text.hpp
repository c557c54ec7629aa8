#pragma once
// What the simulated chip prints when it boots: the ROM's reset lines, then, booting from
// flash, an ESP-IDF 2nd stage bootloader's log and an application's start and tick lines.
// Timestamps are milliseconds since boot, as ESP-IDF's log prints them.

#include <cstdint>
#include <string>

#include "ttynet/esp/chips.hpp"

namespace ttynet::esp {

enum class ResetReason : std::uint8_t { power_on, software };

// The chip the texts describe.
struct SimBootFacts {
  const ChipInfo& chip;
  ChipRevision revision;
  std::uint32_t flash_size;
  MacAddress mac;
};

// The ROM's lines from reset to the loader's "waiting for download" or the jump to flash.
std::string rom_boot_text(const SimBootFacts& facts, ResetReason reason, bool download);
// The 2nd stage bootloader's log, printed about `ms` after boot.
std::string bootloader_log(const SimBootFacts& facts, std::uint64_t ms);
// The application's first lines, its own one printed `ms` after boot.
std::string app_start_log(const SimBootFacts& facts, std::uint64_t ms);
// The line the application prints once per period.
std::string app_tick_line(std::uint64_t ms, std::uint64_t tick, std::uint64_t uptime_seconds);

}  // namespace ttynet::esp
