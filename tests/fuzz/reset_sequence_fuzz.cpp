// Reset sequences: the custom-syntax parser on any text, and the reset-intent detector on any
// stream of DTR/RTS requests. Invariants: a parsed sequence prints back to text that parses
// to the same sequence, and no wait exceeds the parser's bound; the detector's view of the
// lines is always the last value asked for, and it reports a reset only when EN is released.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.hpp"
#include "ttynet/esp/reset_detector.hpp"
#include "ttynet/esp/reset_sequence.hpp"

namespace {

using namespace ttynet;
using namespace ttynet::esp;
using ttynet::fuzz::check;

void fuzz_parser(std::string_view text) {
  auto parsed = parse_reset_sequence(text);
  if (!parsed) {
    check(!parsed.error().message.empty());
    return;
  }
  for (const auto& step : *parsed) check(step.wait <= std::chrono::seconds(10));
  auto again = parse_reset_sequence(to_string(*parsed));
  check(again.has_value());
  check(to_string(*again) == to_string(*parsed));
}

void fuzz_detector(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  ResetDetector detector(ControlLines{.dtr = (data[0] & 1) != 0, .rts = (data[0] & 2) != 0});
  for (std::size_t i = 1; i < size; ++i) {
    const ControlLines before = detector.client_lines();
    // Two bits per line: (given, value).
    const std::optional<bool> dtr =
        (data[i] & 1) != 0 ? std::optional<bool>((data[i] & 2) != 0) : std::nullopt;
    const std::optional<bool> rts =
        (data[i] & 4) != 0 ? std::optional<bool>((data[i] & 8) != 0) : std::nullopt;
    const auto action = detector.on_request(dtr, rts);
    const ControlLines after = detector.client_lines();
    check(after.dtr == dtr.value_or(before.dtr));
    check(after.rts == rts.value_or(before.rts));
    if (action != ResetDetector::Action::pass_through) {
      check(pins_for(before).en_low && !pins_for(after).en_low);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_parser(std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz_detector(data, size);
  return 0;
}
