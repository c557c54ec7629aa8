#include "ttynet/esp/sim_loader.hpp"

#include <algorithm>
#include <array>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/slip.hpp"

namespace ttynet::esp {
namespace {

constexpr std::uint32_t stub_max_write_block = 0x4000;
constexpr std::size_t stub_max_data = stub_max_write_block + data_block_header_size;
constexpr std::uint32_t rom_max_block = 0x4000;
constexpr std::uint32_t min_baud = 300;
constexpr std::uint32_t max_baud = 5'000'000;
constexpr std::size_t sync_burst = 8;  // replies to one SYNC, ROM and stub alike
constexpr std::size_t inflate_chunk = 0x8000;
// SPI_SET_PARAMS sizes are taken up to esptool's largest --flash_size, which bounds the work
// one MD5, erase or read can ask for.
constexpr std::uint32_t max_configured_size = 128u << 20;

bool rom_knows(const OpInfo* info, const ChipInfo& chip) {
  if (info == nullptr) {
    return false;
  }
  switch (info->rom) {
    case Availability::all:
    case Availability::esp32_family:
      return true;
    case Availability::s2_and_later:
      return chip.security_info != SecurityInfoSupport::none;
    default:
      return false;
  }
}

std::uint32_t word(const Request& request, std::size_t index) {
  return load_u32(request.data, index * 4);
}

// Flash as the loader reads it: all ones while the SPI pins are not attached.
void read_flash(const SimHardware& hardware, std::uint32_t address, MutableByteView out) {
  if (hardware.registers.is_flash_attached()) {
    hardware.flash.read(address, out);
  } else {
    std::fill(out.begin(), out.end(), Byte{0xFF});
  }
}

Md5Digest flash_md5(const SimHardware& hardware, std::uint32_t address, std::uint32_t length) {
  if (hardware.registers.is_flash_attached()) {
    return hardware.flash.md5(address, length);
  }
  Md5 digest;
  const std::array<Byte, flash_sector_size> ones = [] {
    std::array<Byte, flash_sector_size> block{};
    block.fill(0xFF);
    return block;
  }();
  for (std::uint32_t done = 0; done < length;) {
    const std::uint32_t n = std::min<std::uint32_t>(length - done, flash_sector_size);
    digest.update(ByteView{ones}.first(n));
    done += n;
  }
  return digest.finish();
}

}  // namespace

SimLoader::SimLoader(const ChipInfo& chip) : chip_(chip) {}

void SimLoader::start_rom(const SimHardware& hardware) {
  kind_ = LoaderKind::rom;
  configured_size_ = hardware.flash.size();
  rom_value_ = 0;
  write_ = {};
  mem_ = {};
  read_ = {};
  inflater_.reset();
}

void SimLoader::start_stub(const SimHardware&) {
  kind_ = LoaderKind::stub;
  configured_size_ = chip_.stub_max_flash_size;  // until SPI_SET_PARAMS says otherwise
  write_ = {};
  mem_ = {};
  read_ = {};
  inflater_.reset();
}

LoaderEffect SimLoader::handle_frame(ByteView frame, SimHardware& hardware, ByteBuffer& out) {
  if (kind_ == LoaderKind::stub && read_.active) {
    handle_read_ack(frame, hardware, out);
    return {};
  }
  auto request = decode_request(frame);
  if (!request) {
    return {};  // a frame that is no command: both loaders wait for the next one
  }
  reply_data_.clear();
  return kind_ == LoaderKind::rom ? handle_rom(*request, hardware, out)
                                  : handle_stub(*request, hardware, out);
}

void SimLoader::reply(ByteBuffer& out, Op op, std::uint32_t value, Status status) {
  scratch_.clear();
  if (status.is_ok()) {
    append(scratch_, reply_data_);
  }
  append_status(scratch_, status,
                kind_ == LoaderKind::rom ? chip_.rom_status_length : stub_status_length);
  packet_.clear();
  append_response(packet_, op, value, scratch_);
  slip::append_frame(out, packet_);
}

void SimLoader::reply_unknown_rom(ByteBuffer& out) {
  // The opcode byte differs from the request's and the status says "invalid message":
  // esptool treats that as an unsupported command. One frame, not the ROM's repeats, so no
  // stale frames are left on links where no reset follows.
  reply_data_.clear();
  reply(out, static_cast<Op>(0), 0, rom_status(RomError::invalid_message));
}

void SimLoader::apply_write_regs(ByteView data, SimHardware& hardware) {
  for (std::size_t at = 0; at + 16 <= data.size(); at += 16) {
    hardware.registers.write(load_u32(data, at), load_u32(data, at + 4), load_u32(data, at + 8),
                             hardware.flash);
  }
}

// ---------------------------------------------------------------------------------------
// ROM loader

LoaderEffect SimLoader::handle_rom(const Request& request, SimHardware& hardware, ByteBuffer& out) {
  if (!rom_knows(find_op(request.op), chip_)) {
    reply_unknown_rom(out);
    return {};
  }
  const Status invalid = rom_status(RomError::invalid_message);
  if (!request.has_consistent_size()) {
    reply(out, request.op, rom_value_, invalid);
    return {};
  }
  const std::size_t size = request.data.size();
  LoaderEffect effect;
  Status status = ok_status;
  switch (request.op) {
    case Op::sync:
      if (!is_sync_data(request.data)) {
        status = invalid;
        break;
      }
      rom_value_ = rom_sync_value;
      for (std::size_t i = 1; i < sync_burst; ++i) {
        reply(out, Op::sync, rom_value_, ok_status);
      }
      break;
    case Op::read_reg:
      if (size != 4) {
        status = invalid;
        break;
      }
      rom_value_ = hardware.registers.read(word(request, 0));
      break;
    case Op::write_reg:
      if (size == 0 || size % 16 != 0) {
        status = invalid;
        break;
      }
      apply_write_regs(request.data, hardware);
      break;
    case Op::spi_set_params:
      if (size != 24 || word(request, 1) == 0) {
        status = invalid;
        break;
      }
      configured_size_ = std::min(word(request, 1), max_configured_size);
      break;
    case Op::spi_attach:
      if (size != 8) {  // the ROM takes the config word and a 4-byte "legacy" flag
        status = invalid;
        break;
      }
      hardware.registers.set_flash_attached(true);
      break;
    case Op::read_flash_slow:
      status = rom_read_flash_slow(request, hardware);
      break;
    case Op::change_baudrate:
      if (size != 8 || word(request, 0) < min_baud || word(request, 0) > max_baud) {
        status = invalid;
        break;
      }
      effect = {LoaderEffect::Kind::change_baud, word(request, 0)};
      break;
    case Op::flash_begin:
    case Op::flash_defl_begin:
      status = rom_flash_begin(request, hardware, request.op == Op::flash_defl_begin);
      break;
    case Op::flash_data:
    case Op::flash_defl_data:
      status = rom_flash_data(request, hardware);
      break;
    case Op::flash_end:
    case Op::flash_defl_end:
      if (size != 4) {
        status = invalid;
        break;
      }
      write_.active = false;
      effect.kind =
          word(request, 0) == 0 ? LoaderEffect::Kind::reboot : LoaderEffect::Kind::run_user_code;
      break;
    case Op::spi_flash_md5: {
      if (size != 16) {
        status = invalid;
        break;
      }
      const std::uint32_t address = word(request, 0);
      const std::uint32_t length = word(request, 1);
      if (!in_configured_range(address, length)) {
        status = rom_status(RomError::flash_read_error);
        break;
      }
      append(reply_data_, as_bytes(to_hex(flash_md5(hardware, address, length))));
      break;
    }
    case Op::mem_begin:
      if (size != 16) {
        status = invalid;
        break;
      }
      mem_.active = true;
      mem_.remaining = word(request, 0);
      break;
    case Op::mem_data:
      status = rom_mem_data(request);
      break;
    case Op::mem_end:
      if (size != 8) {
        status = invalid;
        break;
      }
      mem_.active = false;
      if (word(request, 0) == 0 && word(request, 1) != 0 && mem_.loaded) {
        effect.kind = LoaderEffect::Kind::start_stub;  // any uploaded code is taken as the stub
      }
      break;
    case Op::get_security_info:
      if (size != 0) {
        status = invalid;
        break;
      }
      reply_data_ = security_info_data(chip_);
      break;
    default:
      reply_unknown_rom(out);
      return {};
  }
  reply(out, request.op, rom_value_, status);
  return status.is_ok() ? effect : LoaderEffect{};
}

Status SimLoader::rom_flash_begin(const Request& request, SimHardware& hardware, bool compressed) {
  // ESP32-S2 and later ROMs take a fifth word, the "encrypted" flag.
  const bool takes_encrypt_flag = chip_.security_info != SecurityInfoSupport::none;
  const std::size_t size = request.data.size();
  if (size != 16 && !(size == 20 && takes_encrypt_flag)) {
    return rom_status(RomError::invalid_message);
  }
  if (size == 20 && word(request, 4) != 0) {
    return rom_status(RomError::invalid_parameter);  // encrypted writes are not simulated
  }
  const std::uint32_t erase_size = word(request, 0);
  const std::uint32_t block_size = word(request, 2);
  const std::uint32_t offset = word(request, 3);
  if (block_size == 0 || block_size > rom_max_block) {
    return rom_status(RomError::invalid_message);
  }
  if (!in_configured_range(offset, erase_size)) {
    return rom_status(RomError::execution_failed);
  }
  // The ROM erases up front, whole sectors covering the region.
  if (hardware.registers.is_flash_attached()) {
    const std::uint64_t end = std::uint64_t{offset} + erase_size;
    for (std::uint64_t at = offset & ~(flash_sector_size - 1); at < end; at += flash_sector_size) {
      hardware.flash.erase_sector(static_cast<std::uint32_t>(at));
    }
  }
  write_ = {};
  write_.active = true;
  write_.compressed = compressed;
  write_.offset = offset;
  write_.block_size = block_size;
  write_.next_write = offset;
  write_.remaining = erase_size;
  if (compressed) {
    inflater_.reset();
  }
  return ok_status;
}

Status SimLoader::rom_flash_data(const Request& request, SimHardware& hardware) {
  const bool compressed = request.op == Op::flash_defl_data;
  if (!write_.active || write_.compressed != compressed) {
    return rom_status(RomError::execution_failed);
  }
  const auto block = decode_data_block(request.data);
  if (!block || block->length != block->payload.size() ||
      block->payload.size() > write_.block_size) {
    return rom_status(RomError::invalid_message);
  }
  if (checksum(block->payload) != (request.checksum & 0xFF)) {
    return rom_status(RomError::bad_checksum);
  }
  const bool attached = hardware.registers.is_flash_attached();
  if (!compressed) {
    const std::uint64_t address =
        write_.offset + std::uint64_t{block->sequence} * write_.block_size;
    if (!in_configured_range(address, block->payload.size())) {
      return rom_status(RomError::execution_failed);
    }
    if (attached) {
      hardware.flash.program(static_cast<std::uint32_t>(address), block->payload);
    }
    return ok_status;
  }
  ByteView input = block->payload;
  inflate_buffer_.resize(inflate_chunk);
  for (;;) {
    const auto step = inflater_.inflate(input, inflate_buffer_);
    if (!step) {
      return rom_status(step.error() == errc::inflate_checksum_failed
                            ? RomError::deflate_adler32_error
                            : RomError::deflate_error);
    }
    if (step->produced > write_.remaining) {
      return rom_status(RomError::deflate_error);  // more data than FLASH_DEFL_BEGIN announced
    }
    if (!in_configured_range(write_.next_write, step->produced)) {
      return rom_status(RomError::execution_failed);
    }
    if (attached) {
      hardware.flash.program(write_.next_write, ByteView{inflate_buffer_}.first(step->produced));
    }
    write_.next_write += static_cast<std::uint32_t>(step->produced);
    write_.remaining -= static_cast<std::uint32_t>(step->produced);
    input = input.subspan(step->consumed);
    if (step->finished || (input.empty() && step->produced < inflate_buffer_.size()) ||
        (step->consumed == 0 && step->produced == 0)) {
      return ok_status;
    }
  }
}

Status SimLoader::rom_read_flash_slow(const Request& request, const SimHardware& hardware) {
  if (request.data.size() != 8) {
    return rom_status(RomError::invalid_message);
  }
  const std::uint32_t offset = word(request, 0);
  const std::uint32_t length = word(request, 1);
  if (length > read_flash_slow_block) {
    return rom_status(RomError::flash_read_length_error);
  }
  if (!in_configured_range(offset, length)) {
    return rom_status(RomError::flash_read_error);
  }
  reply_data_.assign(read_flash_slow_block, Byte{0});  // always 64 bytes, the rest unused
  read_flash(hardware, offset, MutableByteView{reply_data_}.first(length));
  return ok_status;
}

Status SimLoader::rom_mem_data(const Request& request) {
  if (!mem_.active) {
    return rom_status(RomError::execution_failed);
  }
  const auto block = decode_data_block(request.data);
  if (!block || block->length != block->payload.size()) {
    return rom_status(RomError::invalid_message);
  }
  if (checksum(block->payload) != (request.checksum & 0xFF)) {
    return rom_status(RomError::bad_checksum);
  }
  if (block->payload.size() > mem_.remaining) {
    return rom_status(RomError::invalid_ram_size);
  }
  mem_.remaining -= static_cast<std::uint32_t>(block->payload.size());
  mem_.loaded = true;
  return ok_status;
}

// ---------------------------------------------------------------------------------------
// Flasher stub (the legacy C stub that esptool v4 uploads)

LoaderEffect SimLoader::handle_stub(const Request& request, SimHardware& hardware,
                                    ByteBuffer& out) {
  const std::size_t size = request.size;  // the stub goes by the header
  std::uint32_t value = 0;
  if (request.op == Op::read_reg && size == 4 && request.data.size() >= 4) {
    value = hardware.registers.read(word(request, 0));
  }
  if (size > stub_max_data) {
    reply(out, request.op, value, stub_status(StubError::bad_data_len, 0xEE));
    return {};
  }
  if (!request.has_consistent_size()) {
    reply(out, request.op, value, stub_status(StubError::bad_data_len));
    return {};
  }
  auto length_is = [size](std::size_t expected) {
    return size == expected ? StubError::ok : StubError::bad_data_len;
  };
  StubError error = StubError::cmd_not_implemented;
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
    case Op::get_security_info:
      if (chip_.security_info == SecurityInfoSupport::none) {
        break;  // the ESP32 stub does not implement it
      }
      error = length_is(0);
      if (error == StubError::ok) {
        reply_data_ = security_info_data(chip_);
      }
      break;
    case Op::erase_flash:
      error = length_is(0);
      if (error == StubError::ok) {
        hardware.flash.erase_chip();
      }
      break;
    case Op::erase_region:
      error = length_is(8);
      if (error == StubError::ok) {
        error = stub_erase_region(hardware, word(request, 0), word(request, 1));
      }
      break;
    case Op::change_baudrate:  // new baud, old baud; applied after the reply
      error = length_is(8);
      if (error == StubError::ok) {
        effect = {LoaderEffect::Kind::change_baud, word(request, 0)};
      }
      break;
    case Op::read_flash:
      error = length_is(16);
      if (error == StubError::ok) {
        // The stub replies OK and then fails to read past its flash size, leaving the host
        // waiting; the simulator refuses up front instead.
        if (!in_configured_range(word(request, 0), word(request, 1))) {
          error = StubError::failed_spi_op;
        }
      }
      break;
    case Op::spi_flash_md5:
      error = length_is(16);
      if (error == StubError::ok) {
        if (!in_configured_range(word(request, 0), word(request, 1))) {
          error = StubError::md5_read_failed;
        } else {
          const Md5Digest digest = flash_md5(hardware, word(request, 0), word(request, 1));
          reply_data_.assign(digest.begin(), digest.end());
        }
      }
      break;
    case Op::flash_begin:
    case Op::flash_defl_begin:
      error = stub_flash_begin(request, request.op == Op::flash_defl_begin);
      break;
    case Op::flash_data:
    case Op::flash_defl_data:
    case Op::flash_encrypt_data:
      error = stub_flash_data_check(request);
      break;
    case Op::flash_end:
    case Op::flash_defl_end:
      if (!write_.active) {
        error = StubError::not_in_flash_mode;
      } else if (write_.remaining > 0) {
        error = StubError::not_enough_data;
      } else {
        write_.active = false;
        error = write_.last_error;
      }
      if (error == StubError::ok && size >= 4 && word(request, 0) == 0) {
        effect.kind = LoaderEffect::Kind::reboot;
      }
      break;
    case Op::spi_set_params:
      error = length_is(24);
      if (error == StubError::ok) {
        configured_size_ = std::min(word(request, 1), max_configured_size);
      }
      break;
    case Op::spi_attach:
      error = length_is(4);
      if (error == StubError::ok) {
        hardware.registers.set_flash_attached(true);
      }
      break;
    case Op::write_reg:
      error = size % 16 == 0 ? StubError::ok : StubError::bad_data_len;
      if (error == StubError::ok) {
        apply_write_regs(request.data, hardware);
      }
      break;
    case Op::read_reg:
      error = length_is(4);
      break;
    case Op::mem_begin:
      error = length_is(16);
      if (error == StubError::ok) {
        mem_.active = true;
        mem_.remaining = word(request, 0);
      }
      break;
    case Op::mem_data: {
      // The stub takes size - 16 as the payload length (no checksum check).
      if (size < data_block_header_size) {
        error = StubError::too_much_data;  // the stub's length underflows
        break;
      }
      const std::size_t length = size - data_block_header_size;
      if (!mem_.active && length > 0) {
        error = StubError::not_in_flash_mode;
      } else if (length > mem_.remaining) {
        error = StubError::too_much_data;
      } else if (length % 4 != 0) {
        error = StubError::bad_data_len;
      } else {
        mem_.remaining -= static_cast<std::uint32_t>(length);
        mem_.loaded = mem_.loaded || length > 0;
        error = StubError::ok;
      }
      break;
    }
    case Op::mem_end:
      error = length_is(8);
      if (error == StubError::ok) {
        error = mem_.remaining > 0 ? StubError::not_enough_data : StubError::ok;
        mem_.active = false;
        mem_.remaining = 0;
      }
      if (error == StubError::ok && word(request, 1) != 0) {
        effect.kind = LoaderEffect::Kind::start_stub;  // jumps to the new code
      }
      break;
    case Op::run_user_code:
      return {LoaderEffect::Kind::run_user_code, 0};  // no reply
    default:
      break;  // cmd_not_implemented
  }
  reply(out, request.op, value, stub_status(error));
  if (error != StubError::ok) {
    return {};
  }
  // Work the stub does after its reply is out.
  switch (request.op) {
    case Op::flash_data:
    case Op::flash_encrypt_data:  // written as given: flash encryption is not simulated
      stub_write(hardware, request.data.subspan(data_block_header_size));
      break;
    case Op::flash_defl_data:
      stub_inflate(hardware, request.data.subspan(data_block_header_size));
      break;
    case Op::read_flash: {
      const std::uint32_t block_size = word(request, 2);
      if (block_size == 0 || block_size > flash_sector_size) {
        break;  // the stub gives up without sending anything
      }
      read_ = {};
      read_.active = true;
      read_.address = word(request, 0);
      read_.length = word(request, 1);
      read_.block_size = block_size;
      read_.max_in_flight = word(request, 3);
      if (read_.length == 0) {
        handle_read_ack({}, hardware, out);  // nothing to send: the digest follows at once
      }
      break;
    }
    default:
      break;
  }
  return effect;
}

StubError SimLoader::stub_flash_begin(const Request& request, bool compressed) {
  if (request.size == 16 && word(request, 2) > stub_max_write_block) {
    return StubError::bad_blocksize;
  }
  if (request.size != 16) {
    return StubError::bad_data_len;
  }
  const std::uint32_t total = word(request, 0);
  const std::uint32_t offset = word(request, 3);
  write_ = {};
  write_.active = true;
  write_.compressed = compressed;
  write_.offset = offset;
  write_.block_size = word(request, 2);
  write_.next_write = offset;
  write_.remaining = total;
  // Erased just in time, sector by sector (64 KiB blocks where aligned), as data arrives.
  const std::uint64_t first = offset & ~(flash_sector_size - 1);
  const std::uint64_t sectors =
      (offset % flash_sector_size + std::uint64_t{total} + flash_sector_size - 1) /
      flash_sector_size;
  write_.erase_next = first;
  write_.erase_end = first + sectors * flash_sector_size;
  if (compressed) {
    inflater_.reset();
  }
  return StubError::ok;
}

StubError SimLoader::stub_flash_data_check(const Request& request) {
  if (!write_.active) {
    return StubError::not_in_flash_mode;
  }
  if (request.size < data_block_header_size) {
    return StubError::bad_data_len;
  }
  // A failed earlier block is reported now; a bad length, then a bad checksum, override it.
  StubError error = write_.last_error;
  if (word(request, 0) != request.size - data_block_header_size) {
    error = StubError::bad_data_len;
  }
  if (checksum(request.data.subspan(data_block_header_size)) != request.checksum) {
    error = StubError::bad_data_checksum;  // the stub compares the whole 32-bit field
  }
  return error;
}

void SimLoader::stub_write(SimHardware& hardware, ByteView data) {
  const auto length =
      static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), write_.remaining));
  if (length == 0) {
    return;
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
        hardware.flash.erase_block(address);
      } else {
        hardware.flash.erase_sector(address);
      }
    }
    write_.erase_next += span;
  }
  if (in_configured_range(write_.next_write, length)) {
    hardware.flash.program(write_.next_write, data.first(length));
  } else {
    write_.last_error = StubError::failed_spi_op;
  }
  write_.next_write += length;
  write_.remaining -= length;
}

void SimLoader::stub_inflate(SimHardware& hardware, ByteView data) {
  if (write_.remaining == 0 && data.size() > 4) {
    write_.last_error = StubError::too_much_data;  // only a trailing Adler-32 may follow
    return;
  }
  inflate_buffer_.resize(inflate_chunk);
  while (write_.remaining > 0) {
    const auto step = inflater_.inflate(data, inflate_buffer_);
    if (!step) {
      write_.last_error = StubError::inflate_error;
      return;
    }
    stub_write(hardware, ByteView{inflate_buffer_}.first(step->produced));
    data = data.subspan(step->consumed);
    if (step->finished || (data.empty() && step->produced < inflate_buffer_.size()) ||
        (step->consumed == 0 && step->produced == 0)) {
      break;
    }
  }
  if (inflater_.is_finished() && write_.remaining > 0) {
    write_.last_error = StubError::not_enough_data;
  }
}

StubError SimLoader::stub_erase_region(SimHardware& hardware, std::uint32_t offset,
                                       std::uint32_t size) {
  if (offset % flash_sector_size != 0) {
    return StubError::erase_unaligned_offset;
  }
  if (size % flash_sector_size != 0) {
    return StubError::erase_unaligned_size;
  }
  // Sectors up to a 64 KiB boundary, whole blocks, then the remaining sectors.
  while (size > 0 && offset % flash_block_size != 0) {
    if (!in_configured_range(offset, flash_sector_size)) {
      return StubError::erase_sector_failed;
    }
    hardware.flash.erase_sector(offset);
    offset += flash_sector_size;
    size -= flash_sector_size;
  }
  while (size > flash_block_size) {
    if (!in_configured_range(offset, flash_block_size)) {
      return StubError::erase_block_failed;
    }
    hardware.flash.erase_block(offset);
    offset += flash_block_size;
    size -= flash_block_size;
  }
  while (size > 0) {
    if (!in_configured_range(offset, flash_sector_size)) {
      return StubError::erase_tail_failed;
    }
    hardware.flash.erase_sector(offset);
    offset += flash_sector_size;
    size -= flash_sector_size;
  }
  return StubError::ok;
}

void SimLoader::handle_read_ack(ByteView frame, const SimHardware&, ByteBuffer& out) {
  // The stub reads the first 4 bytes of a frame as the count the host has received; a
  // shorter frame ends the transfer. When everything is acknowledged it sends the MD5.
  if (read_.length != 0 && frame.size() >= 4) {
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
  while (read_.active && read_.sent < read_.length &&
         read_.sent - read_.acked < read_.max_in_flight && out.size() < high_water) {
    const std::uint32_t n = std::min(read_.block_size, read_.length - read_.sent);
    scratch_.resize(n);
    read_flash(hardware, read_.address + read_.sent, scratch_);
    read_.digest.update(scratch_);
    slip::append_frame(out, scratch_);
    read_.sent += n;
  }
}

}  // namespace ttynet::esp
