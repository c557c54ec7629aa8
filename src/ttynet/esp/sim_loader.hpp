#pragma once
// The software side of the simulated chip's download mode: the ROM serial loader and, after
// a stub upload, the flasher stub that was uploaded (esptool v4's legacy stub or v5's
// esp-flasher-stub, told apart by the image: stub_images.hpp). One request frame in, reply
// frames out (SLIP framed), plus an effect the chip applies after the reply is on the wire
// (baud change, stub start, reboot) and how long the work keeps the loader busy before and
// after its reply (the chip uses those with pace=1). The dialects differ as
// docs/reference/esp-loader-protocol.md §4 and docs/esp-simulator.md describe: status length,
// error codes, block sizes, erase timing, MD5 format, when errors are reported, and the
// commands each knows.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/inflate.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/sim_flash.hpp"
#include "ttynet/esp/sim_registers.hpp"
#include "ttynet/esp/stub_images.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esp {

// The chip's hardware as the loader sees it.
struct SimHardware {
  SimFlash flash;
  SimRegisters registers;
};

enum class LoaderKind : std::uint8_t { rom, stub };

// Faults to inject, for tests and benchmarks of clients (sim:// options, docs/esp-simulator.md).
struct SimFaults {
  // The write of the *_DATA block with this sequence number fails with the loader's real
  // error: the first attempt only (once), or every attempt of every write.
  std::optional<std::uint32_t> fail_block;
  bool fail_block_always = false;
  // The chip stops answering after this many loader frames since its last reset (SimChip).
  std::optional<std::uint64_t> stop_after;
  // The byte at this offset of each flash read's data is inverted on its way to the host,
  // after the stub computed its digest (READ_FLASH, READ_FLASH_SLOW).
  std::optional<std::uint32_t> corrupt_read;
};

struct LoaderOptions {
  std::optional<StubFlavor> stub;  // unset: identified from the uploaded image
  SimFaults faults;
};

// What the chip does once the reply bytes are out, and how long the frame kept the loader
// busy.
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
  Duration busy_before_reply{};  // the ROM programs a block before it answers
  Duration busy_after_reply{};   // a stub answers a block, then writes it
};

class SimLoader {
 public:
  explicit SimLoader(const ChipInfo& chip, LoaderOptions options = {});

  // The ROM loader just started (download boot), or the stub just started.
  void start_rom(const SimHardware& hardware);
  void start_stub(const SimHardware& hardware);
  LoaderKind kind() const { return kind_; }
  // The stub that runs (meaningful while kind() is stub).
  StubFlavor stub_flavor() const { return flavor_; }

  // Handles one SLIP frame payload from the host, appends the framed replies to `out`.
  LoaderEffect handle_frame(ByteView frame, SimHardware& hardware, ByteBuffer& out);

  // The legacy stub received a later frame into the buffer it was still writing from: the
  // block it wrote takes those bytes (`frame` is the buffer's new content from its start).
  void overwrite_block_being_written(ByteView frame, SimHardware& hardware);

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
    std::uint32_t next_write = 0;               // next flash address written
    std::uint32_t remaining = 0;                // bytes still to write (ROM deflate: rounded size)
    std::uint64_t erase_next = 0;               // stub: next sector to erase before writing over it
    std::uint64_t erase_end = 0;                //   ... up to here (64 bits: no wrap near 4 GiB)
    StubError last_error = StubError::ok;       // legacy stub: reported with the next block or end
    std::optional<SimFlash::Range> last_block;  // stub: where the last plain block went
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
    std::uint32_t max_in_flight = 0;  // legacy: bytes; esp-flasher-stub: always one frame
    std::uint32_t sent = 0;
    std::uint32_t acked = 0;
    std::uint32_t frames_sent = 0;
    std::uint32_t frames_acked = 0;
    Md5 digest;
  };

  bool is_flasher_stub() const { return flavor_ == StubFlavor::esp_flasher_stub; }

  LoaderEffect handle_rom(const Request& request, SimHardware& hardware, ByteBuffer& out);
  LoaderEffect handle_stub(const Request& request, SimHardware& hardware, ByteBuffer& out);
  StubError check_data_block(const Request& request) const;
  StubError stub_mem_data(const Request& request);
  void handle_read_ack(ByteView frame, ByteBuffer& out);
  void start_read_stream(const Request& request, ByteBuffer& out);

  // ROM handlers return the status; data for the reply goes to reply_data_.
  Status rom_flash_begin(const Request& request, SimHardware& hardware, bool compressed);
  Status rom_flash_data(const Request& request, SimHardware& hardware);
  Status rom_read_flash_slow(const Request& request, const SimHardware& hardware);
  Status rom_mem_data(const Request& request);

  void forget_transfers();  // a loader (re)starts: no write, upload or read in progress
  // A flash write from *_BEGIN on (ROM and stubs; the stubs also erase as data arrives).
  void start_flash_write(std::uint32_t total, std::uint32_t block_size, std::uint32_t offset,
                         bool compressed);
  // Shared by both stubs.
  void begin_write(std::uint32_t total, std::uint32_t block_size, std::uint32_t offset,
                   bool compressed);
  StubError stub_write(SimHardware& hardware, ByteView data);
  StubError stub_inflate(SimHardware& hardware, ByteView data);
  enum class EraseRule : std::uint8_t {
    whole_blocks_that_fit,  // ROM, esp-flasher-stub
    legacy_stub,            // a last whole block is erased as 16 sectors
  };
  StubError erase_region(SimHardware& hardware, std::uint32_t offset, std::uint32_t size,
                         EraseRule rule);
  StubError stub_md5(const Request& request, const SimHardware& hardware);
  // MEM_BEGIN accepted (ROM and stubs alike): RAM loading starts, the segment is noted.
  void begin_mem(const Request& request);
  LoaderEffect stub_started(std::uint32_t entry);

  // Flash work, counted into work_ for the busy time.
  void erase_sector(SimHardware& hardware, std::uint32_t address);
  void erase_block(SimHardware& hardware, std::uint32_t address);
  bool program(SimHardware& hardware, std::uint32_t address, ByteView data);
  void count_read(std::uint64_t bytes);
  bool take_block_fault(std::uint32_t sequence);

  bool in_configured_range(std::uint64_t address, std::uint64_t length) const {
    return address + length <= configured_size_;
  }
  void apply_write_regs(ByteView data, SimHardware& hardware);
  void reply(ByteBuffer& out, Op op, std::uint32_t value, Status status);
  void reply_unknown_rom(ByteBuffer& out);
  void corrupt_read_data(MutableByteView data, std::uint32_t offset_in_read) const;

  ChipInfo chip_;
  LoaderOptions options_;
  LoaderKind kind_ = LoaderKind::rom;
  StubFlavor flavor_ = StubFlavor::legacy;
  std::uint32_t configured_size_ = 0;
  std::uint32_t rom_value_ = 0;  // the ROM leaves stale values in the reply's value field
  FlashWrite write_;
  MemWrite mem_;
  std::vector<UploadedSegment> uploaded_;  // MEM_BEGIN segments since the loader started
  ReadStream read_;
  // esp-flasher-stub: an error of the work after a reply, sent instead of the next reply.
  StubError deferred_error_ = StubError::ok;
  bool block_fault_ = false;  // the block being written fails (SimFaults::fail_block)
  Duration work_{};           // flash time spent on the current frame
  Duration reply_work_{};     // ... of which before its (last) reply
  Inflater inflater_;
  ByteBuffer reply_data_;
  ByteBuffer inflate_buffer_;
  ByteBuffer packet_;
  ByteBuffer scratch_;
};

}  // namespace ttynet::esp
