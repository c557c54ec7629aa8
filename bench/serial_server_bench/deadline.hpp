#pragma once
// Steady-clock time: the deadline of a wait, and seconds elapsed since a start.

#include <chrono>

namespace ttynet::bench {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(Clock::duration budget) : at_{Clock::now() + budget} {}
  bool passed() const { return Clock::now() >= at_; }
  // Milliseconds to pass to poll(), rounded up so a wait never ends just short of the deadline.
  int poll_ms() const {
    const auto left = at_ - Clock::now();
    if (left <= Clock::duration::zero()) {
      return 0;
    }
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

 private:
  Clock::time_point at_;
};

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace ttynet::bench
