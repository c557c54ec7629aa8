#pragma once
// The latest device output of a port, kept for clients that connect later (scroll-back).
// Sans-I/O. Bounded: it never holds more than its capacity, and its storage grows only as
// output comes, so a quiet port costs nothing.

#include <cstddef>

#include "ttynet/util/bytes.hpp"

namespace ttynet::server {

class Scrollback {
 public:
  explicit Scrollback(std::size_t capacity) : capacity_(capacity) {}

  // Keeps `data`, dropping the oldest bytes beyond the capacity.
  void append(ByteView data);
  // The last `n` bytes kept (all of them when fewer were kept), oldest first.
  ByteBuffer last(std::size_t n) const;

  std::size_t size() const { return kept_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  // Filled in order until full; then a ring whose oldest byte is at `oldest_`.
  ByteBuffer kept_;
  std::size_t oldest_ = 0;
};

}  // namespace ttynet::server
