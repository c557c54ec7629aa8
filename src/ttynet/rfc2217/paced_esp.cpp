#include "ttynet/rfc2217/paced_esp.hpp"

#include <algorithm>

#include "ttynet/rfc2217/error.hpp"
#include "ttynet/util/overloaded.hpp"

namespace ttynet::rfc2217::paced_esp {
namespace {

void append_u16(ByteBuffer& to, std::uint16_t value) {
  to.push_back(static_cast<Byte>(value >> 8));
  to.push_back(static_cast<Byte>(value));
}

void append_u32(ByteBuffer& to, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) to.push_back(static_cast<Byte>(value >> shift));
}

// Reads big-endian fields from the front of a payload; running short sets `short_`.
class Fields {
 public:
  explicit Fields(ByteView bytes) : bytes_(bytes) {}
  std::uint32_t take(std::size_t size) {
    if (bytes_.size() < size) {
      short_ = true;
      return 0;
    }
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < size; ++i) value = (value << 8) | bytes_[i];
    bytes_ = bytes_.subspan(size);
    return value;
  }
  Byte u8() { return static_cast<Byte>(take(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u32() { return take(4); }
  ByteView rest() const { return bytes_; }
  bool is_short() const { return short_; }

 private:
  ByteView bytes_;
  bool short_ = false;
};

std::error_code bad_message() { return make_error_code(errc::bad_message); }

// FRAME-INFO's optional flags byte.
constexpr Byte frame_flag_server_acks_read = 0x01;

}  // namespace

void append_message(ByteBuffer& payload, const Message& message) {
  std::visit(Overloaded{
                 [&](const BatchBegin& m) {
                   payload.push_back(static_cast<Byte>(Kind::batch_begin));
                   append_u16(payload, m.id);
                 },
                 [&](const FrameInfo& m) {
                   payload.push_back(static_cast<Byte>(Kind::frame_info));
                   payload.push_back(m.opcode);
                   payload.push_back(m.status_length);
                   append_u32(payload, static_cast<std::uint32_t>(m.timeout.count()));
                   payload.push_back(m.replies);
                   // Only when set: a server that predates the flags byte never sees it.
                   if (m.server_acks_read) payload.push_back(frame_flag_server_acks_read);
                 },
                 [&](const BatchEnd& m) {
                   payload.push_back(static_cast<Byte>(Kind::batch_end));
                   append_u16(payload, m.id);
                 },
                 [&](const Features& m) {
                   payload.push_back(static_cast<Byte>(Kind::features));
                   payload.push_back(m.bits);
                 },
                 [&](const FeaturesAgreed& m) {
                   payload.push_back(static_cast<Byte>(Kind::features_agreed));
                   payload.push_back(m.bits);
                 },
                 [&](const BatchDone& m) {
                   payload.push_back(static_cast<Byte>(Kind::batch_done));
                   append_u16(payload, m.id);
                   append_u16(payload, m.frames);
                 },
                 [&](const BatchAborted& m) {
                   payload.push_back(static_cast<Byte>(Kind::batch_aborted));
                   append_u16(payload, m.id);
                   append_u16(payload, m.index);
                   payload.push_back(static_cast<Byte>(m.reason));
                   append(payload, m.status_bytes());
                 },
             },
             message);
}

Result<Message> decode_message(ByteView payload) {
  if (payload.empty()) return bad_message();
  Fields fields(payload.subspan(1));
  Message message;
  switch (static_cast<Kind>(payload.front())) {
    case Kind::batch_begin:
      message = BatchBegin{fields.u16()};
      break;
    case Kind::frame_info: {
      FrameInfo info;
      info.opcode = fields.u8();
      info.status_length = fields.u8();
      info.timeout = std::chrono::milliseconds{fields.u32()};
      info.replies = fields.u8();
      if (info.status_length != 2 && info.status_length != 4) return bad_message();
      if (info.replies == 0) return bad_message();
      if (!fields.rest().empty()) {
        info.server_acks_read = (fields.u8() & frame_flag_server_acks_read) != 0;
      }
      message = info;
      break;
    }
    case Kind::batch_end:
      message = BatchEnd{fields.u16()};
      break;
    case Kind::features:
      message = Features{fields.u8()};
      break;
    case Kind::features_agreed:
      message = FeaturesAgreed{fields.u8()};
      break;
    case Kind::batch_done: {
      BatchDone done;
      done.id = fields.u16();
      done.frames = fields.u16();
      message = done;
      break;
    }
    case Kind::batch_aborted: {
      BatchAborted aborted;
      aborted.id = fields.u16();
      aborted.index = fields.u16();
      const Byte reason = fields.u8();
      if (reason < static_cast<Byte>(AbortReason::failed_status) ||
          reason > static_cast<Byte>(AbortReason::protocol_error)) {
        return bad_message();
      }
      aborted.reason = static_cast<AbortReason>(reason);
      const ByteView status = fields.rest();
      if (status.size() > BatchAborted::max_status) return bad_message();
      std::copy(status.begin(), status.end(), aborted.status.begin());
      aborted.status_size = static_cast<std::uint8_t>(status.size());
      message = aborted;
      break;
    }
    default:
      return bad_message();
  }
  if (fields.is_short()) return bad_message();
  return message;
}

bool is_from_server(const Message& message) {
  return std::holds_alternative<BatchDone>(message) ||
         std::holds_alternative<BatchAborted>(message) ||
         std::holds_alternative<FeaturesAgreed>(message);
}

const char* to_string(AbortReason reason) {
  switch (reason) {
    case AbortReason::failed_status:
      return "failed status";
    case AbortReason::timeout:
      return "timeout";
    case AbortReason::line_change:
      return "line change or reset";
    case AbortReason::device_gone:
      return "device gone";
    case AbortReason::queue_limit:
      return "queue limit";
    case AbortReason::protocol_error:
      return "protocol error";
  }
  return "unknown";
}

}  // namespace ttynet::rfc2217::paced_esp
