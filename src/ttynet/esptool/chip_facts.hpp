#pragma once
// What esptool prints about a chip after connecting (docs/reference/esp-loader-protocol.md §6),
// read with READ_REG: description and revision, features, crystal, MAC.

#include <cstdint>
#include <string>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/loader.hpp"

namespace ttynet::esptool {

struct ChipFacts {
  std::string description;  // "ESP32-D0WD-V3 (revision v3.0)"
  std::vector<std::string> features;
  std::uint32_t crystal_mhz = 40;
  esp::MacAddress mac{};
};

// The registers describe_chip() needs (eFuses, MAC, the UART divider), to read with others.
std::vector<std::uint32_t> chip_facts_registers(const esp::ChipInfo& chip);
// `registers` holds chip_facts_registers(); `host_baud` is the rate the port ran at when they
// were read (the crystal estimate scales with it).
ChipFacts describe_chip(const esp::ChipInfo& chip, const RegisterValues& registers,
                        std::uint32_t host_baud);
Result<esp::MacAddress, Error> read_mac(Loader& loader, const esp::ChipInfo& chip);
// "24:6f:28:7a:d8:84"
std::string format_mac(const esp::MacAddress& mac);
// "WiFi, BT, Dual Core"
std::string join_features(const std::vector<std::string>& features);

}  // namespace ttynet::esptool
