#pragma once
// The test payload (Pattern) and the check of received bytes against it (Verifier).

#include <cstddef>
#include <cstdint>

#include "ttynet/util/bytes.hpp"

namespace ttynet::bench {

// A fixed pseudo-random block holding every byte value, repeated. Its length is prime so that
// chunk boundaries and the repetition never line up, and a lost, doubled or reordered chunk
// shows as a mismatch.
class Pattern {
 public:
  Pattern();
  // The longest run of the endless pattern starting at `offset`, at most `limit` bytes.
  ByteView at(std::uint64_t offset, std::size_t limit) const;

 private:
  ByteBuffer block_;
};

// Checks received bytes against the pattern from a given offset on.
class Verifier {
 public:
  Verifier(const Pattern& pattern, std::uint64_t start, std::uint64_t expected)
      : pattern_{pattern}, next_{start}, end_{start + expected} {}

  void check(ByteView data);
  bool is_complete() const { return next_ == end_; }
  std::uint64_t position() const { return next_; }

 private:
  const Pattern& pattern_;
  std::uint64_t next_;
  std::uint64_t end_;
};

}  // namespace ttynet::bench
