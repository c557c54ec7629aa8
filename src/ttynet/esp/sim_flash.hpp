#pragma once
// The SPI NOR flash of the simulated chip: contents, erase and program with NOR semantics
// (erase sets bytes to 0xFF; programming can only clear bits, so it ANDs), the JEDEC ID and
// SFDP table esptool reads, status registers, and the SPI opcodes the SPI controller model
// forwards. Addresses wrap at the flash size, as on a real part that ignores the upper
// address bits. Plain data: no time, no I/O.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ttynet/esp/md5.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esp {

// How long the flash keeps a loader busy (sim:// pace=1). Erase and program times are the
// typical values of a Winbond W25Q32JV datasheet (the 4 MB part on most ESP32 modules);
// reading is the SPI bus at 40 MHz DIO plus hashing, an estimate. docs/esp-simulator.md
// has the table.
namespace flash_timing {
inline constexpr Duration sector_erase = std::chrono::milliseconds(45);          // 4 KiB, tSE
inline constexpr Duration block_erase = std::chrono::milliseconds(150);          // 64 KiB, tBE2
inline constexpr Duration page_program = std::chrono::microseconds(400);         // 256 B, tPP
inline constexpr Duration chip_erase_per_mib = std::chrono::milliseconds(2500);  // tCE 10 s / 4 MB
inline constexpr Duration read_per_mib = std::chrono::milliseconds(250);         // read + MD5/copy
inline constexpr std::uint32_t page_size = 256;
}  // namespace flash_timing

class SimFlash {
 public:
  static constexpr Byte manufacturer = 0xEF;  // Winbond
  static constexpr Byte memory_type = 0x40;   // W25Q, SPI mode

  // `size` is 1, 2, 4, 8 or 16 MiB (checked by the caller); `initial` (at most `size` bytes)
  // fills the start, the rest reads 0xFF as erased flash does.
  explicit SimFlash(std::uint32_t size, ByteView initial = {});

  std::uint32_t size() const { return size_; }
  // RDID as esptool's W0 register shows it: manufacturer | type << 8 | capacity << 16.
  std::uint32_t jedec_id() const;
  ByteView contents() const;

  void read(std::uint32_t address, MutableByteView out) const;
  void program(std::uint32_t address, ByteView data);
  void erase_sector(std::uint32_t address);  // the 4 KiB sector holding `address`
  void erase_block(std::uint32_t address);   // the 64 KiB block holding `address`
  void erase_chip();
  Md5Digest md5(std::uint32_t address, std::uint32_t length) const;

  // The bytes changed since the last clear_changes(), as one range [begin, end).
  struct Range {
    std::uint32_t begin;
    std::uint32_t end;
    friend bool operator==(const Range&, const Range&) = default;
  };
  std::optional<Range> changes() const { return changes_; }
  void clear_changes() { changes_.reset(); }

  // One SPI transaction: `opcode`, an address if the command sends one, `mosi` data bytes,
  // and `miso_length` bytes read back (returned). Erase/program/status writes need a prior
  // WRITE ENABLE (06h), as on the real part. Unknown opcodes read back zeros.
  ByteBuffer run_command(Byte opcode, std::optional<std::uint32_t> address, ByteView mosi,
                         std::size_t miso_length);
  // Power-on state of the status registers (a chip reset does not reset the flash contents).
  void reset_status();

 private:
  void erase(std::uint32_t address, std::uint32_t length);  // aligned, in range
  void mark_changed(std::uint32_t begin, std::uint32_t end);
  std::uint32_t wrap(std::uint32_t address) const { return address & (size_ - 1); }
  ByteBuffer& storage() const;
  Byte sfdp_byte(std::uint32_t address) const;

  std::uint32_t size_;
  // Allocated at the first write or contents() call: until then every byte reads 0xFF, and
  // a chip that is never flashed costs no memory.
  mutable ByteBuffer contents_;
  std::optional<Range> changes_;
  Byte status1_ = 0x00;  // bit 1: write enable latch
  Byte status2_ = 0x00;
  Byte status3_ = 0x60;  // default output drive strength bits
  bool volatile_status_write_ = false;
};

}  // namespace ttynet::esp
