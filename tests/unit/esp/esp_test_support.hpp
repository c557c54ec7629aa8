#pragma once
// Helpers shared by the esp unit tests: byte builders, zlib compression as esptool does it,
// framed requests, and a decoder that splits the simulated chip's output into frames and text.

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esp::test {

using Bytes = std::vector<Byte>;

inline Bytes words(std::initializer_list<std::uint32_t> values) {
  Bytes out;
  for (const std::uint32_t v : values) {
    append_u32(out, v);
  }
  return out;
}

inline Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.size() + b.size());
  std::copy(b.begin(), b.end(), std::copy(a.begin(), a.end(), out.begin()));
  return out;
}

// Deterministic test data that contains SLIP END/ESC bytes now and then.
inline Bytes pattern(std::size_t size, std::uint32_t seed = 1) {
  Bytes out(size);
  std::uint32_t x = seed;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<Byte>(x >> 16);
  }
  return out;
}

// zlib.compress(data, 9), as esptool sends FLASH_DEFL_DATA.
inline Bytes compress(ByteView data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  Bytes out(size);
  compress2(out.data(), &size, data.data(), static_cast<uLong>(data.size()), 9);
  out.resize(size);
  return out;
}

// A SLIP-framed request.
inline Bytes request(Op op, ByteView data, std::uint32_t checksum = 0) {
  Bytes packet;
  append_request(packet, op, data, checksum);
  return slip::encode_frame(packet);
}

// A SLIP-framed *_DATA request: block header + payload, checksum in the header.
inline Bytes data_request(Op op, std::uint32_t sequence, ByteView payload) {
  Bytes data;
  append_data_block(data, sequence, payload);
  return request(op, data, checksum(payload));
}

// Splits output into frames and the text between them.
class OutputReader {
 public:
  void feed(ByteView bytes) {
    decoder_.receive(bytes);
    while (auto event = decoder_.next_event()) {
      if (const auto* f = std::get_if<slip::FrameReceived>(&*event)) {
        frames.emplace_back(f->payload.begin(), f->payload.end());
      } else if (const auto* n = std::get_if<slip::NoiseReceived>(&*event)) {
        text.append(as_chars(n->bytes));
      } else {
        ++errors;
      }
    }
  }
  std::vector<Bytes> frames;
  std::string text;
  int errors = 0;

 private:
  slip::Decoder decoder_{slip::Limits{1 << 20}};
};

}  // namespace ttynet::esp::test
