// `ttynet forward`'s ESP policy: tool bytes, device bytes (raw, or framed as loader packets
// by the harness so that deep states are reached), paced reports, resets, round trips and
// time, interleaved as the input's choices say. Invariants: batches open and close in turn
// (never two BatchBegins without a BatchEnd between), the blocks answered ahead stay within
// the window's cap, and what is queued for either side is drained each step, so it is bounded
// by what one step can add.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/forward/esp_accelerator.hpp"

namespace {

using namespace ttynet;
using ttynet::fuzz::check;
namespace pe = rfc2217::paced_esp;

ByteBuffer framed(Byte direction, ByteView chunk) {
  ByteBuffer packet;
  const auto op = static_cast<esp::Op>(chunk.empty() ? 0 : chunk[0]);
  const ByteView data = chunk.empty() ? chunk : chunk.subspan(1);
  if (direction == esp::request_direction) {
    esp::append_request(packet, op, data);
  } else {
    esp::append_response(packet, op, 0, data);
  }
  return esp::slip::encode_frame(packet);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fuzz::Choices choices(data[0]);
  ByteView input{data + 1, size - 1};
  forward::EspAccelerator accelerator;
  TimePoint now{};
  bool batch_open = false;
  while (!input.empty()) {
    const std::size_t take = std::min<std::size_t>(input.size(), 1 + choices.next(64));
    const ByteView chunk = input.first(take);
    input = input.subspan(take);
    switch (choices.next(8)) {
      case 0:
        accelerator.from_tool(chunk, now);
        break;
      case 1:
        accelerator.from_tool(framed(esp::request_direction, chunk), now);
        break;
      case 2:
        accelerator.from_device(chunk, now);
        break;
      case 3:
        accelerator.from_device(framed(esp::response_direction, chunk), now);
        break;
      case 4:
        if (const auto report = pe::decode_message(chunk)) accelerator.on_report(*report);
        break;
      case 5:
        accelerator.on_reset();
        break;
      case 6:
        accelerator.set_round_trip(std::chrono::milliseconds(choices.next(3000)));
        accelerator.set_baud(1 + choices.next(4'000'000));
        accelerator.set_far_features(static_cast<std::uint8_t>(choices.next(2)));
        break;
      default:
        now += std::chrono::milliseconds(choices.next(5000));
        break;
    }
    while (auto item = accelerator.next_upstream()) {
      if (const auto* message = std::get_if<pe::Message>(&*item)) {
        if (std::holds_alternative<pe::BatchBegin>(*message)) {
          check(!batch_open);
          batch_open = true;
        } else if (std::holds_alternative<pe::BatchEnd>(*message)) {
          check(batch_open);
          batch_open = false;
        }
      }
    }
    check(accelerator.unconfirmed() <= 256);
    accelerator.consume_tool_output(accelerator.tool_output().size());
    while (accelerator.next_note()) {
    }
  }
  return 0;
}
