#include "ttynet/esp/packet.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/slip.hpp"

namespace ttynet::esp {
namespace {

using Bytes = std::vector<Byte>;
using std::chrono::milliseconds;
using std::chrono::seconds;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (const int v : values) {
    out.push_back(static_cast<Byte>(v));
  }
  return out;
}

TEST(PacketOps, TableHasEveryOpcodeOnceWithAName) {
  std::set<int> seen;
  for (const OpInfo& info : op_table()) {
    EXPECT_TRUE(seen.insert(static_cast<int>(info.op)).second) << op_name(info.op);
    EXPECT_FALSE(info.name.empty());
    EXPECT_EQ(find_op(info.op), &info);
  }
  for (const int op :
       {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10,
        0x11, 0x12, 0x13, 0x14, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4}) {
    EXPECT_TRUE(seen.contains(op)) << op;
  }
  EXPECT_EQ(op_name(Op::flash_defl_begin), "FLASH_DEFL_BEGIN");
  EXPECT_EQ(op_name(static_cast<Op>(0x55)), "");
  EXPECT_EQ(find_op(static_cast<Op>(0x55)), nullptr);
}

TEST(PacketOps, AvailabilityFollowsTheFactSheet) {
  EXPECT_EQ(find_op(Op::read_flash_slow)->stub, Availability::none);
  EXPECT_EQ(find_op(Op::read_flash)->rom, Availability::none);
  EXPECT_EQ(find_op(Op::erase_flash)->rom, Availability::none);
  EXPECT_EQ(find_op(Op::get_security_info)->rom, Availability::s2_and_later);
  EXPECT_EQ(find_op(Op::spi_attach)->rom, Availability::esp32_family);
  EXPECT_EQ(find_op(Op::sync)->rom, Availability::all);
  EXPECT_FALSE(find_op(Op::run_user_code)->has_reply);
}

TEST(PacketOps, TimeoutsAreEsptools) {
  EXPECT_EQ(command_timeout(Op::sync, false), milliseconds(100));
  EXPECT_EQ(command_timeout(Op::read_reg, false), seconds(3));
  EXPECT_EQ(command_timeout(Op::mem_end, false), milliseconds(200));
  EXPECT_EQ(command_timeout(Op::mem_end, true), seconds(3));
  EXPECT_EQ(command_timeout(Op::erase_flash, true), seconds(120));
  // 30 s per MB of the erase size to the ROM, at least 3 s; the stub erases as it goes.
  EXPECT_EQ(command_timeout(Op::flash_begin, false, 1'000'000), seconds(30));
  EXPECT_EQ(command_timeout(Op::flash_begin, false, 4'000'000), seconds(120));
  EXPECT_EQ(command_timeout(Op::flash_begin, false, 3000), seconds(3));
  EXPECT_EQ(command_timeout(Op::flash_begin, true, 4'000'000), seconds(3));
  EXPECT_EQ(command_timeout(Op::flash_defl_data, false, 500'000), seconds(20));
  EXPECT_EQ(command_timeout(Op::spi_flash_md5, true, 2'000'000), seconds(16));
  EXPECT_EQ(command_timeout(Op::erase_region, true, 1'000'000), seconds(30));
  EXPECT_EQ(command_timeout(Op::spi_flash_md5, false, 100'000'000), max_timeout);
  EXPECT_EQ(command_timeout(static_cast<Op>(0x55), false), default_timeout);
}

TEST(PacketRequest, EncodesSyncAsEsptoolSendsIt) {
  // From an esptool trace: c0 00 08 2400 00000000 07071220 55 x 32 c0.
  Bytes packet;
  const auto data = sync_data();
  append_request(packet, Op::sync, data);
  const Bytes wire = slip::encode_frame(packet);
  Bytes expected =
      bytes({0xC0, 0x00, 0x08, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x07, 0x12, 0x20});
  expected.insert(expected.end(), 32, 0x55);
  expected.push_back(0xC0);
  EXPECT_EQ(wire, expected);
  EXPECT_TRUE(is_sync_data(data));
  EXPECT_FALSE(is_sync_data(ByteView{data}.first(35)));
}

TEST(PacketRequest, RoundTrips) {
  Bytes packet;
  const Bytes data = bytes({1, 2, 3, 4, 5});
  append_request(packet, Op::flash_data, data, 0xAB);
  const auto request = decode_request(packet);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->op, Op::flash_data);
  EXPECT_EQ(request->size, 5);
  EXPECT_EQ(request->checksum, 0xABu);
  EXPECT_EQ(Bytes(request->data.begin(), request->data.end()), data);
  EXPECT_TRUE(request->has_consistent_size());
}

TEST(PacketRequest, ReportsShortPacketsWrongDirectionAndSizeMismatch) {
  EXPECT_EQ(decode_request(bytes({0x00, 0x08, 0, 0, 0, 0, 0})).error(), errc::packet_too_short);
  EXPECT_EQ(decode_request(bytes({0x01, 0x08, 0, 0, 0, 0, 0, 0})).error(),
            errc::packet_bad_direction);
  const Bytes packet = bytes({0x00, 0x0A, 0x08, 0x00, 0, 0, 0, 0, 1, 2, 3, 4});
  const auto mismatch = decode_request(packet);
  ASSERT_TRUE(mismatch);
  EXPECT_FALSE(mismatch->has_consistent_size());
}

TEST(PacketResponse, DecodesRomReplies) {
  // ESP32 ROM READ_REG of 0x40001000: value 0x00F01D83, four status bytes.
  const Bytes read_reg_packet =
      bytes({0x01, 0x0A, 0x04, 0x00, 0x83, 0x1D, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00});
  const auto read_reg = decode_response(read_reg_packet);
  ASSERT_TRUE(read_reg);
  EXPECT_EQ(read_reg->op, Op::read_reg);
  EXPECT_EQ(read_reg->value, 0x00F01D83u);
  const auto body = split_status(read_reg->data, esp32_rom_status_length);
  ASSERT_TRUE(body);
  EXPECT_TRUE(body->payload.empty());
  EXPECT_TRUE(body->status.is_ok());

  // ESP32-C6 ROM GET_SECURITY_INFO: 20 data bytes + 4 status; chip id 13 at offset 12.
  const Bytes security_packet =
      bytes({0x01, 0x14, 0x18, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0, 0, 0, 0, 0,
             0,    0,    0,    0x0C, 0x0D, 0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0});
  const auto security = decode_response(security_packet);
  ASSERT_TRUE(security);
  const auto info = split_status(security->data, esp32_rom_status_length);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->payload.size(), 20u);
  EXPECT_EQ(load_u32(info->payload, 12), 13u);
}

TEST(PacketResponse, DecodesStubReplies) {
  // Stub READ_FLASH ack: len 2, value 0, status 00 00.
  const Bytes ack_packet = bytes({0x01, 0xD2, 0x02, 0x00, 0, 0, 0, 0, 0, 0});
  const auto ack = decode_response(ack_packet);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->op, Op::read_flash);
  const auto body = split_status(ack->data, stub_status_length);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->status, ok_status);
  EXPECT_EQ(decode_response(bytes({0x00, 0xD2, 0x02, 0x00, 0, 0, 0, 0})).error(),
            errc::packet_bad_direction);
  EXPECT_EQ(split_status(bytes({0x00}), 2).error(), errc::status_missing);
}

TEST(PacketResponse, RoundTripsWithStatus) {
  Bytes data = bytes({0xAA, 0xBB});
  append_status(data, rom_status(RomError::bad_checksum), esp32_rom_status_length);
  EXPECT_EQ(data, bytes({0xAA, 0xBB, 0x01, 0x07, 0x00, 0x00}));
  Bytes packet;
  append_response(packet, Op::flash_data, 0x12345678, data);
  EXPECT_EQ(packet.size(), header_size + 6);
  const auto response = decode_response(packet);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->size, 6);
  EXPECT_EQ(response->value, 0x12345678u);
  const auto body = split_status(response->data, esp32_rom_status_length);
  ASSERT_TRUE(body);
  EXPECT_EQ(Bytes(body->payload.begin(), body->payload.end()), bytes({0xAA, 0xBB}));
  EXPECT_EQ(body->status, rom_status(RomError::bad_checksum));
  EXPECT_FALSE(body->status.is_ok());
}

TEST(PacketDataBlock, RoundTripsWithTheChecksumOverThePayloadOnly) {
  const Bytes payload = bytes({0x01, 0x02, 0x03});
  Bytes data;
  append_data_block(data, 7, payload);
  EXPECT_EQ(data, bytes({3, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}));
  const auto block = decode_data_block(data);
  ASSERT_TRUE(block);
  EXPECT_EQ(block->length, 3u);
  EXPECT_EQ(block->sequence, 7u);
  EXPECT_EQ(Bytes(block->payload.begin(), block->payload.end()), payload);
  EXPECT_EQ(checksum(payload), 0xEF ^ 0x01 ^ 0x02 ^ 0x03);
  EXPECT_EQ(checksum({}), 0xEF);
  EXPECT_EQ(decode_data_block(bytes({1, 2, 3})).error(), errc::data_block_too_short);
}

TEST(PacketStatus, RomErrorCodesAreTheProtocolDocs) {
  const std::vector<std::pair<RomError, int>> codes = {
      {RomError::undefined, 0x00},
      {RomError::invalid_input, 0x01},
      {RomError::malloc_failed, 0x02},
      {RomError::send_failed, 0x03},
      {RomError::receive_failed, 0x04},
      {RomError::invalid_message, 0x05},
      {RomError::execution_failed, 0x06},
      {RomError::bad_checksum, 0x07},
      {RomError::flash_write_error, 0x08},
      {RomError::flash_read_error, 0x09},
      {RomError::flash_read_length_error, 0x0A},
      {RomError::deflate_error, 0x0B},
      {RomError::deflate_adler32_error, 0x0C},
      {RomError::deflate_parameter_error, 0x0D},
      {RomError::invalid_ram_size, 0x0E},
      {RomError::invalid_ram_address, 0x0F},
      {RomError::invalid_parameter, 0x64},
      {RomError::invalid_format, 0x65},
      {RomError::description_too_long, 0x66},
      {RomError::bad_encoding, 0x67},
      {RomError::insufficient_storage, 0x69},
  };
  for (const auto& [error, code] : codes) {
    EXPECT_EQ(static_cast<int>(error), code);
    EXPECT_FALSE(describe(error).empty());
    const Status status = rom_status(error);
    EXPECT_FALSE(status.is_ok());
    EXPECT_EQ(status.result_code(), 0x0100 | code);  // esptool's "result was 01NN"
    Bytes four;
    append_status(four, status, esp32_rom_status_length);
    EXPECT_EQ(four, bytes({0x01, code, 0x00, 0x00}));
  }
}

TEST(PacketStatus, StubErrorCodesComeFirst) {
  const std::vector<std::pair<StubError, int>> codes = {
      {StubError::ok, 0x00},
      {StubError::erase_unaligned_offset, 0x32},
      {StubError::erase_unaligned_size, 0x33},
      {StubError::erase_unlock_failed, 0x34},
      {StubError::erase_sector_failed, 0x35},
      {StubError::erase_block_failed, 0x36},
      {StubError::erase_tail_failed, 0x37},
      {StubError::md5_read_failed, 0x63},
      {StubError::bad_data_len, 0xC0},
      {StubError::bad_data_checksum, 0xC1},
      {StubError::bad_blocksize, 0xC2},
      {StubError::invalid_command, 0xC3},
      {StubError::failed_spi_op, 0xC4},
      {StubError::failed_spi_unlock, 0xC5},
      {StubError::not_in_flash_mode, 0xC6},
      {StubError::inflate_error, 0xC7},
      {StubError::not_enough_data, 0xC8},
      {StubError::too_much_data, 0xC9},
      {StubError::cmd_not_implemented, 0xFF},
  };
  for (const auto& [error, code] : codes) {
    EXPECT_EQ(static_cast<int>(error), code);
    EXPECT_FALSE(describe(error).empty());
    const Status status = stub_status(error);
    EXPECT_EQ(status.is_ok(), code == 0);
    EXPECT_EQ(status.result_code(), code << 8);  // 0xC100 is esptool's "Bad data checksum"
    Bytes two;
    append_status(two, status, stub_status_length);
    EXPECT_EQ(two, bytes({code, 0x00}));
  }
  EXPECT_EQ(stub_status(StubError::bad_data_len, 0xEE).result_code(), 0xC0EE);
}

TEST(PacketWords, AreLittleEndian) {
  Bytes out;
  append_u32(out, 0x11223344);
  EXPECT_EQ(out, bytes({0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(load_u32(out), 0x11223344u);
  out.insert(out.begin(), 0x99);
  EXPECT_EQ(load_u32(out, 1), 0x11223344u);
}

}  // namespace
}  // namespace ttynet::esp
