// The compressed side of FLASH_DEFL_*: zlib out, and the inflated size of each block.

#include "ttynet/esptool/deflate.hpp"

#include <zlib.h>

namespace ttynet::esptool {

Result<ByteBuffer, Error> deflate(ByteView image) {
  uLongf size = compressBound(static_cast<uLong>(image.size()));
  ByteBuffer out(size);
  if (compress2(out.data(), &size, image.data(), static_cast<uLong>(image.size()), 9) != Z_OK) {
    return make_error(errc::bad_argument, "zlib could not compress the image");
  }
  out.resize(size);
  return out;
}

std::uint64_t InflatedSize::next(ByteView block) {
  std::uint64_t produced = 0;
  while (!block.empty() || produced == 0) {
    auto step = inflater_.inflate(block, scratch_);
    if (!step) break;
    produced += step->produced;
    block = block.subspan(step->consumed);
    if (step->finished || (step->consumed == 0 && step->produced == 0)) break;
  }
  return produced;
}

}  // namespace ttynet::esptool
