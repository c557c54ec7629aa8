#pragma once
// The compressed side of FLASH_DEFL_*: an image packed into the zlib stream the ROM inflates,
// and what each block of that stream inflates to (the ROM's time for a block grows with it).

#include <cstdint>

#include "ttynet/esp/inflate.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esptool {

// The whole image as one zlib stream, at zlib's best compression (as esptool sends it).
Result<ByteBuffer, Error> deflate(ByteView image);

// Follows a zlib stream given block by block, in order.
class InflatedSize {
 public:
  // The bytes `block`, the stream's next block, inflates to.
  std::uint64_t next(ByteView block);

 private:
  esp::Inflater inflater_;
  ByteBuffer scratch_ = ByteBuffer(0x8000);
};

}  // namespace ttynet::esptool
