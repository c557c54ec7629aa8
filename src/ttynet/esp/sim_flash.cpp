#include "ttynet/esp/sim_flash.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/spi_flash_opcodes.hpp"

namespace ttynet::esp {
namespace {

constexpr Byte write_enable_latch = 0x02;

Byte capacity_code(std::uint32_t size) { return static_cast<Byte>(std::countr_zero(size)); }

}  // namespace

SimFlash::SimFlash(std::uint32_t size, ByteView initial) : size_(size) {
  assert(std::has_single_bit(size));
  if (!initial.empty()) {
    const std::size_t n = std::min<std::size_t>(initial.size(), size);
    std::copy_n(initial.begin(), n, storage().begin());
  }
}

ByteBuffer& SimFlash::storage() const {
  if (contents_.empty()) {
    contents_.assign(size_, Byte{0xFF});
  }
  return contents_;
}

ByteView SimFlash::contents() const { return storage(); }

std::uint32_t SimFlash::jedec_id() const {
  return manufacturer | memory_type << 8 | static_cast<std::uint32_t>(capacity_code(size())) << 16;
}

void SimFlash::read(std::uint32_t address, MutableByteView out) const {
  if (contents_.empty()) {
    std::fill(out.begin(), out.end(), Byte{0xFF});
    return;
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint32_t at = wrap(static_cast<std::uint32_t>(address + done));
    const std::size_t n = std::min<std::size_t>(out.size() - done, size() - at);
    std::copy_n(contents_.begin() + at, n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
}

void SimFlash::program(std::uint32_t address, ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint32_t at = wrap(static_cast<std::uint32_t>(address + done));
    const std::size_t n = std::min<std::size_t>(data.size() - done, size() - at);
    auto target = storage().begin() + at;
    std::transform(target, target + static_cast<std::ptrdiff_t>(n),
                   data.begin() + static_cast<std::ptrdiff_t>(done), target,
                   [](Byte old, Byte next) { return static_cast<Byte>(old & next); });
    mark_changed(at, static_cast<std::uint32_t>(at + n));
    done += n;
  }
}

void SimFlash::erase(std::uint32_t address, std::uint32_t length) {
  const std::uint32_t at = wrap(address);
  if (!contents_.empty()) {
    std::fill_n(contents_.begin() + at, length, Byte{0xFF});
  }
  mark_changed(at, at + length);
}

void SimFlash::erase_sector(std::uint32_t address) {
  erase(address & ~(flash_sector_size - 1), flash_sector_size);
}

void SimFlash::erase_block(std::uint32_t address) {
  erase(address & ~(flash_block_size - 1), std::min(flash_block_size, size()));
}

void SimFlash::erase_chip() { erase(0, size()); }

Md5Digest SimFlash::md5(std::uint32_t address, std::uint32_t length) const {
  Md5 digest;
  std::array<Byte, flash_sector_size> chunk{};
  std::uint32_t done = 0;
  while (done < length) {
    const std::uint32_t n = std::min<std::uint32_t>(length - done, flash_sector_size);
    read(address + done, MutableByteView{chunk}.first(n));
    digest.update(ByteView{chunk}.first(n));
    done += n;
  }
  return digest.finish();
}

void SimFlash::mark_changed(std::uint32_t begin, std::uint32_t end) {
  if (begin == end) {
    return;
  }
  if (!changes_) {
    changes_ = Range{begin, end};
  } else {
    changes_->begin = std::min(changes_->begin, begin);
    changes_->end = std::max(changes_->end, end);
  }
}

void SimFlash::reset_status() {
  status1_ = 0x00;
  status2_ = 0x00;
  status3_ = 0x60;
  volatile_status_write_ = false;
}

Byte SimFlash::sfdp_byte(std::uint32_t address) const {
  // SFDP header (signature, revision 1.6, two parameter headers), the JEDEC basic table
  // header and a vendor table header naming the manufacturer (esptool's XMC check reads
  // byte 0x10 and only acts on 0x20), then the first words of the basic table.
  static constexpr std::array<Byte, 0x10> header = {'S',  'F',  'D',  'P',  0x06, 0x01, 0x01, 0xFF,
                                                    0x00, 0x06, 0x01, 0x10, 0x80, 0x00, 0x00, 0xFF};
  static constexpr std::array<Byte, 0x08> vendor = {manufacturer, 0x00, 0x01, 0x03,
                                                    0xD0,         0x00, 0x00, 0xFF};
  if (address < header.size()) {
    return header[address];
  }
  if (address < 0x18) {
    return vendor[address - 0x10];
  }
  if (address >= 0x80 && address < 0x88) {
    // Basic table: 4 KiB erase (20h) supported, 3-byte addressing, then density in bits - 1.
    const std::uint32_t density = size() * 8 - 1;
    const std::array<Byte, 8> basic = {0xE5,
                                       0x20,
                                       0xF1,
                                       0xFF,
                                       static_cast<Byte>(density),
                                       static_cast<Byte>(density >> 8),
                                       static_cast<Byte>(density >> 16),
                                       static_cast<Byte>(density >> 24)};
    return basic[address - 0x80];
  }
  return 0xFF;
}

ByteBuffer SimFlash::run_command(Byte code, std::optional<std::uint32_t> address, ByteView mosi,
                                 std::size_t miso_length) {
  ByteBuffer miso(miso_length, Byte{0});
  const bool writable = (status1_ & write_enable_latch) != 0;
  const std::uint32_t at = address.value_or(0);
  auto fill_from = [&](auto byte_at) {
    for (std::size_t i = 0; i < miso.size(); ++i) {
      miso[i] = byte_at(i);
    }
  };
  switch (code) {
    case flash_opcode::jedec_id: {
      const std::uint32_t id = jedec_id();
      fill_from([id](std::size_t i) { return i < 3 ? static_cast<Byte>(id >> (8 * i)) : Byte{0}; });
      break;
    }
    case flash_opcode::manufacturer_device_id:
      fill_from([this](std::size_t i) {
        return i % 2 == 0 ? manufacturer : static_cast<Byte>(capacity_code(size()) - 1);
      });
      break;
    case flash_opcode::release_power_down:
      fill_from([this](std::size_t) { return static_cast<Byte>(capacity_code(size()) - 1); });
      break;
    case flash_opcode::sfdp:
      fill_from([&](std::size_t i) {
        return sfdp_byte(static_cast<std::uint32_t>((at + i) & 0xFFFFFF));
      });
      break;
    case flash_opcode::unique_id:
      fill_from([](std::size_t i) { return static_cast<Byte>(0x30 + i); });
      break;
    case flash_opcode::read:
    case flash_opcode::fast_read:
      read(at, miso);
      break;
    case flash_opcode::read_status:
      fill_from([this](std::size_t) { return status1_; });
      break;
    case flash_opcode::read_status2:
      fill_from([this](std::size_t) { return status2_; });
      break;
    case flash_opcode::read_status3:
      fill_from([this](std::size_t) { return status3_; });
      break;
    case flash_opcode::write_enable:
      status1_ |= write_enable_latch;
      break;
    case flash_opcode::write_disable:
      status1_ &= static_cast<Byte>(~write_enable_latch);
      break;
    case flash_opcode::volatile_status_enable:
      volatile_status_write_ = true;
      break;
    case flash_opcode::write_status:
    case flash_opcode::write_status2:
    case flash_opcode::write_status3:
      if ((writable || volatile_status_write_) && !mosi.empty()) {
        Byte* targets[] = {&status1_, &status2_, &status3_};
        const std::size_t first = code == flash_opcode::write_status    ? 0
                                  : code == flash_opcode::write_status2 ? 1
                                                                        : 2;
        for (std::size_t i = 0; i < mosi.size() && first + i < 3; ++i) {
          *targets[first + i] = mosi[i];
        }
        status1_ &= static_cast<Byte>(~(write_enable_latch | 0x01));  // WEL and WIP clear
        volatile_status_write_ = false;
      }
      break;
    case flash_opcode::page_program:
      if (writable) {
        // Within one 256-byte page the address wraps, as the part does.
        const std::uint32_t page = at & ~(flash_page_size - 1);
        for (std::size_t i = 0; i < mosi.size(); ++i) {
          program(page + ((at + static_cast<std::uint32_t>(i)) & (flash_page_size - 1)),
                  mosi.subspan(i, 1));
        }
        status1_ &= static_cast<Byte>(~write_enable_latch);
      }
      break;
    case flash_opcode::sector_erase:
    case flash_opcode::block_erase_32k:
    case flash_opcode::block_erase_64k:
    case flash_opcode::chip_erase_60:
    case flash_opcode::chip_erase_c7:
      if (writable) {
        if (code == flash_opcode::sector_erase) {
          erase_sector(at);
        } else if (code == flash_opcode::block_erase_32k) {
          erase(at & ~0x7FFFu, std::min<std::uint32_t>(0x8000, size()));
        } else if (code == flash_opcode::block_erase_64k) {
          erase_block(at);
        } else {
          erase_chip();
        }
        status1_ &= static_cast<Byte>(~write_enable_latch);
      }
      break;
    case flash_opcode::reset:
      status1_ &= static_cast<Byte>(~write_enable_latch);
      volatile_status_write_ = false;
      break;
    default:
      break;  // power-down, XMC wake-up, reset-enable and the rest: accepted, read zeros
  }
  return miso;
}

}  // namespace ttynet::esp
