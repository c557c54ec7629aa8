// The simulated loader: frame handling, the flash work both dialects share, and the ROM
// loader (sim_loader.hpp; the flasher stubs are in sim_stub_loader.cpp).
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

namespace {

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

}  // namespace

SimLoader::SimLoader(const ChipInfo& chip, LoaderOptions options)
    : chip_(chip), options_(options) {}

void SimLoader::start_rom(const SimHardware& hardware) {
  kind_ = LoaderKind::rom;
  configured_size_ = hardware.flash.size();
  rom_value_ = 0;
  forget_transfers();
}

void SimLoader::start_stub(const SimHardware&) {
  kind_ = LoaderKind::stub;
  configured_size_ = chip_.stub_max_flash_size;  // until SPI_SET_PARAMS says otherwise
  forget_transfers();
}

void SimLoader::forget_transfers() {
  write_ = {};
  mem_ = {};
  uploaded_.clear();
  read_ = {};
  deferred_error_ = StubError::ok;
  inflater_.reset();
}

void SimLoader::start_flash_write(std::uint32_t total, std::uint32_t block_size,
                                  std::uint32_t offset, bool compressed) {
  write_ = FlashWrite{.active = true,
                      .compressed = compressed,
                      .offset = offset,
                      .block_size = block_size,
                      .next_write = offset,
                      .remaining = total,
                      .erase_next = 0,  // the stubs set the region they erase as data arrives
                      .erase_end = 0,
                      .last_error = StubError::ok,
                      .last_block = std::nullopt};
  if (compressed) {
    inflater_.reset();
  }
}

LoaderEffect SimLoader::handle_frame(ByteView frame, SimHardware& hardware, ByteBuffer& out) {
  work_ = {};
  reply_work_ = {};
  if (kind_ == LoaderKind::stub && read_.active) {
    handle_read_ack(frame, out);
    return {};
  }
  auto request = decode_request(frame);
  if (!request) {
    // esp-flasher-stub answers anything with a header; the others wait for the next frame.
    if (kind_ == LoaderKind::stub && is_flasher_stub() && frame.size() >= 2) {
      reply_data_.clear();
      reply(out, static_cast<Op>(frame[1]), 0,
            stub_status(frame[0] != request_direction ? StubError::invalid_command
                                                      : StubError::bad_data_len));
    }
    return {};
  }
  reply_data_.clear();
  LoaderEffect effect;
  if (kind_ == LoaderKind::rom) {
    effect = handle_rom(*request, hardware, out);
  } else {
    effect = handle_stub(*request, hardware, out);
  }
  effect.busy_before_reply = reply_work_;
  effect.busy_after_reply = work_ - reply_work_;
  return effect;
}

void SimLoader::reply(ByteBuffer& out, Op op, std::uint32_t value, Status status) {
  reply_work_ = work_;
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
// Flash work and its time

void SimLoader::erase_sector(SimHardware& hardware, std::uint32_t address) {
  hardware.flash.erase_sector(address);
  work_ += flash_timing::sector_erase;
}

void SimLoader::erase_block(SimHardware& hardware, std::uint32_t address) {
  hardware.flash.erase_block(address);
  work_ += flash_timing::block_erase;
}

bool SimLoader::program(SimHardware& hardware, std::uint32_t address, ByteView data) {
  if (data.empty()) {
    return true;
  }
  if (block_fault_) {
    return false;  // the block's pages never reach the flash
  }
  hardware.flash.program(address, data);
  const std::uint64_t first_page = address / flash_timing::page_size;
  const std::uint64_t last_page =
      (std::uint64_t{address} + data.size() - 1) / flash_timing::page_size;
  work_ += flash_timing::page_program * static_cast<Duration::rep>(last_page - first_page + 1);
  return true;
}

void SimLoader::count_read(std::uint64_t bytes) {
  work_ += flash_timing::read_per_mib * static_cast<Duration::rep>(bytes) / (1 << 20);
}

bool SimLoader::take_block_fault(std::uint32_t sequence) {
  SimFaults& faults = options_.faults;
  if (!faults.fail_block || *faults.fail_block != sequence) {
    return false;
  }
  if (!faults.fail_block_always) {
    faults.fail_block.reset();  // once: the retry goes through
  }
  return true;
}

void SimLoader::corrupt_read_data(MutableByteView data, std::uint32_t offset_in_read) const {
  const auto& at = options_.faults.corrupt_read;
  if (at && *at >= offset_in_read && *at - offset_in_read < data.size()) {
    data[*at - offset_in_read] ^= 0xFF;
  }
}

void SimLoader::begin_mem(const Request& request) {
  const auto begin = body_of<BeginRequest>(request);
  mem_.active = true;
  mem_.remaining = begin.size;
  if (uploaded_.size() < max_uploaded_segments) {
    uploaded_.push_back({begin.offset, begin.size});
  }
}

LoaderEffect SimLoader::stub_started(std::uint32_t entry) {
  flavor_ = options_.stub.value_or(identify_stub(chip_, uploaded_, entry));
  return {LoaderEffect::Kind::start_stub};
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
      rom_value_ = hardware.registers.read(body_of<ReadRegRequest>(request).address);
      break;
    case Op::write_reg:
      if (size == 0 || size % 16 != 0) {
        status = invalid;
        break;
      }
      apply_write_regs(request.data, hardware);
      break;
    case Op::spi_set_params:
      if (size != 24 || body_of<SpiSetParamsRequest>(request).total_size == 0) {
        status = invalid;
        break;
      }
      configured_size_ =
          std::min(body_of<SpiSetParamsRequest>(request).total_size, max_configured_size);
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
    case Op::change_baudrate: {
      const std::uint32_t baud = body_of<ChangeBaudrateRequest>(request).baud;
      if (size != 8 || baud < min_baud || baud > max_baud) {
        status = invalid;
        break;
      }
      effect = {LoaderEffect::Kind::change_baud, baud};
      break;
    }
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
      effect.kind = body_of<FlashEndRequest>(request).run_user_code == 0
                        ? LoaderEffect::Kind::reboot
                        : LoaderEffect::Kind::run_user_code;
      break;
    case Op::spi_flash_md5: {
      if (size != 16) {
        status = invalid;
        break;
      }
      const auto [address, length, reserved0, reserved1] = body_of<Md5Request>(request);
      if (!in_configured_range(address, length)) {
        status = rom_status(RomError::flash_read_error);
        break;
      }
      count_read(length);
      append(reply_data_, as_bytes(to_hex(flash_md5(hardware, address, length))));
      break;
    }
    case Op::mem_begin:
      if (size != 16) {
        status = invalid;
        break;
      }
      begin_mem(request);
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
      if (const auto end = body_of<MemEndRequest>(request);
          end.no_entry == 0 && end.entry != 0 && mem_.loaded) {
        effect = stub_started(end.entry);  // any uploaded code is taken as a stub
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
  const std::size_t size = request.data.size();
  if (size != 16 && !(size == 20 && chip_.rom_begin_has_encrypt_word)) {
    return rom_status(RomError::invalid_message);
  }
  const auto begin = body_of<BeginRequest>(request);
  if (begin.encrypted.value_or(0) != 0) {
    return rom_status(RomError::invalid_parameter);  // encrypted writes are not simulated
  }
  const std::uint32_t erase_size = begin.size;
  const std::uint32_t block_size = begin.block_size;
  const std::uint32_t offset = begin.offset;
  if (block_size == 0 || block_size > rom_max_block) {
    return rom_status(RomError::invalid_message);
  }
  if (!in_configured_range(offset, erase_size)) {
    return rom_status(RomError::execution_failed);
  }
  // The ROM erases up front, whole sectors covering the region (64 KiB blocks where whole
  // blocks fit), before it answers.
  if (hardware.registers.is_flash_attached() && erase_size > 0) {
    const std::uint32_t first = offset & ~(flash_sector_size - 1);
    const std::uint64_t end = std::uint64_t{offset} + erase_size;
    const std::uint64_t sectors = (end - first + flash_sector_size - 1) / flash_sector_size;
    erase_region(hardware, first, static_cast<std::uint32_t>(sectors * flash_sector_size),
                 EraseRule::whole_blocks_that_fit);
  }
  start_flash_write(erase_size, block_size, offset, compressed);
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
  if (take_block_fault(block->sequence)) {
    return rom_status(RomError::flash_write_error);  // the read-back check failed
  }
  const bool attached = hardware.registers.is_flash_attached();
  if (!compressed) {
    const std::uint64_t address =
        write_.offset + std::uint64_t{block->sequence} * write_.block_size;
    if (!in_configured_range(address, block->payload.size())) {
      return rom_status(RomError::execution_failed);
    }
    if (attached) {
      program(hardware, static_cast<std::uint32_t>(address), block->payload);
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
      program(hardware, write_.next_write, ByteView{inflate_buffer_}.first(step->produced));
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
  const auto [offset, length] = body_of<RegionRequest>(request);
  if (length > read_flash_slow_block) {
    return rom_status(RomError::flash_read_length_error);
  }
  if (!in_configured_range(offset, length)) {
    return rom_status(RomError::flash_read_error);
  }
  reply_data_.assign(read_flash_slow_block, Byte{0});  // always 64 bytes, the rest unused
  const MutableByteView data = MutableByteView{reply_data_}.first(length);
  read_flash(hardware, offset, data);
  count_read(length);
  corrupt_read_data(data, 0);
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

}  // namespace ttynet::esp
