#pragma once
// The simulated chip's timers: one deadline per thing that happens later, so the chip fires
// them in time order and says when the next one is due.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ttynet/util/time.hpp"

namespace ttynet::esp {

enum class SimTimer : std::uint8_t {
  power_up,      // boot with the power-on time unknown: power comes up at the next call
  latch_straps,  // EN has risen; the straps are sampled now
  loader_reply,  // the loader sends the reply it held back while it worked
  loader_free,   // the loader takes input again
  reboot,        // a software reset asked for over the loader
  app_output,    // the application prints its next lines
};

class SimTimers {
 public:
  struct Due {
    SimTimer timer;
    TimePoint at;
  };

  void set(SimTimer timer, TimePoint at) { at_[index(timer)] = at; }
  void clear(SimTimer timer) { at_[index(timer)].reset(); }
  void clear_all() { at_.fill(std::nullopt); }
  std::optional<TimePoint> at(SimTimer timer) const { return at_[index(timer)]; }
  bool is_set(SimTimer timer) const { return at_[index(timer)].has_value(); }

  // The earliest timer; on a tie, the one listed first above.
  std::optional<Due> earliest() const {
    std::optional<Due> due;
    for (std::size_t i = 0; i < at_.size(); ++i) {
      if (at_[i] && (!due || *at_[i] < due->at)) {
        due = Due{static_cast<SimTimer>(i), *at_[i]};
      }
    }
    return due;
  }

 private:
  static constexpr std::size_t count = static_cast<std::size_t>(SimTimer::app_output) + 1;
  static std::size_t index(SimTimer timer) { return static_cast<std::size_t>(timer); }

  std::array<std::optional<TimePoint>, count> at_{};
};

}  // namespace ttynet::esp
