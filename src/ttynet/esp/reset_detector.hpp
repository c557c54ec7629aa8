#pragma once
// Recognises a client's intent to reset an Espressif chip from its stream of DTR/RTS requests,
// so a server can run the reset locally with exact timing (`ttynet serve --esp`). Over a
// network the client's line changes arrive spread out by latency; played one by one on the
// device they release EN long before GPIO0 goes low, and the chip boots its application
// instead of the loader (docs/reference/esp-loader-protocol.md §9).
//
// The detector tracks the two lines as the client believes them to be and reads them the way
// the auto-program circuit does (reset_sequence.hpp): (dtr, rts) = (false, true) holds EN low.
// Only how EN is released matters:
//   - released by DTR going on: the first half of esptool's bootloader sequences (classic:
//     D0 R1 ... D1 R0 ...; the network splits the tight one the same way) -> bootloader reset;
//   - released by RTS going off: esptool's hard reset (R1 ... R0) -> hard reset.
// Everything else passes through, since it cannot reset the chip: pyserial's open (D1, R1)
// never holds EN low, and neither does closing. The EN-low state itself passes through too,
// so a client that holds the chip in reset gets exactly that.
//
// Sans-I/O: no clock, no port. The caller applies client_lines() to the device for
// pass_through, and plays the matching sequence otherwise.

#include <cstdint>
#include <optional>

#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/util/line_settings.hpp"

namespace ttynet::esp {

class ResetDetector {
 public:
  enum class Action : std::uint8_t {
    pass_through,      // apply client_lines() to the device
    bootloader_reset,  // play the bootloader sequence instead
    hard_reset,        // play the hard-reset sequence instead
  };

  // `initial`: the lines as the device has them when the client arrives.
  explicit ResetDetector(ControlLines initial) : lines_(initial) {}

  // A SET-CONTROL for DTR and/or RTS (a repeat of the current value included).
  Action on_request(std::optional<bool> dtr, std::optional<bool> rts);

  // What the client asked for last: the value to answer its requests with.
  ControlLines client_lines() const { return lines_; }

 private:
  ControlLines lines_;
};

}  // namespace ttynet::esp
