#pragma once
// Streaming zlib inflate (FLASH_DEFL_DATA): compressed chunks split anywhere in, flash bytes
// out, in steps bounded by the caller's output buffer.

#include <cstddef>
#include <memory>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/result.hpp"

struct z_stream_s;

namespace ttynet::esp {

class Inflater {
 public:
  Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // The stream lives on the heap (zlib's state points back at it), so moving is safe.
  Inflater(Inflater&&) noexcept = default;
  Inflater& operator=(Inflater&&) noexcept = default;

  struct Step {
    std::size_t consumed;  // input bytes used
    std::size_t produced;  // output bytes written
    bool finished;         // the stream's end (and checksum) has been read
  };
  // Inflates from `input` into `output`. Call again with the unconsumed input while
  // `produced == output.size()`: zlib may hold more output. After the end, further input is
  // not consumed. Errors: errc::inflate_failed, errc::inflate_checksum_failed; the stream
  // is unusable afterwards until reset().
  Result<Step> inflate(ByteView input, MutableByteView output);
  // Starts a new zlib stream.
  void reset();
  bool is_finished() const { return finished_; }

 private:
  struct Free {
    void operator()(z_stream_s* stream) const;
  };
  std::unique_ptr<z_stream_s, Free> stream_;
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace ttynet::esp
