#include "ttynet/esp/sim_registers.hpp"

#include <gtest/gtest.h>

namespace ttynet::esp {
namespace {

constexpr MacAddress mac = {0x24, 0x6F, 0x28, 0x7A, 0xD8, 0x84};

const ChipInfo& chip(std::string_view name) { return **find_chip(name); }

// esptool's run_spiflash_command as docs/reference/esp-loader-protocol.md §7 traces it, ESP32
// RDID: returns W0.
std::uint32_t rdid(SimRegisters& registers, SimFlash& flash, const SpiRegisters& spi) {
  const std::uint32_t old_usr = registers.read(spi.usr());
  const std::uint32_t old_usr2 = registers.read(spi.usr2());
  registers.write(spi.miso_dlen(), 24 - 1, 0xFFFFFFFF, flash);
  registers.write(spi.usr(), 0x90000000, 0xFFFFFFFF, flash);
  registers.write(spi.usr2(), 0x7000009F, 0xFFFFFFFF, flash);
  registers.write(spi.w0(), 0, 0xFFFFFFFF, flash);
  registers.write(spi.cmd(), 1u << 18, 0xFFFFFFFF, flash);
  EXPECT_EQ(registers.read(spi.cmd()) & (1u << 18), 0u);  // done at the first poll
  const std::uint32_t result = registers.read(spi.w0());
  registers.write(spi.usr(), old_usr, 0xFFFFFFFF, flash);
  registers.write(spi.usr2(), old_usr2, 0xFFFFFFFF, flash);
  return result;
}

TEST(SimRegisters, Esp32RegisterMapMatchesTheFactSheet) {
  const SimRegisters registers(chip("esp32"), mac, {3, 0});
  EXPECT_EQ(registers.read(0x40001000), 0x00F01D83u);
  EXPECT_EQ(registers.read(0x3FF5A000), 0u);
  EXPECT_EQ(registers.read(0x3FF5A004), 0x287AD884u);
  EXPECT_EQ(registers.read(0x3FF5A008) & 0xFFFF, 0x246Fu);
  EXPECT_EQ(registers.read(0x3FF5A00C), 0x0000A200u);  // D0WD, 240 MHz, rev bit 0
  EXPECT_EQ(registers.read(0x3FF5A010), 0x00001064u);  // VRef, CK8M 100
  EXPECT_EQ(registers.read(0x3FF5A014), 0x00100000u);  // rev bit 1
  EXPECT_EQ(registers.read(0x3FF5A018), 0u);
  EXPECT_EQ(registers.read(0x3FF6607C), 0x80000000u);     // rev bit 2 -> v3
  EXPECT_EQ(registers.read(0x3FF40014) & 0xFFFFF, 347u);  // 40 MHz / 115200
  EXPECT_EQ(registers.read(0x3FF48074), 0u);
  EXPECT_EQ(registers.read(0x3FF5F06C), 1024u << 7);
  EXPECT_EQ(registers.read(0x12345678), 0u);  // unknown: 0
}

TEST(SimRegisters, Esp32RevisionBits) {
  const SimRegisters v1(chip("esp32"), mac, {1, 0});
  EXPECT_EQ(v1.read(0x3FF5A00C) >> 15 & 1, 1u);
  EXPECT_EQ(v1.read(0x3FF5A014) >> 20 & 1, 0u);
  EXPECT_EQ(v1.read(0x3FF6607C), 0u);
  const SimRegisters v0(chip("esp32"), mac, {0, 0});
  EXPECT_EQ(v0.read(0x3FF5A00C), 0x00002200u);
  const SimRegisters v31(chip("esp32"), mac, {3, 1});
  EXPECT_EQ(v31.read(0x3FF5A014), 0x01100000u);
}

TEST(SimRegisters, Block1ChipsEncodeRevisionAndMac) {
  const SimRegisters c3(chip("esp32c3"), mac, {0, 3});
  EXPECT_EQ(c3.read(0x40001000), 0x1B31506Fu);
  EXPECT_EQ(c3.read(0x60008844), 0x287AD884u);
  EXPECT_EQ(c3.read(0x60008848), 0x0000246Fu);
  EXPECT_EQ(c3.read(0x60008850) >> 18 & 7, 3u);  // minor low bits
  EXPECT_EQ(c3.read(0x60008858) >> 24 & 3, 0u);  // major
  EXPECT_EQ(c3.read(0x3FCDF07C), 0u);            // UART, not USB-Serial/JTAG
  const SimRegisters s3(chip("esp32s3"), mac, {1, 9});
  EXPECT_EQ(s3.read(0x40001000), 9u);
  EXPECT_EQ(s3.read(0x60007050) >> 18 & 7, 1u);
  EXPECT_EQ(s3.read(0x60007058) >> 23 & 1, 1u);
  EXPECT_EQ(s3.read(0x60007058) >> 24 & 3, 1u);
}

TEST(SimRegisters, RunsEsptoolsRdidSequenceOnceTheFlashIsAttached) {
  for (const std::string_view name : {"esp32", "esp32c3", "esp32s3"}) {
    SimFlash flash(4u << 20);
    SimRegisters registers(chip(name), mac, chip(name).default_revision);
    EXPECT_EQ(rdid(registers, flash, chip(name).spi), 0x00FFFFFFu) << name;  // bus not attached
    registers.set_flash_attached(true);
    EXPECT_EQ(rdid(registers, flash, chip(name).spi), 0x001640EFu) << name;
  }
}

TEST(SimRegisters, ReadsSfdpWithAnAddress) {
  // ESP32: 24-bit address left-justified in ADDR, 8 dummy cycles, 8 bits read.
  SimFlash flash(4u << 20);
  SimRegisters registers(chip("esp32"), mac, {3, 0});
  registers.set_flash_attached(true);
  const SpiRegisters& spi = chip("esp32").spi;
  registers.write(spi.miso_dlen(), 7, 0xFFFFFFFF, flash);
  registers.write(spi.usr1(), 0x5C000007, 0xFFFFFFFF, flash);
  registers.write(spi.usr(), 0xF0000000, 0xFFFFFFFF, flash);
  registers.write(spi.usr2(), 0x7000005A, 0xFFFFFFFF, flash);
  registers.write(spi.addr(), 0x00001000, 0xFFFFFFFF, flash);
  registers.write(spi.w0(), 0, 0xFFFFFFFF, flash);
  registers.write(spi.cmd(), 1u << 18, 0xFFFFFFFF, flash);
  EXPECT_EQ(registers.read(spi.w0()), 0xEFu);
}

TEST(SimRegisters, WritesMergeByMaskAndStayBounded) {
  SimFlash flash(1u << 20);
  SimRegisters registers(chip("esp32c3"), mac, {0, 3}, 2);
  registers.write(0x600080AC, 0x12345678, 0xFFFFFFFF, flash);
  registers.write(0x600080AC, 0x80000000, 0x80000000, flash);
  EXPECT_EQ(registers.read(0x600080AC), 0x92345678u);
  registers.write(0x60008090, 1, 0xFFFFFFFF, flash);
  registers.write(0x60008094, 2, 0xFFFFFFFF, flash);  // past the bound: dropped
  EXPECT_EQ(registers.read(0x60008090), 1u);
  EXPECT_EQ(registers.read(0x60008094), 0u);
  registers.write(0x40001000, 0, 0xFFFFFFFF, flash);  // ROM word: read-only
  EXPECT_EQ(registers.read(0x40001000), 0x1B31506Fu);
  registers.reset();
  EXPECT_EQ(registers.read(0x600080AC), 0u);
}

TEST(SimRegisters, UartDividerFollowsTheBaud) {
  SimRegisters registers(chip("esp32"), mac, {3, 0});
  registers.set_uart_baud(921600);
  EXPECT_EQ(registers.read(0x3FF40014) & 0xFFFFF, 43u);
  registers.set_boot_strap(0x13);
  EXPECT_EQ(registers.read(0x3FF44038), 0x13u);
}

}  // namespace
}  // namespace ttynet::esp
