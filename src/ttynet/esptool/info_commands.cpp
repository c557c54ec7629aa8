// chip_id, read_mac and flash_id: esptool's lines about the chip and its flash.

#include "ttynet/esptool/info_commands.hpp"

#include <fmt/format.h>

#include "ttynet/esptool/chip_facts.hpp"

namespace ttynet::esptool {

MaybeError print_chip_id(Session& s) {
  s.console.line(fmt::format("Warning: {} has no Chip ID. Reading MAC instead.", s.chip.chip_name));
  return print_mac(s);
}

MaybeError print_mac(Session& s) {
  auto mac = read_mac(s.loader, s.chip);
  if (!mac) return mac.error();
  s.console.line(fmt::format("MAC: {}", format_mac(*mac)));
  return std::nullopt;
}

MaybeError print_flash_id(Session& s) {
  const FlashId& id = s.flash_id;
  s.console.line(fmt::format("Manufacturer: {:02x}", id.manufacturer));
  s.console.line(fmt::format("Device: {:02x}{:02x}", id.memory_type, id.capacity));
  s.console.line(fmt::format("Detected flash size: {}", flash_size_name(id.capacity)));
  if (s.flash_voltage) s.console.line(*s.flash_voltage);
  return std::nullopt;
}

}  // namespace ttynet::esptool
