// SLIP decoder: any bytes, split anywhere, with a small frame limit chosen by the first byte.
// Invariants: frames never exceed the limit and re-encode to a stream that decodes to the
// same frame; noise never holds an END; splitting the input changes nothing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "ttynet/esp/slip.hpp"

namespace {

using namespace ttynet;
using namespace ttynet::esp;
using ttynet::fuzz::check;

struct Seen {
  int kind;  // 0 frame, 1 noise (merged), 2 error
  std::vector<Byte> bytes;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> decode(std::initializer_list<ByteView> parts, slip::Limits limits) {
  slip::Decoder decoder(limits);
  std::vector<Seen> seen;
  for (const ByteView part : parts) {
    decoder.receive(part);
    while (auto event = decoder.next_event()) {
      if (const auto* frame = std::get_if<slip::FrameReceived>(&*event)) {
        check(frame->payload.size() <= limits.max_frame);
        check(!frame->payload.empty());
        seen.push_back({0, {frame->payload.begin(), frame->payload.end()}});
      } else if (const auto* noise = std::get_if<slip::NoiseReceived>(&*event)) {
        check(!noise->bytes.empty());
        for (const Byte b : noise->bytes) {
          check(b != slip::end);
        }
        if (!seen.empty() && seen.back().kind == 1) {
          seen.back().bytes.insert(seen.back().bytes.end(), noise->bytes.begin(),
                                   noise->bytes.end());
        } else {
          seen.push_back({1, {noise->bytes.begin(), noise->bytes.end()}});
        }
      } else {
        seen.push_back({2, {}});
      }
    }
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  const slip::Limits limits{static_cast<std::size_t>(data[0]) + 1};
  const std::size_t split = data[1] % (size - 1);
  const ByteView input{data + 2, size - 2};

  const auto whole = decode({input}, limits);
  check(decode({input.first(split), input.subspan(split)}, limits) == whole);

  for (const Seen& s : whole) {
    if (s.kind == 0) {
      const ByteBuffer wire = slip::encode_frame(s.bytes);
      const auto again = decode({wire}, slip::Limits{s.bytes.size()});
      check(again.size() == 1 && again[0] == s);
    }
  }
  return 0;
}
