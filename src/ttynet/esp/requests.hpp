#pragma once
// The bodies of the loader commands that carry words, typed: each is encoded (by the flasher)
// and decoded (by the simulated chip) here and nowhere else, so a layout mistake cannot hide
// in two matching copies. Every body is a run of little-endian 32-bit words; some commands
// have an optional last word whose presence depends on the loader (docs/esp-simulator.md).
// Which sizes a given ROM or stub accepts is the simulated loader's business: decode_body()
// only needs the required fields. Each body lists its fields in wire order in `fields`.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esp {

// FLASH_BEGIN / FLASH_DEFL_BEGIN (and MEM_BEGIN, which has no fifth word).
struct BeginRequest {
  std::uint32_t size = 0;  // bytes to erase (FLASH_*), or to load (MEM_BEGIN)
  std::uint32_t blocks = 0;
  std::uint32_t block_size = 0;
  std::uint32_t offset = 0;
  // The fifth word: 1 = encrypted write. Sent to S2-and-later ROMs (ChipInfo::
  // rom_begin_has_encrypt_word) and taken by stubs from v1.10 on.
  std::optional<std::uint32_t> encrypted{};
  static constexpr auto fields =
      std::tuple{&BeginRequest::size, &BeginRequest::blocks, &BeginRequest::block_size,
                 &BeginRequest::offset, &BeginRequest::encrypted};
};

// FLASH_END / FLASH_DEFL_END: 0 = reboot, otherwise run the user code.
struct FlashEndRequest {
  std::uint32_t run_user_code = 0;
  static constexpr auto fields = std::tuple{&FlashEndRequest::run_user_code};
};

// MEM_END: no_entry 0 jumps to `entry` (how a stub is started).
struct MemEndRequest {
  std::uint32_t no_entry = 0;
  std::uint32_t entry = 0;
  static constexpr auto fields = std::tuple{&MemEndRequest::no_entry, &MemEndRequest::entry};
};

struct ReadRegRequest {
  std::uint32_t address = 0;
  static constexpr auto fields = std::tuple{&ReadRegRequest::address};
};

// One register write; WRITE_REG may carry several of these back to back.
struct WriteRegRequest {
  std::uint32_t address = 0;
  std::uint32_t value = 0;
  std::uint32_t mask = 0xFFFFFFFF;
  std::uint32_t delay_us = 0;
  static constexpr auto fields = std::tuple{&WriteRegRequest::address, &WriteRegRequest::value,
                                            &WriteRegRequest::mask, &WriteRegRequest::delay_us};
};

// SPI_ATTACH: the pin configuration; ROMs also take a second ("legacy") word.
struct SpiAttachRequest {
  std::uint32_t config = 0;
  std::optional<std::uint32_t> legacy = 0;
  static constexpr auto fields = std::tuple{&SpiAttachRequest::config, &SpiAttachRequest::legacy};
};

struct SpiSetParamsRequest {
  std::uint32_t id = 0;
  std::uint32_t total_size = 0;
  std::uint32_t block_size = flash_block_size;
  std::uint32_t sector_size = flash_sector_size;
  std::uint32_t page_size = flash_page_size;
  std::uint32_t status_mask = 0xFFFF;
  static constexpr auto fields =
      std::tuple{&SpiSetParamsRequest::id,         &SpiSetParamsRequest::total_size,
                 &SpiSetParamsRequest::block_size, &SpiSetParamsRequest::sector_size,
                 &SpiSetParamsRequest::page_size,  &SpiSetParamsRequest::status_mask};
};

// SPI_FLASH_MD5: two further words, always zero.
struct Md5Request {
  std::uint32_t address = 0;
  std::uint32_t size = 0;
  std::uint32_t reserved0 = 0;
  std::uint32_t reserved1 = 0;
  static constexpr auto fields = std::tuple{&Md5Request::address, &Md5Request::size,
                                            &Md5Request::reserved0, &Md5Request::reserved1};
};

// READ_FLASH_SLOW (ROM, at most read_flash_slow_block bytes) and ERASE_REGION (stub).
struct RegionRequest {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  static constexpr auto fields = std::tuple{&RegionRequest::offset, &RegionRequest::size};
};

// CHANGE_BAUDRATE: the ROM takes 0 as the old rate.
struct ChangeBaudrateRequest {
  std::uint32_t baud = 0;
  std::uint32_t old_baud = 0;
  static constexpr auto fields =
      std::tuple{&ChangeBaudrateRequest::baud, &ChangeBaudrateRequest::old_baud};
};

// READ_FLASH (stub): data comes back in packets, at most max_in_flight unacknowledged.
struct ReadFlashRequest {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  std::uint32_t packet_size = 0;
  std::uint32_t max_in_flight = 0;
  static constexpr auto fields =
      std::tuple{&ReadFlashRequest::offset, &ReadFlashRequest::size, &ReadFlashRequest::packet_size,
                 &ReadFlashRequest::max_in_flight};
};

namespace detail {
inline void append_field(ByteBuffer& out, std::uint32_t word) { append_u32(out, word); }
inline void append_field(ByteBuffer& out, const std::optional<std::uint32_t>& word) {
  if (word) append_u32(out, *word);
}
inline bool has_word(ByteView data, std::size_t index) { return (index + 1) * 4 <= data.size(); }
// A required word that is missing makes the body incomplete; an optional one is just absent.
inline void read_field(ByteView data, std::size_t index, std::uint32_t& word, bool& complete) {
  if (has_word(data, index)) {
    word = load_u32(data, index * 4);
  } else {
    complete = false;
  }
}
inline void read_field(ByteView data, std::size_t index, std::optional<std::uint32_t>& word,
                       bool& /*complete*/) {
  word = has_word(data, index) ? std::optional(load_u32(data, index * 4)) : std::nullopt;
}
}  // namespace detail

// Appends the body: every field in order, an optional (last) one only when present.
template <typename Body>
void append_body(ByteBuffer& out, const Body& body) {
  std::apply([&](auto... field) { (detail::append_field(out, body.*field), ...); }, Body::fields);
}

template <typename Body>
ByteBuffer encode_body(const Body& body) {
  ByteBuffer out;
  append_body(out, body);
  return out;
}

// Decodes a body from its first words: nothing when a required word is missing. Words
// beyond the fields and a partial last word are ignored.
template <typename Body>
std::optional<Body> decode_body(ByteView data) {
  Body body{};
  bool complete = true;
  std::size_t index = 0;
  std::apply(
      [&](auto... field) { (detail::read_field(data, index++, body.*field, complete), ...); },
      Body::fields);
  if (!complete) return std::nullopt;
  return body;
}

}  // namespace ttynet::esp
