#pragma once
// SLIP framing as the Espressif serial loaders use it (RFC 1055 bytes, esptool conventions):
// every packet is END payload END, with END and ESC inside the payload escaped.
//
// The decoder is incremental: feed bytes as they arrive, split anywhere, and pull events.
// Bytes between frames are handed out as NoiseReceived (a boot log, a panic message) rather
// than dropped, so a caller can show them. A frame that breaks the rules is dropped whole
// and reported once; decoding goes on with the next frame.
//
// One leniency over esptool's reader: an END that would close an empty frame opens a frame
// instead (RFC 1055 treats END as a delimiter), so back-to-back ENDs never produce empty
// frames and a decoder that lost its place realigns on the next frame.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

#include "ttynet/util/bytes.hpp"

namespace ttynet::esp::slip {

inline constexpr Byte end = 0xC0;
inline constexpr Byte esc = 0xDB;
inline constexpr Byte esc_end = 0xDC;  // ESC ESC_END stands for END
inline constexpr Byte esc_esc = 0xDD;  // ESC ESC_ESC stands for ESC

// Appends END, the escaped payload and END to `out`.
void append_frame(ByteBuffer& out, ByteView payload);
ByteBuffer encode_frame(ByteView payload);

struct Limits {
  // Unescaped payload bytes per frame. The default takes the largest packet esptool sends
  // (a 0x4000-byte stub block with its 8-byte header and 16-byte block header) with the
  // slack of the flasher stub's receive buffer (0x4000 + 64).
  std::size_t max_frame = 0x4000 + 64;
};

// A complete frame, unescaped. Points into the decoder's buffer or into the input.
struct FrameReceived {
  ByteView payload;
};
// A run of bytes outside any frame, in order. Points into the input.
struct NoiseReceived {
  ByteView bytes;
};
// A frame was dropped (errc::slip_invalid_escape, errc::slip_frame_too_long). Reported when
// the problem is seen; the rest of that frame, up to its END, is skipped silently.
struct FrameError {
  std::error_code error;
};

using Event = std::variant<FrameReceived, NoiseReceived, FrameError>;

class Decoder {
 public:
  explicit Decoder(Limits limits = {});

  // Takes the next bytes. The decoder keeps a view of them: call next_event() until it
  // returns nothing before calling receive() again, and keep the bytes alive until then.
  void receive(ByteView input);
  // The next event, or nothing when the input given so far is used up (a partial frame is
  // kept for the next receive()). Views in events stay valid until the next call to
  // receive() or next_event().
  std::optional<Event> next_event();

  // Inside a frame (its opening END seen, its closing END not yet).
  bool is_in_frame() const { return state_ != State::idle; }
  // The bytes of the frame being received, so far (empty outside a frame).
  ByteView partial_frame() const { return is_in_frame() ? ByteView{frame_} : ByteView{}; }
  // Hands back the input next_event() has not looked at yet and forgets it, for a receiver
  // that stops taking bytes in the middle of an input.
  ByteView take_unread() { return std::exchange(input_, {}); }
  // Forgets a partial frame and any unread input, as after the peer restarted.
  void reset();

 private:
  enum class State : std::uint8_t { idle, frame, frame_escape, discard };

  std::optional<Event> drop_frame(std::error_code error);

  Limits limits_;
  State state_ = State::idle;
  ByteView input_;
  ByteBuffer frame_;
};

}  // namespace ttynet::esp::slip
