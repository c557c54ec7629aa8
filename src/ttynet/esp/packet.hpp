#pragma once
// The Espressif serial loader packets, shared by the flasher (client) and the simulated chip:
// opcodes and their properties, request and response headers, the *_DATA block header and
// its checksum, and the status bytes that end every response. Packets here are unframed;
// slip.hpp frames them. All multi-byte fields are little-endian.
//
// Request:  00 op size:u16 checksum:u32 data[size]
// Response: 01 op size:u16 value:u32 data[size]   (data ends with the status bytes)

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/result.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esp {

enum class Op : std::uint8_t {
  flash_begin = 0x02,
  flash_data = 0x03,
  flash_end = 0x04,
  mem_begin = 0x05,
  mem_end = 0x06,
  mem_data = 0x07,
  sync = 0x08,
  write_reg = 0x09,
  read_reg = 0x0A,
  spi_set_params = 0x0B,
  pin_read = 0x0C,  // listed by the legacy stub header, implemented nowhere
  spi_attach = 0x0D,
  read_flash_slow = 0x0E,
  change_baudrate = 0x0F,
  flash_defl_begin = 0x10,
  flash_defl_data = 0x11,
  flash_defl_end = 0x12,
  spi_flash_md5 = 0x13,
  get_security_info = 0x14,
  sdc_verif_begin = 0x19,  // secure debug controller, some recent ROMs only
  sdc_verif_data = 0x1A,
  sdc_verif_end = 0x1B,
  sdc_gen_begin = 0x1C,
  sdc_gen_data = 0x1D,
  sdc_gen_end = 0x1E,
  erase_flash = 0xD0,
  erase_region = 0xD1,
  read_flash = 0xD2,
  run_user_code = 0xD3,
  flash_encrypt_data = 0xD4,
};

// Which loaders of one kind (ROM or stub) understand an opcode.
enum class Availability : std::uint8_t {
  none,
  all,           // ESP8266 included
  esp32_family,  // ESP32 and later, not ESP8266
  s2_and_later,  // not ESP8266, not ESP32
  esp8266_only,
  some_new_chips,  // a few recent ROMs; not simulated
};

// One row per opcode. Timeouts are esptool's (v4.8.1): the fixed timeout, or, where a
// per-MB rate is given, max(default_timeout, rate * bytes / 1e6) for the bytes concerned
// (flash/erase size, uncompressed block size, MD5 length).
struct OpInfo {
  Op op;
  std::string_view name;  // as esptool's ESP_CMDS spells it
  Availability rom;
  Availability stub;
  bool has_reply;  // RUN_USER_CODE never answers
  Duration rom_timeout;
  Duration stub_timeout;
  Duration rom_timeout_per_mb;   // zero: not scaled
  Duration stub_timeout_per_mb;  // zero: not scaled
};

inline constexpr Duration default_timeout = std::chrono::seconds(3);
inline constexpr Duration max_timeout = std::chrono::seconds(240);  // esptool caps every wait
inline constexpr Duration sync_timeout = std::chrono::milliseconds(100);
inline constexpr Duration chip_erase_timeout = std::chrono::seconds(120);
inline constexpr Duration mem_end_rom_timeout = std::chrono::milliseconds(200);

std::span<const OpInfo> op_table();
const OpInfo* find_op(Op op);  // nullptr for an opcode not in the table
// The table name ("FLASH_BEGIN"), or an empty view for an opcode not in the table.
std::string_view op_name(Op op);
// The timeout esptool allows for `op` to a ROM or stub loader, scaled by `bytes` where the
// table says so, never more than max_timeout.
Duration command_timeout(Op op, bool stub, std::uint64_t bytes = 0);

inline constexpr Byte request_direction = 0x00;
inline constexpr Byte response_direction = 0x01;
inline constexpr std::size_t header_size = 8;
inline constexpr std::size_t max_data_size = 0xFFFF;  // the size field is 16 bits

struct Request {
  Op op;
  std::uint16_t size;      // the size field as sent
  std::uint32_t checksum;  // only meaningful for *_DATA
  ByteView data;           // everything after the header
  bool has_consistent_size() const { return size == data.size(); }
};

struct Response {
  Op op;
  std::uint16_t size;  // the size field as sent
  std::uint32_t value;
  ByteView data;  // everything after the header: command data, then the status bytes
};

// Appends an unframed packet; data.size() <= max_data_size.
void append_request(ByteBuffer& out, Op op, ByteView data, std::uint32_t checksum = 0);
void append_response(ByteBuffer& out, Op op, std::uint32_t value, ByteView data);
// Views point into `packet`. Errors: errc::packet_too_short, errc::packet_bad_direction.
// A size field that disagrees with the bytes present is not an error here (the simulated
// ROM answers it with an error status); see has_consistent_size().
Result<Request> decode_request(ByteView packet);
Result<Response> decode_response(ByteView packet);

// SYNC data: 07 07 12 20 and 32 bytes 0x55 (the run the ROM's UART auto-baud locks on).
inline constexpr std::size_t sync_data_size = 36;
std::array<Byte, sync_data_size> sync_data();
bool is_sync_data(ByteView data);
// The value the ROM leaves in SYNC replies in the traces (bytes 07 07 12 20); esptool only
// checks it for zero, which means "a stub is answering".
inline constexpr std::uint32_t rom_sync_value = 0x20120707;

// The 16-byte header in front of MEM_DATA, FLASH_DATA, FLASH_DEFL_DATA, FLASH_ENCRYPT_DATA
// payloads: length, sequence number, two zero words.
inline constexpr std::size_t data_block_header_size = 16;
struct DataBlock {
  std::uint32_t length;    // as sent; may disagree with payload.size()
  std::uint32_t sequence;  // from 0
  ByteView payload;        // the bytes after the header
};
Result<DataBlock> decode_data_block(ByteView data);  // errc::data_block_too_short
void append_data_block(ByteBuffer& out, std::uint32_t sequence, ByteView payload);

// 0xEF XOR every payload byte (block header excluded); goes in the low byte of the
// request's checksum field.
inline constexpr Byte checksum_seed = 0xEF;
Byte checksum(ByteView payload);

// Status bytes: the last bytes of every response's data.
inline constexpr std::size_t esp32_rom_status_length = 4;  // [status, error, 0, 0]
inline constexpr std::size_t stub_status_length = 2;       // [error code, detail]

// The first two status bytes. The ROM sends [1, RomError] on failure; the legacy flasher
// stub puts its error code first: [StubError, detail]. esptool only tests the first byte
// for non-zero and names the failure by both bytes read big-endian (result_code()).
struct Status {
  std::uint8_t status = 0;
  std::uint8_t error = 0;
  bool is_ok() const { return status == 0; }
  std::uint16_t result_code() const { return static_cast<std::uint16_t>(status << 8 | error); }
  friend bool operator==(const Status&, const Status&) = default;
};

// ROM loader error byte (esptool protocol documentation).
enum class RomError : std::uint8_t {
  undefined = 0x00,
  invalid_input = 0x01,
  malloc_failed = 0x02,
  send_failed = 0x03,
  receive_failed = 0x04,
  invalid_message = 0x05,  // bad parameters or length; esptool's ROM_INVALID_RECV_MSG
  execution_failed = 0x06,
  bad_checksum = 0x07,
  flash_write_error = 0x08,
  flash_read_error = 0x09,
  flash_read_length_error = 0x0A,
  deflate_error = 0x0B,
  deflate_adler32_error = 0x0C,
  deflate_parameter_error = 0x0D,
  invalid_ram_size = 0x0E,
  invalid_ram_address = 0x0F,
  invalid_parameter = 0x64,
  invalid_format = 0x65,
  description_too_long = 0x66,
  bad_encoding = 0x67,
  insufficient_storage = 0x69,
};

// Legacy flasher stub error byte (stub_flasher.h), plus the raw codes two handlers return.
enum class StubError : std::uint8_t {
  ok = 0x00,
  erase_unaligned_offset = 0x32,  // ERASE_REGION offset not a multiple of 4096
  erase_unaligned_size = 0x33,    // ERASE_REGION size not a multiple of 4096
  erase_unlock_failed = 0x34,
  erase_sector_failed = 0x35,  // sector erase before the first 64 KiB boundary
  erase_block_failed = 0x36,   // 64 KiB block erase
  erase_tail_failed = 0x37,    // sector erase after the last whole block
  md5_read_failed = 0x63,      // SPI_FLASH_MD5 could not read the flash
  bad_data_len = 0xC0,
  bad_data_checksum = 0xC1,
  bad_blocksize = 0xC2,
  invalid_command = 0xC3,
  failed_spi_op = 0xC4,
  failed_spi_unlock = 0xC5,
  not_in_flash_mode = 0xC6,
  inflate_error = 0xC7,
  not_enough_data = 0xC8,
  too_much_data = 0xC9,
  cmd_not_implemented = 0xFF,
};

std::string_view describe(RomError error);
std::string_view describe(StubError error);

inline constexpr Status ok_status{};
constexpr Status rom_status(RomError error) { return {1, static_cast<std::uint8_t>(error)}; }
constexpr Status stub_status(StubError error, std::uint8_t detail = 0) {
  return {static_cast<std::uint8_t>(error), detail};
}

// Appends the status bytes: the two of `status`, then zeros up to `length` (2 or 4).
void append_status(ByteBuffer& out, Status status, std::size_t length);

// A response's data split into the command's own bytes and its status (the last
// `status_length` bytes). errc::status_missing if there are fewer.
struct ResponseBody {
  ByteView payload;
  Status status;
};
Result<ResponseBody> split_status(ByteView data, std::size_t status_length);

// Little-endian words.
void append_u32(ByteBuffer& out, std::uint32_t value);
std::uint32_t load_u32(ByteView bytes, std::size_t offset = 0);  // offset + 4 <= size

}  // namespace ttynet::esp
