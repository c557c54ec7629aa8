#include "ttynet/esp/inflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "ttynet/esp/error.hpp"

namespace ttynet::esp {
namespace {

// zlib counts in uInt; chunks above that are fed in several calls.
uInt clamp_size(std::size_t size) {
  return static_cast<uInt>(std::min<std::size_t>(size, std::numeric_limits<uInt>::max()));
}

}  // namespace

void Inflater::Free::operator()(z_stream_s* stream) const {
  inflateEnd(stream);
  delete stream;
}

Inflater::Inflater() : stream_(new z_stream_s{}) { inflateInit(stream_.get()); }

void Inflater::reset() {
  inflateReset(stream_.get());
  finished_ = false;
  failed_ = false;
}

Result<Inflater::Step> Inflater::inflate(ByteView input, MutableByteView output) {
  if (failed_) {
    return make_error_code(errc::inflate_failed);
  }
  if (finished_ || output.empty()) {
    return Step{0, 0, finished_};
  }
  z_stream& stream = *stream_;
  // zlib does not write through next_in; the cast only satisfies its non-const API.
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = clamp_size(input.size());
  stream.next_out = output.data();
  stream.avail_out = clamp_size(output.size());
  const uInt in_before = stream.avail_in;
  const uInt out_before = stream.avail_out;
  const int status = ::inflate(&stream, Z_NO_FLUSH);
  const Step step{in_before - stream.avail_in, out_before - stream.avail_out,
                  status == Z_STREAM_END};
  stream.next_in = nullptr;
  stream.avail_in = 0;
  switch (status) {
    case Z_STREAM_END:
      finished_ = true;
      return step;
    case Z_OK:
    case Z_BUF_ERROR:  // no progress possible: needs more input
      return step;
    default:
      failed_ = true;
      if (status == Z_DATA_ERROR && stream.msg != nullptr &&
          std::strcmp(stream.msg, "incorrect data check") == 0) {
        return make_error_code(errc::inflate_checksum_failed);
      }
      return make_error_code(errc::inflate_failed);
  }
}

}  // namespace ttynet::esp
