#pragma once
// The bodies of the loader commands that carry words, typed: each is encoded (by the flasher)
// and decoded (by the simulated chip) here and nowhere else, so a layout mistake cannot hide
// in two matching copies. Every body is a run of little-endian 32-bit words; some commands
// have an optional last word whose presence depends on the loader (docs/esp-simulator.md).
// Which sizes a given ROM or stub accepts is the simulated loader's business: decode() only
// needs enough words for the required fields.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

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
  static constexpr std::size_t required_words = 4;
  static constexpr std::size_t max_words = 5;
};

// FLASH_END / FLASH_DEFL_END: 0 = reboot, otherwise run the user code.
struct FlashEndRequest {
  std::uint32_t run_user_code = 0;
  static constexpr std::size_t required_words = 1;
  static constexpr std::size_t max_words = 1;
};

// MEM_END: no_entry 0 jumps to `entry` (how a stub is started).
struct MemEndRequest {
  std::uint32_t no_entry = 0;
  std::uint32_t entry = 0;
  static constexpr std::size_t required_words = 2;
  static constexpr std::size_t max_words = 2;
};

struct ReadRegRequest {
  std::uint32_t address = 0;
  static constexpr std::size_t required_words = 1;
  static constexpr std::size_t max_words = 1;
};

// One register write; WRITE_REG may carry several of these back to back.
struct WriteRegRequest {
  std::uint32_t address = 0;
  std::uint32_t value = 0;
  std::uint32_t mask = 0xFFFFFFFF;
  std::uint32_t delay_us = 0;
  static constexpr std::size_t required_words = 4;
  static constexpr std::size_t max_words = 4;
};

// SPI_ATTACH: the pin configuration; ROMs also take a second ("legacy") word.
struct SpiAttachRequest {
  std::uint32_t config = 0;
  std::optional<std::uint32_t> legacy = 0;
  static constexpr std::size_t required_words = 1;
  static constexpr std::size_t max_words = 2;
};

struct SpiSetParamsRequest {
  std::uint32_t id = 0;
  std::uint32_t total_size = 0;
  std::uint32_t block_size = flash_block_size;
  std::uint32_t sector_size = flash_sector_size;
  std::uint32_t page_size = flash_page_size;
  std::uint32_t status_mask = 0xFFFF;
  static constexpr std::size_t required_words = 6;
  static constexpr std::size_t max_words = 6;
};

// SPI_FLASH_MD5: two further words, always zero.
struct Md5Request {
  std::uint32_t address = 0;
  std::uint32_t size = 0;
  std::uint32_t reserved0 = 0;
  std::uint32_t reserved1 = 0;
  static constexpr std::size_t required_words = 4;
  static constexpr std::size_t max_words = 4;
};

// READ_FLASH_SLOW (ROM, at most read_flash_slow_block bytes) and ERASE_REGION (stub).
struct RegionRequest {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  static constexpr std::size_t required_words = 2;
  static constexpr std::size_t max_words = 2;
};

// CHANGE_BAUDRATE: the ROM takes 0 as the old rate.
struct ChangeBaudrateRequest {
  std::uint32_t baud = 0;
  std::uint32_t old_baud = 0;
  static constexpr std::size_t required_words = 2;
  static constexpr std::size_t max_words = 2;
};

// READ_FLASH (stub): data comes back in packets, at most max_in_flight unacknowledged.
struct ReadFlashRequest {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  std::uint32_t packet_size = 0;
  std::uint32_t max_in_flight = 0;
  static constexpr std::size_t required_words = 4;
  static constexpr std::size_t max_words = 4;
};

// Appends the body: every field in order, an optional one only when present.
void append_body(ByteBuffer& out, const BeginRequest& request);
void append_body(ByteBuffer& out, const FlashEndRequest& request);
void append_body(ByteBuffer& out, const MemEndRequest& request);
void append_body(ByteBuffer& out, const ReadRegRequest& request);
void append_body(ByteBuffer& out, const WriteRegRequest& request);
void append_body(ByteBuffer& out, const SpiAttachRequest& request);
void append_body(ByteBuffer& out, const SpiSetParamsRequest& request);
void append_body(ByteBuffer& out, const Md5Request& request);
void append_body(ByteBuffer& out, const RegionRequest& request);
void append_body(ByteBuffer& out, const ChangeBaudrateRequest& request);
void append_body(ByteBuffer& out, const ReadFlashRequest& request);

template <typename Body>
ByteBuffer encode_body(const Body& body) {
  ByteBuffer out;
  append_body(out, body);
  return out;
}

// Decodes a body from its first words: nothing when fewer than Body::required_words are
// there. Words beyond Body::max_words and a partial last word are ignored.
template <typename Body>
std::optional<Body> decode_body(ByteView data);
template <>
std::optional<BeginRequest> decode_body<BeginRequest>(ByteView data);
template <>
std::optional<FlashEndRequest> decode_body<FlashEndRequest>(ByteView data);
template <>
std::optional<MemEndRequest> decode_body<MemEndRequest>(ByteView data);
template <>
std::optional<ReadRegRequest> decode_body<ReadRegRequest>(ByteView data);
template <>
std::optional<WriteRegRequest> decode_body<WriteRegRequest>(ByteView data);
template <>
std::optional<SpiAttachRequest> decode_body<SpiAttachRequest>(ByteView data);
template <>
std::optional<SpiSetParamsRequest> decode_body<SpiSetParamsRequest>(ByteView data);
template <>
std::optional<Md5Request> decode_body<Md5Request>(ByteView data);
template <>
std::optional<RegionRequest> decode_body<RegionRequest>(ByteView data);
template <>
std::optional<ChangeBaudrateRequest> decode_body<ChangeBaudrateRequest>(ByteView data);
template <>
std::optional<ReadFlashRequest> decode_body<ReadFlashRequest>(ByteView data);

}  // namespace ttynet::esp
