#pragma once
// The software side of the simulated chip's download mode: the ROM serial loader and, after
// a stub upload, the flasher stub. One request frame in, reply frames out (SLIP framed),
// plus an effect the chip applies after the reply is on the wire (baud change, stub start,
// reboot). The two dialects differ as docs/esp-serial-protocol.md describes: status length,
// error codes, block sizes, erase timing, MD5 format, and the commands each knows.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/inflate.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/sim_flash.hpp"
#include "ttynet/esp/sim_registers.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esp {

// The chip's hardware as the loader sees it.
struct SimHardware {
  SimFlash flash;
  SimRegisters registers;
};

enum class LoaderKind : std::uint8_t { rom, stub };

// What the chip does once the reply bytes are out.
struct LoaderEffect {
  enum class Kind : std::uint8_t {
    none,
    change_baud,    // switch the UART to `baud`
    start_stub,     // the uploaded code runs: stub dialect, greeting frame
    reboot,         // software reset
    run_user_code,  // leave the loader and boot the application
  };
  Kind kind = Kind::none;
  std::uint32_t baud = 0;
};

class SimLoader {
 public:
  explicit SimLoader(const ChipInfo& chip);

  // The ROM loader just started (download boot), or the stub just started.
  void start_rom(const SimHardware& hardware);
  void start_stub(const SimHardware& hardware);
  LoaderKind kind() const { return kind_; }

  // Handles one SLIP frame payload from the host, appends the framed replies to `out`.
  LoaderEffect handle_frame(ByteView frame, SimHardware& hardware, ByteBuffer& out);

  // A stub READ_FLASH is streaming: data frames go out as acknowledgements allow.
  bool is_streaming() const { return read_.active; }
  // Appends further READ_FLASH data frames while `out` is below `high_water` bytes (the
  // UART's transmit buffer is full above it).
  void pump(const SimHardware& hardware, ByteBuffer& out, std::size_t high_water);

  // The flash size the loader believes in (SPI_SET_PARAMS); offsets past it fail.
  std::uint32_t configured_flash_size() const { return configured_size_; }

 private:
  struct FlashWrite {
    bool active = false;      // between *_BEGIN and *_END
    bool compressed = false;  // began with FLASH_DEFL_BEGIN
    std::uint32_t offset = 0;
    std::uint32_t block_size = 0;
    std::uint32_t next_write = 0;          // next flash address written
    std::uint32_t remaining = 0;           // bytes still to write (ROM deflate: rounded size)
    std::uint64_t erase_next = 0;          // stub: next sector to erase before writing over it
    std::uint64_t erase_end = 0;           //   ... up to here (64 bits: no wrap near 4 GiB)
    StubError last_error = StubError::ok;  // stub: reported with the next block or the end
  };
  struct MemWrite {
    bool active = false;
    std::uint32_t remaining = 0;
    bool loaded = false;  // some code was uploaded since the loader started
  };
  struct ReadStream {
    bool active = false;
    std::uint32_t address = 0;
    std::uint32_t length = 0;
    std::uint32_t block_size = 0;
    std::uint32_t max_in_flight = 0;
    std::uint32_t sent = 0;
    std::uint32_t acked = 0;
    Md5 digest;
  };

  LoaderEffect handle_rom(const Request& request, SimHardware& hardware, ByteBuffer& out);
  LoaderEffect handle_stub(const Request& request, SimHardware& hardware, ByteBuffer& out);
  void handle_read_ack(ByteView frame, const SimHardware& hardware, ByteBuffer& out);

  // ROM handlers return the status; data for the reply goes to reply_data_.
  Status rom_flash_begin(const Request& request, SimHardware& hardware, bool compressed);
  Status rom_flash_data(const Request& request, SimHardware& hardware);
  Status rom_read_flash_slow(const Request& request, const SimHardware& hardware);
  Status rom_mem_data(const Request& request);

  StubError stub_flash_begin(const Request& request, bool compressed);
  StubError stub_flash_data_check(const Request& request);
  void stub_write(SimHardware& hardware, ByteView data);
  void stub_inflate(SimHardware& hardware, ByteView data);
  StubError stub_erase_region(SimHardware& hardware, std::uint32_t offset, std::uint32_t size);

  bool in_configured_range(std::uint64_t address, std::uint64_t length) const {
    return address + length <= configured_size_;
  }
  void apply_write_regs(ByteView data, SimHardware& hardware);
  void reply(ByteBuffer& out, Op op, std::uint32_t value, Status status);
  void reply_unknown_rom(ByteBuffer& out);

  ChipInfo chip_;
  LoaderKind kind_ = LoaderKind::rom;
  std::uint32_t configured_size_ = 0;
  std::uint32_t rom_value_ = 0;  // the ROM leaves stale values in the reply's value field
  FlashWrite write_;
  MemWrite mem_;
  ReadStream read_;
  Inflater inflater_;
  ByteBuffer reply_data_;
  ByteBuffer inflate_buffer_;
  ByteBuffer packet_;
  ByteBuffer scratch_;
};

}  // namespace ttynet::esp
