#pragma once
// The one byte vocabulary of ttynet: views for data passed along, a growable buffer for data kept.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ttynet {

using Byte = std::uint8_t;
using ByteView = std::span<const Byte>;
using MutableByteView = std::span<Byte>;
// Growable owned bytes; clear() keeps the capacity, so a reused buffer stops allocating.
using ByteBuffer = std::vector<Byte>;

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const Byte*>(text.data()), text.size()};
}

inline std::string_view as_chars(ByteView bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline void append(ByteBuffer& to, ByteView from) { to.insert(to.end(), from.begin(), from.end()); }

}  // namespace ttynet
