#include "ttynet/esp/packet.hpp"

#include <algorithm>
#include <cassert>

#include "ttynet/esp/error.hpp"

namespace ttynet::esp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using A = Availability;

constexpr Duration none{};

constexpr OpInfo ops[] = {
    // op, name, ROM, stub, reply, ROM timeout, stub timeout, ROM per MB, stub per MB
    {Op::flash_begin, "FLASH_BEGIN", A::all, A::all, true, seconds(3), seconds(3), seconds(30),
     none},
    {Op::flash_data, "FLASH_DATA", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::flash_end, "FLASH_END", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::mem_begin, "MEM_BEGIN", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::mem_end, "MEM_END", A::all, A::all, true, mem_end_rom_timeout, seconds(3), none, none},
    {Op::mem_data, "MEM_DATA", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::sync, "SYNC", A::all, A::all, true, sync_timeout, sync_timeout, none, none},
    {Op::write_reg, "WRITE_REG", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::read_reg, "READ_REG", A::all, A::all, true, seconds(3), seconds(3), none, none},
    {Op::spi_set_params, "SPI_SET_PARAMS", A::esp32_family, A::all, true, seconds(3), seconds(3),
     none, none},
    {Op::pin_read, "PIN_READ", A::none, A::none, true, seconds(3), seconds(3), none, none},
    {Op::spi_attach, "SPI_ATTACH", A::esp32_family, A::all, true, seconds(3), seconds(3), none,
     none},
    {Op::read_flash_slow, "READ_FLASH_SLOW", A::esp32_family, A::none, true, seconds(3), seconds(3),
     none, none},
    {Op::change_baudrate, "CHANGE_BAUDRATE", A::esp32_family, A::all, true, seconds(3), seconds(3),
     none, none},
    {Op::flash_defl_begin, "FLASH_DEFL_BEGIN", A::esp32_family, A::all, true, seconds(3),
     seconds(3), seconds(30), none},
    {Op::flash_defl_data, "FLASH_DEFL_DATA", A::esp32_family, A::all, true, seconds(3), seconds(3),
     seconds(40), none},
    {Op::flash_defl_end, "FLASH_DEFL_END", A::esp32_family, A::all, true, seconds(3), seconds(3),
     none, none},
    {Op::spi_flash_md5, "SPI_FLASH_MD5", A::esp32_family, A::all, true, seconds(3), seconds(3),
     seconds(8), seconds(8)},
    {Op::get_security_info, "GET_SECURITY_INFO", A::s2_and_later, A::s2_and_later, true, seconds(3),
     seconds(3), none, none},
    {Op::sdc_verif_begin, "SDC_VERIF_BEGIN", A::some_new_chips, A::none, true, seconds(3),
     seconds(3), none, none},
    {Op::sdc_verif_data, "SDC_VERIF_DATA", A::some_new_chips, A::none, true, seconds(3), seconds(3),
     none, none},
    {Op::sdc_verif_end, "SDC_VERIF_END", A::some_new_chips, A::none, true, seconds(3), seconds(3),
     none, none},
    {Op::sdc_gen_begin, "SDC_GEN_BEGIN", A::some_new_chips, A::none, true, seconds(3), seconds(3),
     none, none},
    {Op::sdc_gen_data, "SDC_GEN_DATA", A::some_new_chips, A::none, true, seconds(3), seconds(3),
     none, none},
    {Op::sdc_gen_end, "SDC_GEN_END", A::some_new_chips, A::none, true, seconds(3), seconds(3), none,
     none},
    {Op::erase_flash, "ERASE_FLASH", A::none, A::all, true, seconds(3), chip_erase_timeout, none,
     none},
    {Op::erase_region, "ERASE_REGION", A::none, A::all, true, seconds(3), seconds(3), none,
     seconds(30)},
    {Op::read_flash, "READ_FLASH", A::none, A::all, true, seconds(3), seconds(3), none, none},
    {Op::run_user_code, "RUN_USER_CODE", A::none, A::esp8266_only, false, none, none, none, none},
    {Op::flash_encrypt_data, "FLASH_ENCRYPT_DATA", A::none, A::esp32_family, true, seconds(3),
     seconds(3), none, none},
};

Result<std::uint16_t> check_header(ByteView packet, Byte direction) {
  if (packet.size() < header_size) {
    return make_error_code(errc::packet_too_short);
  }
  if (packet[0] != direction) {
    return make_error_code(errc::packet_bad_direction);
  }
  return static_cast<std::uint16_t>(packet[2] | packet[3] << 8);
}

void append_header(ByteBuffer& out, Byte direction, Op op, std::size_t size, std::uint32_t word) {
  assert(size <= max_data_size);
  out.push_back(direction);
  out.push_back(static_cast<Byte>(op));
  out.push_back(static_cast<Byte>(size));
  out.push_back(static_cast<Byte>(size >> 8));
  append_u32(out, word);
}

}  // namespace

std::span<const OpInfo> op_table() { return ops; }

const OpInfo* find_op(Op op) {
  const auto* row = std::find_if(std::begin(ops), std::end(ops),
                                 [op](const OpInfo& info) { return info.op == op; });
  return row == std::end(ops) ? nullptr : row;
}

std::string_view op_name(Op op) {
  const OpInfo* info = find_op(op);
  return info == nullptr ? std::string_view{} : info->name;
}

Duration command_timeout(Op op, bool stub, std::uint64_t bytes) {
  const OpInfo* info = find_op(op);
  if (info == nullptr) {
    return default_timeout;
  }
  const Duration fixed = stub ? info->stub_timeout : info->rom_timeout;
  const Duration per_mb = stub ? info->stub_timeout_per_mb : info->rom_timeout_per_mb;
  if (per_mb == Duration::zero()) {
    return fixed;
  }
  // per_mb * bytes / 1e6 without overflow for any flash size: split bytes into MB and rest.
  const auto whole = static_cast<Duration::rep>(bytes / 1'000'000);
  const auto rest = static_cast<Duration::rep>(bytes % 1'000'000);
  const Duration scaled = per_mb * whole + per_mb * rest / 1'000'000;
  return std::min(std::max(default_timeout, scaled), max_timeout);
}

void append_request(ByteBuffer& out, Op op, ByteView data, std::uint32_t checksum) {
  append_header(out, request_direction, op, data.size(), checksum);
  append(out, data);
}

void append_response(ByteBuffer& out, Op op, std::uint32_t value, ByteView data) {
  append_header(out, response_direction, op, data.size(), value);
  append(out, data);
}

Result<Request> decode_request(ByteView packet) {
  auto size = check_header(packet, request_direction);
  if (!size) {
    return size.error();
  }
  return Request{static_cast<Op>(packet[1]), *size, load_u32(packet, 4),
                 packet.subspan(header_size)};
}

Result<Response> decode_response(ByteView packet) {
  auto size = check_header(packet, response_direction);
  if (!size) {
    return size.error();
  }
  return Response{static_cast<Op>(packet[1]), *size, load_u32(packet, 4),
                  packet.subspan(header_size)};
}

std::array<Byte, sync_data_size> sync_data() {
  std::array<Byte, sync_data_size> data{};
  data.fill(0x55);
  data[0] = 0x07;
  data[1] = 0x07;
  data[2] = 0x12;
  data[3] = 0x20;
  return data;
}

bool is_sync_data(ByteView data) {
  const auto expected = sync_data();
  return std::equal(data.begin(), data.end(), expected.begin(), expected.end());
}

Result<DataBlock> decode_data_block(ByteView data) {
  if (data.size() < data_block_header_size) {
    return make_error_code(errc::data_block_too_short);
  }
  return DataBlock{load_u32(data, 0), load_u32(data, 4), data.subspan(data_block_header_size)};
}

void append_data_block(ByteBuffer& out, std::uint32_t sequence, ByteView payload) {
  append_u32(out, static_cast<std::uint32_t>(payload.size()));
  append_u32(out, sequence);
  append_u32(out, 0);
  append_u32(out, 0);
  append(out, payload);
}

Byte checksum(ByteView payload) {
  Byte sum = checksum_seed;
  for (const Byte b : payload) {
    sum ^= b;
  }
  return sum;
}

std::string_view describe(RomError error) {
  switch (error) {
    case RomError::undefined:
      return "undefined error";
    case RomError::invalid_input:
      return "input parameter invalid";
    case RomError::malloc_failed:
      return "out of memory";
    case RomError::send_failed:
      return "failed to send";
    case RomError::receive_failed:
      return "failed to receive";
    case RomError::invalid_message:
      return "received message invalid";
    case RomError::execution_failed:
      return "message OK but executing it failed";
    case RomError::bad_checksum:
      return "invalid CRC or checksum";
    case RomError::flash_write_error:
      return "flash write error";
    case RomError::flash_read_error:
      return "flash read error";
    case RomError::flash_read_length_error:
      return "flash read length error";
    case RomError::deflate_error:
      return "inflate error";
    case RomError::deflate_adler32_error:
      return "inflate Adler-32 error";
    case RomError::deflate_parameter_error:
      return "inflate parameter error";
    case RomError::invalid_ram_size:
      return "invalid RAM binary size";
    case RomError::invalid_ram_address:
      return "invalid RAM binary address";
    case RomError::invalid_parameter:
      return "invalid parameter";
    case RomError::invalid_format:
      return "invalid format";
    case RomError::description_too_long:
      return "description too long";
    case RomError::bad_encoding:
      return "bad encoding description";
    case RomError::insufficient_storage:
      return "insufficient storage";
  }
  return "unknown ROM error";
}

std::string_view describe(StubError error) {
  switch (error) {
    case StubError::ok:
      return "OK";
    case StubError::erase_unaligned_offset:
      return "erase offset not sector aligned";
    case StubError::erase_unaligned_size:
      return "erase size not a whole number of sectors";
    case StubError::erase_unlock_failed:
      return "flash unlock before erase failed";
    case StubError::erase_sector_failed:
      return "sector erase failed";
    case StubError::erase_block_failed:
      return "block erase failed";
    case StubError::erase_tail_failed:
      return "sector erase after the last block failed";
    case StubError::md5_read_failed:
      return "flash read for MD5 failed";
    case StubError::bad_data_len:
      return "bad data length";
    case StubError::bad_data_checksum:
      return "bad data checksum";
    case StubError::bad_blocksize:
      return "bad block size";
    case StubError::invalid_command:
      return "invalid command";
    case StubError::failed_spi_op:
      return "SPI operation failed";
    case StubError::failed_spi_unlock:
      return "SPI unlock failed";
    case StubError::not_in_flash_mode:
      return "not in flash mode";
    case StubError::inflate_error:
      return "inflate error";
    case StubError::not_enough_data:
      return "not enough data";
    case StubError::too_much_data:
      return "too much data";
    case StubError::cmd_not_implemented:
      return "command not implemented";
  }
  return "unknown stub error";
}

void append_status(ByteBuffer& out, Status status, std::size_t length) {
  assert(length >= 2);
  out.push_back(status.status);
  out.push_back(status.error);
  out.insert(out.end(), length - 2, Byte{0});
}

Result<ResponseBody> split_status(ByteView data, std::size_t status_length) {
  if (status_length < 2 || data.size() < status_length) {
    return make_error_code(errc::status_missing);
  }
  const std::size_t at = data.size() - status_length;
  return ResponseBody{data.first(at), Status{data[at], data[at + 1]}};
}

void append_u32(ByteBuffer& out, std::uint32_t value) {
  out.push_back(static_cast<Byte>(value));
  out.push_back(static_cast<Byte>(value >> 8));
  out.push_back(static_cast<Byte>(value >> 16));
  out.push_back(static_cast<Byte>(value >> 24));
}

std::uint32_t load_u32(ByteView bytes, std::size_t offset) {
  assert(offset + 4 <= bytes.size());
  return static_cast<std::uint32_t>(bytes[offset]) |
         static_cast<std::uint32_t>(bytes[offset + 1]) << 8 |
         static_cast<std::uint32_t>(bytes[offset + 2]) << 16 |
         static_cast<std::uint32_t>(bytes[offset + 3]) << 24;
}

}  // namespace ttynet::esp
