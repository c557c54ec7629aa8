#pragma once
// What the fuzz targets share: an invariant check that stops the run where it failed, and
// deterministic choices drawn from one input byte (no clock, no global state).

#include <cstdint>
#include <cstdlib>

namespace ttynet::fuzz {

inline void check(bool condition) {
  if (!condition) std::abort();
}

class Choices {
 public:
  explicit Choices(std::uint8_t seed) : state_(seed * 2654435761u + 1) {}
  std::uint32_t next(std::uint32_t bound) {  // 0 .. bound-1
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % bound;
  }

 private:
  std::uint32_t state_;
};

}  // namespace ttynet::fuzz
