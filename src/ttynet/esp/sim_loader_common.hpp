#pragma once
// What the simulated ROM loader (sim_loader.cpp) and the simulated flasher stubs
// (sim_stub_loader.cpp) share: their limits, typed request bodies, and flash as a loader sees
// it. Internal to the simulator.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/esp/sim_loader.hpp"

namespace ttynet::esp::sim_loader_common {

inline constexpr std::uint32_t stub_max_write_block = 0x4000;
inline constexpr std::size_t stub_max_data = stub_max_write_block + data_block_header_size;
inline constexpr std::uint32_t flasher_stub_max_packet = 0x1000;  // READ_FLASH frame size limit
inline constexpr std::size_t max_uploaded_segments = 16;
inline constexpr std::uint32_t rom_max_block = 0x4000;
inline constexpr std::uint32_t min_baud = 300;
inline constexpr std::uint32_t max_baud = 5'000'000;
inline constexpr std::size_t sync_burst = 8;  // replies to one SYNC, ROM and stub alike
inline constexpr std::size_t inflate_chunk = 0x8000;
// SPI_SET_PARAMS sizes are taken up to esptool's largest --flash_size, which bounds the work
// one MD5, erase or read can ask for.
inline constexpr std::uint32_t max_configured_size = 128u << 20;

// The typed body of a request (requests.hpp); all zeros where words are missing, so callers
// check the size the loader insists on first.
template <typename Body>
Body body_of(const Request& request) {
  return decode_body<Body>(request.data).value_or(Body{});
}

// Flash as the loader reads it: all ones while the SPI pins are not attached.
inline void read_flash(const SimHardware& hardware, std::uint32_t address, MutableByteView out) {
  if (hardware.registers.is_flash_attached()) {
    hardware.flash.read(address, out);
  } else {
    std::fill(out.begin(), out.end(), Byte{0xFF});
  }
}

inline Md5Digest flash_md5(const SimHardware& hardware, std::uint32_t address,
                           std::uint32_t length) {
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

}  // namespace ttynet::esp::sim_loader_common
