#include "ttynet/server/scrollback.hpp"

#include <algorithm>

namespace ttynet::server {

void Scrollback::append(ByteView data) {
  if (capacity_ == 0) return;
  if (data.size() >= capacity_) {  // only its tail survives
    kept_.assign(data.end() - static_cast<std::ptrdiff_t>(capacity_), data.end());
    oldest_ = 0;
    return;
  }
  const std::size_t room = capacity_ - kept_.size();
  const std::size_t grown = std::min(room, data.size());
  kept_.insert(kept_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(grown));
  data = data.subspan(grown);
  // Full: the rest overwrites the oldest bytes, wrapping at the end.
  while (!data.empty()) {
    const std::size_t piece = std::min(data.size(), capacity_ - oldest_);
    std::copy_n(data.begin(), piece, kept_.begin() + static_cast<std::ptrdiff_t>(oldest_));
    oldest_ = (oldest_ + piece) % capacity_;
    data = data.subspan(piece);
  }
}

ByteBuffer Scrollback::last(std::size_t n) const {
  n = std::min(n, kept_.size());
  // In order, the bytes are [oldest_, end) then [0, oldest_); the last n start `start` in.
  const std::size_t start = (oldest_ + kept_.size() - n) % std::max<std::size_t>(kept_.size(), 1);
  const std::size_t first = std::min(n, kept_.size() - start);
  const auto begin = kept_.begin();
  ByteBuffer bytes(begin + static_cast<std::ptrdiff_t>(start),
                   begin + static_cast<std::ptrdiff_t>(start + first));
  bytes.insert(bytes.end(), begin, begin + static_cast<std::ptrdiff_t>(n - first));
  return bytes;
}

}  // namespace ttynet::server
