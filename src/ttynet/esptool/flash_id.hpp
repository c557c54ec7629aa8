#pragma once
// The SPI flash's JEDEC ID through the chip's SPI controller, with READ_REG/WRITE_REG as
// esptool drives it (docs/reference/esp-loader-protocol.md §7), and what the ID says about the
// size.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/spi_flash_opcodes.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/loader.hpp"

namespace ttynet::esptool {

// Runs one SPI "user" command with no address and no data out; returns up to 32 bits read
// (first byte in bits 7:0). Saves USR and USR2 as esptool does, and posts their restoring
// (Loader::post()): it goes with the loader's next exchange.
Result<std::uint32_t, Error> run_spiflash_command(Loader& loader, const esp::ChipInfo& chip,
                                                  std::uint8_t command, unsigned read_bits);

struct FlashId {
  std::uint8_t manufacturer = 0;
  std::uint8_t memory_type = 0;
  std::uint8_t capacity = 0;
};
Result<FlashId, Error> read_flash_id(Loader& loader, const esp::ChipInfo& chip);

// Bytes for an RDID capacity code (0x16 -> 4 MiB), nothing for an unknown code.
std::optional<std::uint32_t> flash_size_bytes(std::uint8_t capacity);
// "4MB", or "Unknown".
std::string flash_size_name(std::uint8_t capacity);
// "16MB" style text for a byte count (a power of two from 256 KiB on).
std::string size_name(std::uint32_t bytes);

// The registers describe_flash_voltage() needs (none but on the ESP32), to read with others.
std::vector<std::uint32_t> flash_voltage_registers(const esp::ChipInfo& chip);
// ESP32: "Flash voltage set by a strapping pin to 3.3V"; nothing on other chips.
std::optional<std::string> describe_flash_voltage(const esp::ChipInfo& chip,
                                                  const RegisterValues& registers);

}  // namespace ttynet::esptool
