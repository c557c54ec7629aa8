#pragma once
// Progress of a long transfer. On a terminal: one line redrawn with carriage returns, a bar,
// the percentage and the throughput so far. Elsewhere: esptool's "Writing at 0x00010000...
// (42 %)" lines, one per percent step, so logs stay short.

#include <cstdint>
#include <string>
#include <string_view>

#include "ttynet/esptool/console.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esptool {

class Progress {
 public:
  // `verb` starts each line: "Writing", "Reading", "Erasing".
  Progress(Console& console, std::string_view verb, std::uint64_t total);
  // `done` of `total` bytes, the transfer now at `address`.
  void update(std::uint32_t address, std::uint64_t done);
  // Ends the redrawn line (terminal only).
  void finish();
  Duration elapsed() const { return Clock::now() - start_; }

 private:
  Console& console_;
  std::string verb_;
  std::uint64_t total_;
  TimePoint start_;
  int shown_percent_ = -1;
  bool drawn_ = false;
};

// "12.3" kbit/s for `bytes` in `elapsed`.
double kbit_per_second(std::uint64_t bytes, Duration elapsed);
double seconds(Duration elapsed);

}  // namespace ttynet::esptool
