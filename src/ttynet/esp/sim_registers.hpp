#pragma once
// What READ_REG and WRITE_REG see on the simulated chip: the chip-detect magic word, eFuse
// words (MAC, package, revision), the strapping and UART divider registers esptool reads,
// and a model of the SPI flash controller's "user command" registers that runs commands
// against the flash (so esptool's RDID and SFDP reads work). Other addresses read back what
// was written to them (a bounded number), else 0; eFuse and ROM words ignore writes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/sim_flash.hpp"

namespace ttynet::esp {

class SimRegisters {
 public:
  SimRegisters(const ChipInfo& chip, const MacAddress& mac, ChipRevision revision,
               std::size_t max_written = 256);

  std::uint32_t read(std::uint32_t address) const;
  // (old & ~mask) | (value & mask); a write to the SPI CMD register with the USR bit runs
  // the programmed command against `flash`.
  void write(std::uint32_t address, std::uint32_t value, std::uint32_t mask, SimFlash& flash);

  void set_uart_baud(std::uint32_t baud);  // UART_CLKDIV follows the chip-side baud
  void set_boot_strap(std::uint8_t strap);
  // Whether the SPI controller is connected to the flash (SPI_ATTACH, or the stub starting).
  // Unattached, SPI commands read back all ones, like an unconnected bus.
  void set_flash_attached(bool attached) { flash_attached_ = attached; }
  bool is_flash_attached() const { return flash_attached_; }
  // Peripheral registers back to their reset values (fixed words stay).
  void reset();

 private:
  static constexpr std::size_t spi_words = 64;  // the controller's first 0x100 bytes

  const std::uint32_t* spi_register(std::uint32_t address) const;
  void run_spi_command(SimFlash& flash);

  ChipInfo chip_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fixed_;  // sorted by address
  std::map<std::uint32_t, std::uint32_t> written_;
  std::size_t max_written_;
  std::array<std::uint32_t, spi_words> spi_{};
  std::uint32_t uart_clkdiv_ = 0;
  std::uint32_t strap_ = 0;
  bool flash_attached_ = false;
};

}  // namespace ttynet::esp
