#pragma once
// Splits a byte stream into loader packets and everything else, keeping every byte exactly as
// it came: for a relay that passes most of a stream through untouched but acts on some
// packets (`ttynet forward`).
//
// A packet is a SLIP frame whose payload is a plausible loader packet of one direction (00
// requests, 01 responses; packet.hpp): it starts with that direction byte and its closing END
// comes exactly where its size field says. Anything else (text, a boot log, a stub's
// READ_FLASH data, a stray C0 in a terminal session) is let through as soon as it cannot be
// such a packet, so it waits at most for the 8-byte header, and the END that closes such a
// frame goes with it. A frame being received is held (at most a full packet); everything
// before it is handed out at once.
//
// Sans-I/O: no clock, no port.

#include <functional>
#include <variant>

#include "ttynet/esp/packet.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esp {

class PacketSplitter {
 public:
  // Bytes to pass on unchanged, in order with the packets.
  struct Passed {
    ByteView bytes;
  };
  // A complete packet: `frame` is END ... END as received, `payload` the unescaped packet.
  struct Packet {
    ByteView frame;
    ByteView payload;
  };
  using Event = std::variant<Passed, Packet>;

  explicit PacketSplitter(Byte direction) : direction_(direction) {}

  // Takes the next bytes; `on_event` sees the passed runs and packets in stream order. Views
  // are valid during the call only.
  void feed(ByteView data, const std::function<void(const Event&)>& on_event);
  // Bytes of an unfinished packet, held until it completes or proves not to be one.
  std::size_t held() const { return frame_.size(); }

 private:
  // Whether the payload so far can still become a packet of our direction.
  bool is_plausible() const;
  bool is_complete() const;
  void give_up(const std::function<void(const Event&)>& on_event);

  Byte direction_;
  ByteBuffer frame_;    // as received, from the opening END; empty outside a candidate
  ByteBuffer payload_;  // unescaped
  bool in_escape_ = false;
  // Inside a frame that is not a packet of ours: its closing END is passed with it at once
  // (a greeting like OHAI must not wait for the next byte), not taken as an opening one.
  bool in_foreign_frame_ = false;
};

}  // namespace ttynet::esp
