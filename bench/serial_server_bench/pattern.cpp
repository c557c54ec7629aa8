// The test payload (Pattern) and the check of received bytes against it (Verifier).

#include "pattern.hpp"

#include <algorithm>

#include "error.hpp"

namespace ttynet::bench {

Pattern::Pattern() : block_(65521) {
  for (std::size_t i = 0; i < 256; ++i) {
    block_[i] = static_cast<Byte>(i);
  }
  std::uint32_t state = 0x9E3779B9u;
  for (std::size_t i = 256; i < block_.size(); ++i) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    block_[i] = static_cast<Byte>(state >> 24);
  }
}

ByteView Pattern::at(std::uint64_t offset, std::size_t limit) const {
  const std::size_t start = static_cast<std::size_t>(offset % block_.size());
  return ByteView{block_}.subspan(start, std::min(limit, block_.size() - start));
}

void Verifier::check(ByteView data) {
  while (!data.empty()) {
    if (next_ >= end_) {
      fail("received more bytes than were sent (unexpected data from server)");
    }
    const ByteView want = pattern_.at(
        next_, static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), end_ - next_)));
    const ByteView got = data.first(want.size());
    const auto [want_it, got_it] = std::mismatch(want.begin(), want.end(), got.begin());
    if (want_it != want.end()) {
      const auto index = static_cast<std::uint64_t>(want_it - want.begin());
      fail("received data differs at payload byte {}: sent 0x{:02X}, got 0x{:02X}", next_ + index,
           *want_it, *got_it);
    }
    next_ += want.size();
    data = data.subspan(want.size());
  }
}

}  // namespace ttynet::bench
