// The simulated chip driven by a script of host actions: raw bytes, framed requests (with
// valid or arbitrary checksums), *_DATA blocks, line changes, time, baud changes, partial
// reads. The first byte picks the chip, the starting mode (ROM or stub), the stub (legacy or
// esp-flasher-stub), busy times on or off, and whether the host reads everything. Invariants: no
// crash, pending output within its limit, a state that matches the lines (EN low means reset).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/sim_chip.hpp"
#include "ttynet/esp/slip.hpp"

namespace {

using namespace ttynet;
using namespace ttynet::esp;
using std::chrono::milliseconds;

constexpr std::size_t max_pending = 1 << 16;
constexpr std::array<std::uint32_t, 6> bauds = {115200, 9600, 57600, 230400, 460800, 921600};

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

class Script {
 public:
  Script(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  Byte byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | byte() << 8); }
  ByteView take(std::size_t n) {
    n = std::min(n, size_ - at_);
    const ByteView out{data_ + at_, n};
    at_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

void send(SimChip& chip, Op op, ByteView data, std::uint32_t checksum, TimePoint now) {
  ByteBuffer packet;
  append_request(packet, op, data.first(std::min(data.size(), max_data_size)), checksum);
  chip.receive(slip::encode_frame(packet), now);
}

void upload_stub(SimChip& chip, TimePoint now) {
  ByteBuffer data;
  append_u32(data, 4);
  append_u32(data, 1);
  append_u32(data, 0x1800);
  append_u32(data, 0x40080000);
  send(chip, Op::mem_begin, data, 0, now);
  const ByteBuffer code = {1, 2, 3, 4};
  ByteBuffer block;
  append_data_block(block, 0, code);
  send(chip, Op::mem_data, block, checksum(code), now);
  ByteBuffer end;
  append_u32(end, 0);
  append_u32(end, 0x40080000);
  send(chip, Op::mem_end, end, 0, now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  Script script(data, size);
  const Byte mode = script.byte();
  const auto all = chips();
  const ChipInfo& chip_info = all[mode % all.size()];
  SimConfig config;
  config.flash_size = 1u << 20;
  config.limits.max_pending_output = max_pending;
  config.limits.stream_high_water = 0x2000;
  config.app_line_period = milliseconds(50);
  config.busy_times = (mode & 0x40) != 0;
  config.loader.stub = (mode & 0x80) != 0 ? StubFlavor::legacy : StubFlavor::esp_flasher_stub;
  SimChip chip(chip_info, config);
  TimePoint now{};
  const bool stub = (mode & 0x10) != 0;
  const bool reads_all = (mode & 0x20) == 0;
  if (stub) {
    upload_stub(chip, now);
    check(chip.state() == SimState::stub, "stub upload starts the stub");
  }
  bool dtr = false;
  bool rts = false;

  for (int steps = 0; !script.done() && steps < 256; ++steps) {
    switch (script.byte() % 8) {
      case 0:  // raw bytes
        chip.receive(script.take(script.byte()), now);
        break;
      case 1: {  // a request with the checksum of its *_DATA payload
        const auto op = static_cast<Op>(script.byte());
        const ByteView body = script.take(script.u16() % 0x4100);
        const std::uint32_t sum = body.size() > data_block_header_size
                                      ? checksum(body.subspan(data_block_header_size))
                                      : 0;
        send(chip, op, body, sum, now);
        break;
      }
      case 2: {  // a request with an arbitrary checksum
        const auto op = static_cast<Op>(script.byte());
        const std::uint32_t sum = script.byte();
        send(chip, op, script.take(script.byte()), sum, now);
        break;
      }
      case 3: {  // DTR/RTS, or a restart without lines
        const Byte lines = script.byte();
        if ((lines & 4) != 0) {
          constexpr std::array<PowerOn, 3> modes = {PowerOn::in_download_mode,
                                                    PowerOn::boot_download, PowerOn::boot_flash};
          chip.restart(modes[(lines >> 3) % modes.size()], now);
          break;
        }
        dtr = (lines & 1) != 0;
        rts = (lines & 2) != 0;
        chip.set_lines(dtr, rts, now);
        break;
      }
      case 4: {  // time passes
        const Byte step = script.byte();
        now += (step & 0x80) != 0 ? milliseconds(100) * (step & 0x7F) : milliseconds(step);
        chip.on_timer(now);
        break;
      }
      case 5:
        chip.set_host_baud(bauds[script.byte() % bauds.size()]);
        break;
      case 6:  // the host reads part of the output
        chip.consume_output(
            std::min<std::size_t>(chip.pending_output().size(), std::size_t{script.byte()} * 64));
        break;
      case 7: {  // a well-formed *_DATA block
        constexpr std::array<Op, 4> ops = {Op::flash_data, Op::flash_defl_data, Op::mem_data,
                                           Op::flash_encrypt_data};
        const Op op = ops[script.byte() % ops.size()];
        const std::uint32_t sequence = script.byte();
        const ByteView payload = script.take(script.u16() % 0x4001);
        ByteBuffer block;
        append_data_block(block, sequence, payload);
        send(chip, op, block, checksum(payload), now);
        break;
      }
    }
    check(chip.pending_output().size() <= max_pending, "pending output within its limit");
    if (!chip.is_en_high()) {
      check(chip.state() == SimState::reset, "EN low holds the chip in reset");
    }
    if (const auto due = chip.deadline(); due && *due <= now) {
      chip.on_timer(now);
    }
    if (reads_all) {
      chip.consume_output(chip.pending_output().size());
    }
  }
  return 0;
}
