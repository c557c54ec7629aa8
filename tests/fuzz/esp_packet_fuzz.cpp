// The Espressif loader packet decoders (esp/packet.cpp) on any bytes: requests, responses, the
// *_DATA block header, the status bytes, the SYNC payload. Invariants: a decoder fails exactly
// when the bytes are too short or point the wrong way, with the documented error; what decodes
// re-encodes to the same bytes (the size and length fields rewritten to the bytes present, the
// reserved words and status padding as zeros); and what the encoders write decodes to what
// they were given.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include "fuzz_support.hpp"
#include "ttynet/esp/error.hpp"
#include "ttynet/esp/packet.hpp"

namespace {

using namespace ttynet;
using namespace ttynet::esp;
using ttynet::fuzz::check;

bool same(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// The little-endian 16-bit size field of a packet header.
std::uint16_t size_field(ByteView packet) {
  return static_cast<std::uint16_t>(packet[2] | packet[3] << 8);
}

// `packet` with its size field set to the bytes after the header.
ByteBuffer with_true_size(ByteView packet) {
  ByteBuffer expected(packet.begin(), packet.end());
  const std::size_t size = packet.size() - header_size;
  expected[2] = static_cast<Byte>(size);
  expected[3] = static_cast<Byte>(size >> 8);
  return expected;
}

template <typename Packet>
void check_header_error(const Result<Packet>& decoded, ByteView packet, Byte direction) {
  if (packet.size() < header_size) {
    check(!decoded && decoded.error() == make_error_code(errc::packet_too_short));
  } else if (packet[0] != direction) {
    check(!decoded && decoded.error() == make_error_code(errc::packet_bad_direction));
  } else {
    check(decoded.has_value());
  }
}

void fuzz_request(ByteView packet) {
  const auto request = decode_request(packet);
  check_header_error(request, packet, request_direction);
  if (!request) return;
  check(static_cast<Byte>(request->op) == packet[1]);
  check(request->size == size_field(packet));
  check(request->checksum == load_u32(packet, 4));
  check(request->data.data() == packet.data() + header_size);
  check(request->data.size() == packet.size() - header_size);
  check(request->has_consistent_size() == (request->size == packet.size() - header_size));
  if (request->data.size() > max_data_size) return;  // the encoder's size field cannot say it
  ByteBuffer encoded;
  append_request(encoded, request->op, request->data, request->checksum);
  check(same(encoded, with_true_size(packet)));
  if (request->has_consistent_size()) check(same(encoded, packet));
}

void fuzz_response(ByteView packet) {
  const auto response = decode_response(packet);
  check_header_error(response, packet, response_direction);
  if (!response) return;
  check(static_cast<Byte>(response->op) == packet[1]);
  check(response->size == size_field(packet));
  check(response->value == load_u32(packet, 4));
  check(response->data.data() == packet.data() + header_size);
  check(response->data.size() == packet.size() - header_size);
  if (response->data.size() > max_data_size) return;
  ByteBuffer encoded;
  append_response(encoded, response->op, response->value, response->data);
  check(same(encoded, with_true_size(packet)));
}

void fuzz_data_block(ByteView data) {
  const auto block = decode_data_block(data);
  if (data.size() < data_block_header_size) {
    check(!block && block.error() == make_error_code(errc::data_block_too_short));
    return;
  }
  check(block.has_value());
  check(block->length == load_u32(data, 0) && block->sequence == load_u32(data, 4));
  check(block->payload.data() == data.data() + data_block_header_size);
  check(block->payload.size() == data.size() - data_block_header_size);
  ByteBuffer encoded;
  append_data_block(encoded, block->sequence, block->payload);
  ByteBuffer expected(data.begin(), data.end());
  std::fill(expected.begin(), expected.begin() + data_block_header_size, Byte{0});
  const auto length = static_cast<std::uint32_t>(block->payload.size());
  for (std::size_t i = 0; i < 4; ++i) {
    expected[i] = static_cast<Byte>(length >> (8 * i));
    expected[4 + i] = static_cast<Byte>(block->sequence >> (8 * i));
  }
  check(same(encoded, expected));
}

void fuzz_status(ByteView data, std::size_t status_length) {
  const auto body = split_status(data, status_length);
  if (status_length < 2 || data.size() < status_length) {
    check(!body && body.error() == make_error_code(errc::status_missing));
    return;
  }
  check(body.has_value());
  check(body->payload.data() == data.data());
  check(body->payload.size() == data.size() - status_length);
  check(body->status.is_ok() == (body->status.status == 0));
  check(body->status.result_code() == (body->status.status << 8 | body->status.error));
  ByteBuffer encoded(body->payload.begin(), body->payload.end());
  append_status(encoded, body->status, status_length);
  ByteBuffer expected(data.begin(), data.end());
  std::fill(expected.end() - static_cast<std::ptrdiff_t>(status_length) + 2, expected.end(),
            Byte{0});
  check(same(encoded, expected));
}

// Encoders first: an op, a word and data from the input decode back unchanged.
void fuzz_encoders(ByteView input) {
  if (input.size() < 5) return;
  const auto op = static_cast<Op>(input[0]);
  const std::uint32_t word = load_u32(input, 1);
  const ByteView data = input.subspan(5).first(std::min(input.size() - 5, max_data_size));

  ByteBuffer packet;
  append_request(packet, op, data, word);
  const auto request = decode_request(packet);
  check(request && request->op == op && request->checksum == word &&
        request->has_consistent_size() && same(request->data, data));

  packet.clear();
  append_response(packet, op, word, data);
  const auto response = decode_response(packet);
  check(response && response->op == op && response->value == word &&
        response->size == data.size() && same(response->data, data));
  for (const std::size_t length : {stub_status_length, esp32_rom_status_length}) {
    ByteBuffer with_status(data.begin(), data.end());
    const Status status{input[1], input[2]};
    append_status(with_status, status, length);
    const auto body = split_status(with_status, length);
    check(body && body->status == status && same(body->payload, data));
  }

  ByteBuffer block;
  append_data_block(block, word, data);
  const auto decoded = decode_data_block(block);
  check(decoded && decoded->sequence == word && decoded->length == data.size() &&
        same(decoded->payload, data));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const ByteView input{bytes, size};
  fuzz_request(input);
  fuzz_response(input);
  fuzz_data_block(input);
  for (std::size_t length = 0; length <= esp32_rom_status_length + 1; ++length) {
    fuzz_status(input, length);
  }
  fuzz_encoders(input);

  // The checksum is the seed XOR every byte: split anywhere, the halves combine.
  const std::size_t half = size / 2;
  check(checksum(input) == static_cast<Byte>(checksum(input.first(half)) ^
                                             checksum(input.subspan(half)) ^ checksum_seed));
  check(is_sync_data(input) == same(input, sync_data()));
  return 0;
}
