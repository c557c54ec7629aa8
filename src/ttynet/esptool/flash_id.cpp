#include "ttynet/esptool/flash_id.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>
#include <vector>

namespace ttynet::esptool {
namespace {

constexpr int spi_poll_reads = 10;
constexpr std::uint32_t esp32_rtc_sdio_conf = 0x3FF48074;
constexpr std::uint32_t esp32_gpio_strap = 0x3FF44038;

struct SizeCode {
  std::uint8_t code;
  std::uint32_t bytes;
};
constexpr std::array<SizeCode, 23> size_codes = {{
    {0x12, 256u << 10}, {0x13, 512u << 10}, {0x14, 1u << 20},   {0x15, 2u << 20},
    {0x16, 4u << 20},   {0x17, 8u << 20},   {0x18, 16u << 20},  {0x19, 32u << 20},
    {0x1A, 64u << 20},  {0x1B, 128u << 20}, {0x1C, 256u << 20}, {0x20, 64u << 20},
    {0x21, 128u << 20}, {0x22, 256u << 20}, {0x32, 256u << 10}, {0x33, 512u << 10},
    {0x34, 1u << 20},   {0x35, 2u << 20},   {0x36, 4u << 20},   {0x37, 8u << 20},
    {0x38, 16u << 20},  {0x39, 32u << 20},  {0x3A, 64u << 20},
}};

}  // namespace

// One exchange whatever the round trip: the registers to restore read, the command set up,
// started, polled once and its result read; putting the registers back goes with the next.
// Only a command still running at the first poll costs more.
Result<std::uint32_t, Error> run_spiflash_command(Loader& loader, const esp::ChipInfo& chip,
                                                  std::uint8_t command, unsigned read_bits) {
  const esp::SpiRegisters& spi = chip.spi;
  std::uint32_t usr = esp::spi::usr_command;
  if (read_bits > 0) usr |= esp::spi::usr_miso;
  const std::uint32_t usr2 = 7u << esp::spi::usr2_command_bitlen_shift | command;
  const std::vector<LoaderRequest> run = {
      Loader::read_reg_request(spi.usr()),
      Loader::read_reg_request(spi.usr2()),
      Loader::write_reg_request(spi.miso_dlen(), read_bits > 0 ? read_bits - 1 : 0),
      Loader::write_reg_request(spi.usr(), usr),
      Loader::write_reg_request(spi.usr2(), usr2),
      Loader::write_reg_request(spi.w0(), 0),
      Loader::write_reg_request(spi.cmd(), esp::spi::cmd_usr),
      Loader::read_reg_request(spi.cmd()),
      Loader::read_reg_request(spi.w0()),
  };
  auto replies = loader.exchange(run);
  if (!replies) return replies.error();
  const std::uint32_t saved_usr = (*replies)[0].value;
  const std::uint32_t saved_usr2 = (*replies)[1].value;
  bool done = ((*replies)[7].value & esp::spi::cmd_usr) == 0;
  std::uint32_t result = (*replies)[8].value;
  for (int i = 1; i < spi_poll_reads && !done; ++i) {
    auto cmd = loader.read_reg(spi.cmd());
    if (!cmd) return cmd.error();
    done = (*cmd & esp::spi::cmd_usr) == 0;
    if (done) {
      auto late = loader.read_reg(spi.w0());
      if (!late) return late.error();
      result = *late;
    }
  }
  if (!done) return make_error(errc::no_reply, "SPI command did not complete in time");
  loader.post(std::vector{Loader::write_reg_request(spi.usr(), saved_usr),
                          Loader::write_reg_request(spi.usr2(), saved_usr2)});
  return result;
}

Result<FlashId, Error> read_flash_id(Loader& loader, const esp::ChipInfo& chip) {
  auto id = run_spiflash_command(loader, chip, esp::flash_opcode::jedec_id, 24);
  if (!id) return id.error();
  return FlashId{static_cast<std::uint8_t>(*id & 0xFF), static_cast<std::uint8_t>(*id >> 8 & 0xFF),
                 static_cast<std::uint8_t>(*id >> 16 & 0xFF)};
}

std::optional<std::uint32_t> flash_size_bytes(std::uint8_t capacity) {
  for (const auto& entry : size_codes) {
    if (entry.code == capacity) return entry.bytes;
  }
  return std::nullopt;
}

std::string size_name(std::uint32_t bytes) {
  if (bytes >= (1u << 20)) return fmt::format("{}MB", bytes >> 20);
  return fmt::format("{}KB", bytes >> 10);
}

std::string flash_size_name(std::uint8_t capacity) {
  const auto bytes = flash_size_bytes(capacity);
  return bytes ? size_name(*bytes) : "Unknown";
}

std::vector<std::uint32_t> flash_voltage_registers(const esp::ChipInfo& chip) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return {};
  // All three: which one decides is known only from the others' bits.
  return {esp32_rtc_sdio_conf, chip.efuse_base + 0x10, esp32_gpio_strap};
}

std::optional<std::string> describe_flash_voltage(const esp::ChipInfo& chip,
                                                  const RegisterValues& registers) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return std::nullopt;
  const std::uint32_t sdio = registers.at(esp32_rtc_sdio_conf);
  const std::uint32_t word4 = registers.at(chip.efuse_base + 0x10);
  const std::uint32_t strap = registers.at(esp32_gpio_strap);
  // RTC_CNTL forces the regulator: bit 22 force, bit 31 on, bit 30..29 1.8 V levels.
  if ((sdio >> 22 & 1) != 0) {
    const bool on = (sdio >> 31 & 1) != 0;
    const bool low = ((sdio >> 29) & 3) == 0;
    return fmt::format("Flash voltage set by RTC_CNTL to {}", !on ? "OFF" : low ? "1.8V" : "3.3V");
  }
  if ((word4 >> 16 & 1) != 0) {  // XPD_SDIO_FORCE: the eFuse decides
    const bool on = (word4 >> 14 & 1) != 0;
    const bool tieh = (word4 >> 15 & 1) != 0;
    return fmt::format("Flash voltage set by eFuse to {}", !on ? "OFF" : tieh ? "3.3V" : "1.8V");
  }
  return fmt::format("Flash voltage set by a strapping pin to {}",
                     (strap >> 5 & 1) != 0 ? "1.8V" : "3.3V");
}

}  // namespace ttynet::esptool
