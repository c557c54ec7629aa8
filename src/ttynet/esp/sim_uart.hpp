#pragma once
// The simulated chip's UART as the host sees it: the chip's baud against the host's, and the
// transmit buffer the port drains. If the two rates differ by more than 5%, bytes in both
// directions arrive as framing-error junk (deterministic, never a SLIP END or ESC), as on
// real hardware.

#include <cstddef>
#include <cstdint>

#include "ttynet/util/bytes.hpp"

namespace ttynet::esp {

class SimUart {
 public:
  SimUart(std::uint32_t host_baud, std::size_t max_pending_output)
      : host_baud_(host_baud), max_pending_output_(max_pending_output) {}

  std::uint32_t baud() const { return baud_; }
  void set_baud(std::uint32_t baud) { baud_ = baud; }
  std::uint32_t host_baud() const { return host_baud_; }
  void set_host_baud(std::uint32_t baud);  // 0 is ignored
  bool is_mismatched() const;

  // What the chip's RX pin makes of bytes the host sent: the bytes themselves, or junk at a
  // mismatched rate (valid until the next call).
  ByteView receive(ByteView from_host);
  // Bytes the chip sends. Beyond max_pending_output the oldest pending bytes are dropped.
  void transmit(ByteView bytes);

  ByteView pending_output() const { return ByteView{out_}.subspan(out_start_); }
  std::size_t pending_output_size() const { return out_.size() - out_start_; }
  void consume_output(std::size_t n);  // n <= pending_output_size()

  std::uint64_t garbled_bytes() const { return garbled_bytes_; }    // both directions
  std::uint64_t dropped_output() const { return dropped_output_; }  // never consumed

 private:
  std::uint32_t baud_ = 115200;
  std::uint32_t host_baud_;
  std::size_t max_pending_output_;
  std::uint64_t junk_index_ = 0;
  std::uint64_t rx_carry_ = 0;
  std::uint64_t tx_carry_ = 0;
  ByteBuffer out_;
  std::size_t out_start_ = 0;  // consumed prefix not yet erased, to avoid a memmove per read
  ByteBuffer rx_junk_;
  std::uint64_t garbled_bytes_ = 0;
  std::uint64_t dropped_output_ = 0;
};

}  // namespace ttynet::esp
