#pragma once
// DTR/RTS sequences that reset an Espressif chip through the auto-program circuit
// (docs/reference/esp-loader-protocol.md §8.1, §8.3): esptool's built-in strategies with its
// timings, and its configuration syntax for custom ones. Shared by the flasher (which plays
// them on its port) and by the server's `--esp` handling (which plays them on the device).
//
// Line values are pyserial's: true = asserted (pin low). With the circuit, (dtr, rts) =
// (false, true) holds EN low; (true, false) pulls GPIO0 low; both equal leaves the chip alone.
//
// Custom syntax (esptool's `custom_reset_sequence`): steps separated by '|', each one of
//   D0 / D1        set DTR
//   R0 / R1        set RTS
//   U<d>,<r>       set both at once, e.g. U0,1
//   W<seconds>     wait, e.g. W0.1
// Whitespace around steps is ignored. Example: "D0|R1|W0.1|D1|R0|W0.05|D0".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/util/error.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/result.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esp {

// The auto-program circuit (two transistors between DTR/RTS and EN/GPIO0): what a pair of
// line values does to the chip's pins. The one place this rule is written; the reset
// detector, the simulated chip and the tests read it from here.
struct ChipPins {
  bool en_low = false;     // the chip is held in reset
  bool gpio0_low = false;  // the strap that selects the ROM loader at boot
};
constexpr ChipPins pins_for(ControlLines lines) {
  return {.en_low = !lines.dtr && lines.rts, .gpio0_low = lines.dtr && !lines.rts};
}

struct ResetStep {
  enum class Kind : std::uint8_t { dtr, rts, both, wait };
  Kind kind = Kind::wait;
  bool dtr = false;  // for dtr and both
  bool rts = false;  // for rts and both
  Duration wait{};   // for wait
  // An RTS change followed by a write of the unchanged DTR value: esptool does this for
  // Windows drivers, and on RFC 2217 it is one more SET-CONTROL that servers may count on.
  bool repeat_dtr = false;

  friend bool operator==(const ResetStep&, const ResetStep&) = default;
};

using ResetSequence = std::vector<ResetStep>;

// esptool's DEFAULT_RESET_DELAY (GPIO0 held low after EN is released) and its longer
// alternative, used on every other attempt and by `--r0` servers.
inline constexpr Duration default_reset_delay = std::chrono::milliseconds(50);
inline constexpr Duration extra_reset_delay = std::chrono::milliseconds(550);

// Into the ROM loader, each line on its own (the order esptool uses over RFC 2217):
// D0, R1+D, W0.1, D1, R0+D, W delay, D0.
ResetSequence classic_reset(Duration delay = default_reset_delay);
// Into the ROM loader with both lines changed together:
// U(0,0), U(1,1), U(0,1), W0.1, U(1,0), W delay, U(0,0), D0.
ResetSequence tight_reset(Duration delay = default_reset_delay);
// Into the ROM loader through the chips' built-in USB-Serial/JTAG.
ResetSequence usb_jtag_reset();
// Into the application: R1+D, W0.1, R0+D (EN pulsed low with GPIO0 high).
ResetSequence hard_reset();

// Parses the custom syntax. Errors name the offending step: "bad reset step 'X1' (step 3);
// expected D0/D1, R0/R1, U<0|1>,<0|1> or W<seconds>" (code std::errc::invalid_argument).
Result<ResetSequence, Error> parse_reset_sequence(std::string_view text);
// The custom syntax for `sequence` (dummy DTR writes not shown).
std::string to_string(const ResetSequence& sequence);
// The time the sequence takes, waits added up.
Duration duration(const ResetSequence& sequence);
// The line changes alone, for a server that recognises the reset by them and plays it with
// its own timing (`ttynet serve --esp`): waiting here would only delay what follows.
ResetSequence without_waits(const ResetSequence& sequence);

}  // namespace ttynet::esp
