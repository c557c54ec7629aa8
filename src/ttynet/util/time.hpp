#pragma once
// Time as the sans-I/O cores see it: a steady time point passed in by the caller, never read.

#include <chrono>

namespace ttynet {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

}  // namespace ttynet
