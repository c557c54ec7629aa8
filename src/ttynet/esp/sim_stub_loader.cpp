// The simulated flasher stubs: the legacy stub and esp-flasher-stub (sim_loader.hpp).
#include "ttynet/esp/sim_loader.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/esp/sim_loader_common.hpp"
#include "ttynet/esp/slip.hpp"

namespace ttynet::esp {

using namespace sim_loader_common;

// ---------------------------------------------------------------------------------------
// Flasher stubs: the legacy stub (esptool-legacy-flasher-stub, esptool v4's default) and
// esp-flasher-stub (esptool v5.3's). esp-flasher-stub reports an error of the work after a
// reply (writing a block, a READ_FLASH that cannot start) once, as the reply to whatever
// command comes next, which is then not executed; the legacy stub reports a failed write
// with the next block or at FLASH_END.

LoaderEffect SimLoader::handle_stub(const Request& request, SimHardware& hardware,
                                    ByteBuffer& out) {
  const bool flasher = is_flasher_stub();
  const std::size_t size = request.size;  // the stubs go by the header
  if (!flasher && size > stub_max_data) {
    reply(out, request.op, 0, stub_status(StubError::bad_data_len, 0xEE));
    return {};
  }
  if (!request.has_consistent_size()) {
    reply(out, request.op, 0, stub_status(StubError::bad_data_len));
    return {};
  }
  if (deferred_error_ != StubError::ok) {
    reply(out, request.op, 0, stub_status(std::exchange(deferred_error_, StubError::ok)));
    return {};
  }
  auto length_is = [size](std::size_t expected) {
    return size == expected ? StubError::ok : StubError::bad_data_len;
  };
  std::uint32_t value = 0;
  StubError error = flasher ? StubError::invalid_command : StubError::cmd_not_implemented;
  LoaderEffect effect;
  switch (request.op) {
    case Op::sync:
      error = length_is(sync_data_size);
      if (error == StubError::ok) {
        for (std::size_t i = 1; i < sync_burst; ++i) {
          reply(out, Op::sync, 0, ok_status);
        }
      }
      break;
    case Op::get_security_info: {
      const bool supported = chip_.security_info != SecurityInfoSupport::none;
      if (!supported && !flasher) {
        error = StubError::cmd_not_implemented;  // the legacy ESP32 stub has no handler
        break;
      }
      error = length_is(0);
      if (error == StubError::ok && !supported) {
        error = StubError::cmd_not_implemented;  // esp-stub-lib: not supported on ESP32
      }
      if (error == StubError::ok) {
        reply_data_ = security_info_data(chip_);
      }
      break;
    }
    case Op::erase_flash:
      error = flasher ? StubError::ok : length_is(0);  // esp-flasher-stub takes any length
      if (error == StubError::ok) {
        hardware.flash.erase_chip();
        work_ += flash_timing::chip_erase_per_mib * (hardware.flash.size() >> 20);
      }
      break;
    case Op::erase_region:
      error = length_is(8);
      if (error == StubError::ok) {
        const auto region = body_of<RegionRequest>(request);
        error = erase_region(hardware, region.offset, region.size,
                             flasher ? EraseRule::whole_blocks_that_fit : EraseRule::legacy_stub);
        if (flasher && error != StubError::ok) {
          error = StubError::bad_data_len;  // unaligned: the one check it makes
        }
      }
      break;
    case Op::change_baudrate:  // new baud, old baud; applied after the reply
      error = length_is(8);
      if (error == StubError::ok) {
        effect = {LoaderEffect::Kind::change_baud, body_of<ChangeBaudrateRequest>(request).baud};
      }
      break;
    case Op::read_flash:
      error = length_is(16);
      // The legacy stub replies OK and then fails to read past its flash size, leaving the
      // host waiting; the simulator refuses up front instead.
      if (error == StubError::ok && !flasher &&
          !in_configured_range(body_of<ReadFlashRequest>(request).offset,
                               body_of<ReadFlashRequest>(request).size)) {
        error = StubError::failed_spi_op;
      }
      break;
    case Op::spi_flash_md5:
      error = length_is(16);
      if (error == StubError::ok) {
        error = stub_md5(request, hardware);
        if (flasher && error != StubError::ok) {
          error = StubError::failed_spi_op;
        }
      }
      break;
    case Op::flash_begin:
    case Op::flash_defl_begin:
      // The fifth word is the encrypt flag (written as given: flash encryption is not
      // simulated); the legacy stub takes it from v1.10 on. esp-flasher-stub takes any block
      // size.
      if (size != 16 && (size != 20 || flavor_ == StubFlavor::legacy)) {
        error = StubError::bad_data_len;
      } else if (!flasher && body_of<BeginRequest>(request).block_size > stub_max_write_block) {
        error = StubError::bad_blocksize;
      } else {
        const auto begin = body_of<BeginRequest>(request);
        begin_write(begin.size, begin.block_size, begin.offset, request.op == Op::flash_defl_begin);
        error = StubError::ok;
      }
      break;
    case Op::flash_data:
    case Op::flash_defl_data:
    case Op::flash_encrypt_data:  // legacy only; written as given
      error = check_data_block(request);
      break;
    case Op::flash_end:
    case Op::flash_defl_end:
      if (flasher && size != 4) {
        error = StubError::bad_data_len;
      } else if (!write_.active) {
        error = StubError::not_in_flash_mode;
      } else if (write_.remaining > 0) {
        error = flasher ? StubError::bad_data_len : StubError::not_enough_data;
      } else {
        write_.active = false;
        error = write_.last_error;
      }
      // esp-flasher-stub v1.0.0 ignores the reboot flag.
      if (!flasher && error == StubError::ok && size >= 4 &&
          body_of<FlashEndRequest>(request).run_user_code == 0) {
        effect.kind = LoaderEffect::Kind::reboot;
      }
      break;
    case Op::spi_set_params:
      error = length_is(24);
      if (error == StubError::ok) {
        configured_size_ =
            std::min(body_of<SpiSetParamsRequest>(request).total_size, max_configured_size);
      }
      break;
    case Op::spi_attach:
      error = length_is(4);
      if (error == StubError::ok) {
        hardware.registers.set_flash_attached(true);
      }
      break;
    case Op::write_reg:
      if (size % 16 == 0 && !(flasher && size == 0)) {
        error = StubError::ok;
        apply_write_regs(request.data, hardware);
      } else {
        error = flasher ? StubError::not_enough_data : StubError::bad_data_len;
      }
      break;
    case Op::read_reg:
      error = length_is(4);
      if (error == StubError::ok) {
        value = hardware.registers.read(body_of<ReadRegRequest>(request).address);
      }
      break;
    case Op::mem_begin:
      error = length_is(16);
      if (error == StubError::ok) {
        begin_mem(request);
      }
      break;
    case Op::mem_data:
      error = stub_mem_data(request);
      break;
    case Op::mem_end:
      error = length_is(8);
      if (error != StubError::ok) {
        break;
      }
      if (flasher && !mem_.active) {
        error = StubError::not_in_flash_mode;
        break;
      }
      error = !flasher && mem_.remaining > 0 ? StubError::not_enough_data : StubError::ok;
      mem_.active = false;
      mem_.remaining = 0;
      // The stub jumps to the new code after its reply: esp-flasher-stub when the flag word
      // is 0, the legacy stub for any non-zero entry.
      if (const auto end = body_of<MemEndRequest>(request);
          error == StubError::ok && (flasher ? end.no_entry == 0 : end.entry != 0)) {
        effect = stub_started(end.entry);
      }
      break;
    case Op::run_user_code:
      // No reply. The legacy stub boots the application; esp-flasher-stub v1.0.0 stays.
      return flasher ? LoaderEffect{} : LoaderEffect{LoaderEffect::Kind::run_user_code, 0};
    default:
      break;  // the unknown-command error set above
  }
  if (error != StubError::ok) {
    reply(out, request.op, 0, stub_status(error));
    return {};
  }
  reply(out, request.op, value, ok_status);
  // Work the stub does after its reply is out.
  switch (request.op) {
    case Op::flash_data:
    case Op::flash_encrypt_data:
    case Op::flash_defl_data: {
      block_fault_ = take_block_fault(decode_data_block(request.data)->sequence);
      const ByteView payload = request.data.subspan(data_block_header_size);
      const StubError write_error = request.op == Op::flash_defl_data
                                        ? stub_inflate(hardware, payload)
                                        : stub_write(hardware, payload);
      block_fault_ = false;
      if (write_error != StubError::ok) {
        (flasher ? deferred_error_ : write_.last_error) = write_error;
      }
      break;
    }
    case Op::read_flash:
      if (const auto read = body_of<ReadFlashRequest>(request);
          flasher && read.packet_size > flasher_stub_max_packet) {
        deferred_error_ = StubError::bad_data_len;
      } else if (flasher && !in_configured_range(read.offset, read.size)) {
        deferred_error_ = StubError::failed_spi_op;
      } else {
        start_read_stream(request, out);
      }
      break;
    default:
      break;
  }
  return effect;
}

// The checks a stub makes on a *_DATA block before it answers.
StubError SimLoader::check_data_block(const Request& request) const {
  const std::size_t size = request.size;
  const bool compressed = request.op == Op::flash_defl_data;
  const ByteView payload =
      request.data.subspan(std::min(request.data.size(), data_block_header_size));
  if (is_flasher_stub()) {
    if (request.op == Op::flash_encrypt_data) {
      return StubError::invalid_command;  // v1.0.0 has no such command
    }
    if (size < data_block_header_size) {
      return compressed ? StubError::bad_data_len : StubError::not_enough_data;
    }
    if (!write_.active) {
      return StubError::not_in_flash_mode;
    }
    const std::uint32_t length = decode_data_block(request.data)->length;
    if (!compressed && length != payload.size()) {
      return StubError::too_much_data;
    }
    // The checksum covers the length the header states (clamped to what came).
    const ByteView covered = payload.first(std::min<std::size_t>(length, payload.size()));
    return checksum(covered) != request.checksum ? StubError::bad_data_checksum : StubError::ok;
  }
  if (!write_.active) {
    return StubError::not_in_flash_mode;
  }
  if (size < data_block_header_size) {
    return StubError::bad_data_len;
  }
  // A failed earlier block is reported now; a bad length, then a bad checksum, override it.
  StubError error = write_.last_error;
  if (decode_data_block(request.data)->length != payload.size()) {
    error = StubError::bad_data_len;
  }
  if (checksum(payload) != request.checksum) {
    error = StubError::bad_data_checksum;  // the stub compares the whole 32-bit field
  }
  return error;
}

StubError SimLoader::stub_mem_data(const Request& request) {
  const std::size_t size = request.size;
  if (is_flasher_stub()) {
    if (size < data_block_header_size) {
      return StubError::not_enough_data;
    }
    if (!mem_.active) {
      return StubError::not_in_flash_mode;
    }
    const std::uint32_t length = decode_data_block(request.data)->length;
    if (mem_.remaining < length || length != size - data_block_header_size) {
      return StubError::too_much_data;
    }
    mem_.remaining -= length;
    mem_.loaded = true;
    return StubError::ok;
  }
  // The legacy stub takes size - 16 as the payload length (no checksum check).
  if (size < data_block_header_size) {
    return StubError::too_much_data;  // its length underflows
  }
  const std::size_t length = size - data_block_header_size;
  if (!mem_.active && length > 0) {
    return StubError::not_in_flash_mode;
  }
  if (length > mem_.remaining) {
    return StubError::too_much_data;
  }
  if (length % 4 != 0) {
    return StubError::bad_data_len;
  }
  mem_.remaining -= static_cast<std::uint32_t>(length);
  mem_.loaded = mem_.loaded || length > 0;
  return StubError::ok;
}

// ---------------------------------------------------------------------------------------
// Work both stubs do

void SimLoader::begin_write(std::uint32_t total, std::uint32_t block_size, std::uint32_t offset,
                            bool compressed) {
  start_flash_write(total, block_size, offset, compressed);
  // Erased just in time, sector by sector (64 KiB blocks where aligned), as data arrives.
  const std::uint64_t first = offset & ~(flash_sector_size - 1);
  const std::uint64_t sectors =
      (offset % flash_sector_size + std::uint64_t{total} + flash_sector_size - 1) /
      flash_sector_size;
  write_.erase_next = first;
  write_.erase_end = first + sectors * flash_sector_size;
}

StubError SimLoader::stub_write(SimHardware& hardware, ByteView data) {
  const auto length =
      static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), write_.remaining));
  if (length == 0) {
    return StubError::ok;
  }
  // Erase up to the sector the write ends in (the stub's own rule, one sector further than
  // strictly needed when the write ends on a boundary), never outside the flash size.
  const std::uint64_t last_sector =
      (std::uint64_t{write_.next_write} + length) / flash_sector_size * flash_sector_size;
  while (write_.erase_next < write_.erase_end && write_.erase_next <= last_sector) {
    const bool whole_block = write_.erase_next % flash_block_size == 0 &&
                             write_.erase_end - write_.erase_next >= flash_block_size;
    const std::uint32_t span = whole_block ? flash_block_size : flash_sector_size;
    if (in_configured_range(write_.erase_next, span)) {
      const auto address = static_cast<std::uint32_t>(write_.erase_next);
      if (whole_block) {
        erase_block(hardware, address);
      } else {
        erase_sector(hardware, address);
      }
    }
    write_.erase_next += span;
  }
  StubError error = StubError::ok;
  if (!in_configured_range(write_.next_write, length) ||
      !program(hardware, write_.next_write, data.first(length))) {
    error = StubError::failed_spi_op;
  }
  write_.last_block = SimFlash::Range{write_.next_write, write_.next_write + length};
  write_.next_write += length;
  write_.remaining -= length;
  return error;
}

StubError SimLoader::stub_inflate(SimHardware& hardware, ByteView data) {
  if (write_.remaining == 0 && data.size() > 4) {
    return StubError::too_much_data;  // only a trailing Adler-32 may follow
  }
  StubError error = StubError::ok;
  inflate_buffer_.resize(inflate_chunk);
  while (write_.remaining > 0) {
    const auto step = inflater_.inflate(data, inflate_buffer_);
    if (!step) {
      return StubError::inflate_error;
    }
    const StubError write_error =
        stub_write(hardware, ByteView{inflate_buffer_}.first(step->produced));
    if (error == StubError::ok) {
      error = write_error;
    }
    data = data.subspan(step->consumed);
    if (step->finished || (data.empty() && step->produced < inflate_buffer_.size()) ||
        (step->consumed == 0 && step->produced == 0)) {
      break;
    }
  }
  write_.last_block.reset();  // a compressed block has no one place in flash
  if (error == StubError::ok && inflater_.is_finished() && write_.remaining > 0) {
    error = StubError::not_enough_data;
  }
  return error;
}

void SimLoader::overwrite_block_being_written(ByteView frame, SimHardware& hardware) {
  if (!write_.active) {
    return;
  }
  if (write_.compressed) {
    write_.last_error = StubError::inflate_error;  // the stream it inflated from is mixed
    return;
  }
  if (!write_.last_block) {
    return;
  }
  // The block's payload started at buffer offset header + block header.
  constexpr std::size_t payload_at = header_size + data_block_header_size;
  if (frame.size() <= payload_at) {
    return;
  }
  const SimFlash::Range block = *write_.last_block;
  const ByteView overlay =
      frame.subspan(payload_at)
          .first(std::min<std::size_t>(frame.size() - payload_at, block.end - block.begin));
  hardware.flash.program(block.begin, overlay);  // NOR: the mixed bytes AND in
}

StubError SimLoader::erase_region(SimHardware& hardware, std::uint32_t offset, std::uint32_t size,
                                  EraseRule rule) {
  if (offset % flash_sector_size != 0) {
    return StubError::erase_unaligned_offset;
  }
  if (size % flash_sector_size != 0) {
    return StubError::erase_unaligned_size;
  }
  // Sectors up to a 64 KiB boundary, whole blocks, then the remaining sectors. The legacy
  // stub leaves a last whole block to sectors.
  const std::uint32_t block_threshold =
      rule == EraseRule::whole_blocks_that_fit ? flash_block_size - 1 : flash_block_size;
  while (size > 0 && offset % flash_block_size != 0) {
    if (!in_configured_range(offset, flash_sector_size)) {
      return StubError::erase_sector_failed;
    }
    erase_sector(hardware, offset);
    offset += flash_sector_size;
    size -= flash_sector_size;
  }
  while (size > block_threshold) {
    if (!in_configured_range(offset, flash_block_size)) {
      return StubError::erase_block_failed;
    }
    erase_block(hardware, offset);
    offset += flash_block_size;
    size -= flash_block_size;
  }
  while (size > 0) {
    if (!in_configured_range(offset, flash_sector_size)) {
      return StubError::erase_tail_failed;
    }
    erase_sector(hardware, offset);
    offset += flash_sector_size;
    size -= flash_sector_size;
  }
  return StubError::ok;
}

StubError SimLoader::stub_md5(const Request& request, const SimHardware& hardware) {
  const auto [address, length, reserved0, reserved1] = body_of<Md5Request>(request);
  if (!in_configured_range(address, length)) {
    return StubError::md5_read_failed;
  }
  count_read(length);
  const Md5Digest digest = flash_md5(hardware, address, length);
  reply_data_.assign(digest.begin(), digest.end());
  return StubError::ok;
}

// ---------------------------------------------------------------------------------------
// Stub READ_FLASH: data frames, the host's running count, the digest

void SimLoader::start_read_stream(const Request& request, ByteBuffer& out) {
  const auto read = body_of<ReadFlashRequest>(request);
  if (read.packet_size == 0 || read.packet_size > flash_sector_size) {
    return;  // the legacy stub gives up without sending anything
  }
  read_ = {};
  read_.active = true;
  read_.address = read.offset;
  read_.length = read.size;
  read_.block_size = read.packet_size;
  read_.max_in_flight = read.max_in_flight;
  if (read_.length == 0) {
    handle_read_ack({}, out);  // nothing to send: the digest follows at once
  }
}

void SimLoader::handle_read_ack(ByteView frame, ByteBuffer& out) {
  if (is_flasher_stub()) {
    // Only a 4-byte frame is an acknowledgement; anything else ends the transfer early,
    // with the digest of what was sent.
    if (frame.size() == 4) {
      read_.acked = load_u32(frame);
      ++read_.frames_acked;
      if (read_.sent < read_.length || read_.acked < read_.length) {
        return;
      }
    }
  } else if (read_.length != 0 && frame.size() >= 4) {
    // The legacy stub reads the first 4 bytes of a frame as the count the host has
    // received; a shorter frame ends the transfer.
    read_.acked = load_u32(frame);
    if (read_.acked < read_.length && read_.acked <= read_.sent) {
      return;  // pump() sends what the window now allows
    }
  }
  const Md5Digest digest = read_.digest.finish();
  slip::append_frame(out, digest);
  read_ = {};
}

void SimLoader::pump(const SimHardware& hardware, ByteBuffer& out, std::size_t high_water) {
  // The legacy stub compares bytes in flight with the host's max_in_flight (64), so it
  // sends one frame at a time; esp-flasher-stub allows one frame in flight by design.
  auto window_open = [this] {
    return is_flasher_stub() ? read_.frames_sent == read_.frames_acked
                             : read_.sent - read_.acked < read_.max_in_flight;
  };
  while (read_.active && read_.sent < read_.length && window_open() && out.size() < high_water) {
    const std::uint32_t n = std::min(read_.block_size, read_.length - read_.sent);
    scratch_.resize(n);
    read_flash(hardware, read_.address + read_.sent, scratch_);
    read_.digest.update(scratch_);
    corrupt_read_data(scratch_, read_.sent);
    slip::append_frame(out, scratch_);
    read_.sent += n;
    ++read_.frames_sent;
  }
}

}  // namespace ttynet::esp
