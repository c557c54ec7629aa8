#include "ttynet/esp/sim_uart.hpp"

#include <algorithm>
#include <array>
#include <cassert>

namespace ttynet::esp {
namespace {

// What a UART receiving at the wrong rate delivers: framing-error patterns. None is a SLIP
// END or ESC, so garbage never forms a frame and a host at the wrong baud cannot sync.
constexpr std::array<Byte, 12> junk = {0x00, 0x80, 0xF0, 0xF8, 0xFC, 0xFE,
                                       0xE0, 0x1E, 0x78, 0x86, 0x66, 0x9E};

// Bytes sent at `sender` baud as a receiver at `receiver` baud sees them: about
// n * receiver / sender bytes (at most 4 per byte sent), each junk.
void garble(ByteView in, std::uint32_t sender, std::uint32_t receiver, std::uint64_t& carry,
            std::uint64_t& junk_index, ByteBuffer& out) {
  const std::uint64_t per_byte = std::min<std::uint64_t>(receiver, std::uint64_t{sender} * 4);
  for (const Byte b : in) {
    carry += per_byte;
    while (carry >= sender) {
      carry -= sender;
      out.push_back(junk[(b + junk_index++) % junk.size()]);
    }
  }
}

}  // namespace

void SimUart::set_host_baud(std::uint32_t baud) {
  if (baud != 0) {
    host_baud_ = baud;
  }
}

bool SimUart::is_mismatched() const {
  const std::uint64_t difference = host_baud_ > baud_ ? host_baud_ - baud_ : baud_ - host_baud_;
  return difference * 100 > std::uint64_t{baud_} * 5;
}

ByteView SimUart::receive(ByteView from_host) {
  if (!is_mismatched()) {
    return from_host;
  }
  garbled_bytes_ += from_host.size();
  rx_junk_.clear();
  garble(from_host, host_baud_, baud_, rx_carry_, junk_index_, rx_junk_);
  return rx_junk_;
}

void SimUart::transmit(ByteView bytes) {
  if (bytes.empty()) {
    return;
  }
  if (is_mismatched()) {
    garbled_bytes_ += bytes.size();
    garble(bytes, baud_, host_baud_, tx_carry_, junk_index_, out_);
  } else {
    append(out_, bytes);
  }
  const std::size_t pending = pending_output_size();
  if (pending > max_pending_output_) {
    const std::size_t drop = pending - max_pending_output_;
    out_start_ += drop;
    dropped_output_ += drop;
  }
}

void SimUart::consume_output(std::size_t n) {
  assert(n <= pending_output_size());
  out_start_ += n;
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  } else if (out_start_ >= 4096 && out_start_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_start_));
    out_start_ = 0;
  }
}

}  // namespace ttynet::esp
