#pragma once
// SPI NOR flash command opcodes (JEDEC and the common W25Q/GD25Q set): the ones the
// simulated flash answers and the flasher sends through the chip's SPI user commands.

#include "ttynet/util/bytes.hpp"

namespace ttynet::esp {

namespace flash_opcode {
inline constexpr Byte write_status = 0x01;
inline constexpr Byte page_program = 0x02;
inline constexpr Byte read = 0x03;
inline constexpr Byte write_disable = 0x04;
inline constexpr Byte read_status = 0x05;
inline constexpr Byte write_enable = 0x06;
inline constexpr Byte fast_read = 0x0B;
inline constexpr Byte write_status3 = 0x11;
inline constexpr Byte read_status3 = 0x15;
inline constexpr Byte sector_erase = 0x20;
inline constexpr Byte write_status2 = 0x31;
inline constexpr Byte read_status2 = 0x35;
inline constexpr Byte unique_id = 0x4B;
inline constexpr Byte volatile_status_enable = 0x50;
inline constexpr Byte block_erase_32k = 0x52;
inline constexpr Byte sfdp = 0x5A;
inline constexpr Byte chip_erase_60 = 0x60;
inline constexpr Byte reset = 0x99;
inline constexpr Byte manufacturer_device_id = 0x90;
inline constexpr Byte jedec_id = 0x9F;
inline constexpr Byte release_power_down = 0xAB;
inline constexpr Byte chip_erase_c7 = 0xC7;
inline constexpr Byte block_erase_64k = 0xD8;
}  // namespace flash_opcode

}  // namespace ttynet::esp
