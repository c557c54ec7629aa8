#pragma once
// The paced-ESP-frames extension to RFC 2217 on the wire (docs/design/paced-esp-frames.md):
// its Telnet option number and its sub-negotiation messages, encoded and decoded. Shared by
// the client (rfc2217::Client) and the server (server::FramePacer).

#include <array>
#include <chrono>
#include <cstdint>
#include <system_error>
#include <variant>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::rfc2217::paced_esp {

// The one place the option number lives (unassigned by IANA: 50-137 are free).
inline constexpr Byte option = 120;
// Frames of a batch a server holds before it stops reading from the client.
inline constexpr std::size_t max_queued_bytes = std::size_t{256} * 1024;

enum class Kind : Byte {
  batch_begin = 1,
  frame_info = 2,
  batch_end = 3,
  features = 4,
  batch_done = 101,
  batch_aborted = 102,
  features_agreed = 103,
};

// Optional behaviours, as bits: a client's FEATURES names those it can use, the server's
// FEATURES-AGREED the ones of those it will provide.
// The server acknowledges the data frames of a stub READ_FLASH itself when the frame's
// FRAME-INFO asks (FrameInfo::server_acks_read).
inline constexpr std::uint8_t feature_server_read_acks = 0x01;
// Every feature this version knows (what its clients ask for), and what its server provides.
inline constexpr std::uint8_t known_features = feature_server_read_acks;
inline constexpr std::uint8_t server_features = feature_server_read_acks;

enum class AbortReason : Byte {
  failed_status = 1,   // the reply's first status byte was not 0
  timeout = 2,         // no reply within the frame's timeout
  line_change = 3,     // DTR/RTS changed or a reset was played
  device_gone = 4,     // the device went away
  queue_limit = 5,     // the batch passed the server's queue limit
  protocol_error = 6,  // unannounced bytes, nested batch, bad FRAME-INFO
};

using BatchId = std::uint16_t;

// Client to server.
struct BatchBegin {
  BatchId id = 0;
  bool operator==(const BatchBegin&) const = default;
};
// Describes the SLIP frame that follows it in the data stream.
struct FrameInfo {
  Byte opcode = 0;
  Byte status_length = 2;  // status bytes at the end of the reply's data (2 or 4)
  std::chrono::milliseconds timeout{0};
  Byte replies = 1;  // replies the frame draws (SYNC: 8)
  // A stub READ_FLASH whose data frames the server acknowledges to the chip itself, as they
  // come, instead of the client (feature_server_read_acks). Travels as bit 0 of an optional
  // flags byte.
  bool server_acks_read = false;
  bool operator==(const FrameInfo&) const = default;
};
struct BatchEnd {
  BatchId id = 0;
  bool operator==(const BatchEnd&) const = default;
};

// The optional behaviours the client can use; sent once, when the server has agreed to the
// option.
struct Features {
  std::uint8_t bits = 0;
  bool operator==(const Features&) const = default;
};

// Server to client.
// The answer to Features: the bits asked for that the server provides.
struct FeaturesAgreed {
  std::uint8_t bits = 0;
  bool operator==(const FeaturesAgreed&) const = default;
};
struct BatchDone {
  BatchId id = 0;
  std::uint16_t frames = 0;
  bool operator==(const BatchDone&) const = default;
};
struct BatchAborted {
  static constexpr std::size_t max_status = 4;
  BatchId id = 0;
  std::uint16_t index = 0;  // of the frame the batch stopped at
  AbortReason reason = AbortReason::protocol_error;
  std::array<Byte, max_status> status{};  // the failed reply's status bytes (failed_status)
  std::uint8_t status_size = 0;
  ByteView status_bytes() const { return ByteView{status}.first(status_size); }
  bool operator==(const BatchAborted&) const = default;
};

using Message = std::variant<BatchBegin, FrameInfo, BatchEnd, Features, BatchDone, BatchAborted,
                             FeaturesAgreed>;
// What the server sends: BatchDone, BatchAborted, FeaturesAgreed.
bool is_from_server(const Message& message);

// The sub-negotiation payload (after the option byte): kind, then the fields big-endian.
void append_message(ByteBuffer& payload, const Message& message);
// Fails with errc::bad_message for an unknown kind, a short payload, a FRAME-INFO with a
// status length other than 2 or 4 or no replies, or a status longer than four bytes. Extra
// trailing bytes are tolerated, as RFC 2217's own values are.
Result<Message> decode_message(ByteView payload);

const char* to_string(AbortReason reason);  // "failed status", "timeout", ...

}  // namespace ttynet::rfc2217::paced_esp
