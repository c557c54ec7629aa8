// The server's paced-ESP frame pacer: batch messages decoded from the input, client data,
// device output, writes and time, interleaved as the input's choices say. Invariants: a
// released frame is a whole SLIP frame (C0 ... C0); one frame is out at a time; every report
// survives an encode/decode round trip; while the pacer refuses input, the caller feeds none.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fuzz_support.hpp"
#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/server/frame_pacer.hpp"

namespace {

using namespace ttynet;
using ttynet::fuzz::check;
namespace paced_esp = rfc2217::paced_esp;

void check_report(const server::FramePacer::Report& report) {
  const paced_esp::Message message =
      std::visit([](const auto& r) { return paced_esp::Message{r}; }, report);
  ByteBuffer payload;
  paced_esp::append_message(payload, message);
  const auto decoded = paced_esp::decode_message(payload);
  check(decoded.has_value() && *decoded == message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fuzz::Choices choices(data[0]);
  ByteView input{data + 1, size - 1};
  server::FramePacer pacer;
  TimePoint now{};
  std::optional<ByteView> in_flight;
  while (!input.empty()) {
    const std::size_t take = std::min<std::size_t>(input.size(), 1 + choices.next(64));
    const ByteView chunk = input.first(take);
    input = input.subspan(take);
    switch (choices.next(6)) {
      case 0: {  // a message from the client
        if (const auto message = paced_esp::decode_message(chunk)) {
          pacer.receive(*message);
        } else {
          pacer.receive_undecodable();
        }
        break;
      }
      case 1:  // client data, when the pacer takes it and wants it
        if (pacer.takes_data() && pacer.wants_input()) pacer.receive_data(chunk);
        break;
      case 2:
        pacer.receive_from_device(chunk);
        break;
      case 3:  // the device write of the frame out finishes
        if (in_flight) {
          pacer.frame_written(now);
          in_flight.reset();
        }
        break;
      case 4:
        now += std::chrono::milliseconds(chunk.front());
        pacer.expire(now);
        break;
      default:
        if (chunk.front() < 8) pacer.abort_all(paced_esp::AbortReason::line_change);
        break;
    }
    if (!in_flight) {
      in_flight = pacer.next_frame();
      if (in_flight) {
        check(in_flight->size() >= 2);
        check(in_flight->front() == 0xC0 && in_flight->back() == 0xC0);
      }
    }
    while (const auto report = pacer.next_report()) check_report(*report);
  }
  return 0;
}
