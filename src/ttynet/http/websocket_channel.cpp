#include "ttynet/http/websocket_channel.hpp"

#include <wslay/wslay.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <utility>

namespace ttynet::http {

namespace {

constexpr std::size_t max_close_reason = 123;  // a control frame's 125 bytes, less the code

// At most max_close_reason bytes, not cutting a UTF-8 sequence.
std::string_view close_reason(std::string_view reason) {
  if (reason.size() <= max_close_reason) return reason;
  std::size_t size = max_close_reason;
  while (size > 0 && (static_cast<unsigned char>(reason[size]) & 0xC0) == 0x80) --size;
  return reason.substr(0, size);
}

}  // namespace

// wslay's callbacks: bytes come from input_ and go to output_, whole (the socket is the
// caller's), and complete messages go to messages_.
struct WebSocketChannel::Context {
  wslay_event_context_ptr events = nullptr;

  Context() = default;
  ~Context() { wslay_event_context_free(events); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  static WebSocketChannel& channel(void* user_data) {
    return *static_cast<WebSocketChannel*>(user_data);
  }

  static ssize_t read(wslay_event_context_ptr events, std::uint8_t* buffer, std::size_t size,
                      int /*flags*/, void* user_data) {
    std::string_view& input = channel(user_data).input_;
    if (input.empty()) {
      wslay_event_set_error(events, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    const std::size_t count = std::min(size, input.size());
    std::memcpy(buffer, input.data(), count);
    input.remove_prefix(count);
    return static_cast<ssize_t>(count);
  }

  static ssize_t write(const std::uint8_t* data, std::size_t size, void* user_data) {
    channel(user_data).output_.append(reinterpret_cast<const char*>(data), size);
    return static_cast<ssize_t>(size);
  }

  static ssize_t write_event(wslay_event_context_ptr /*events*/, const std::uint8_t* data,
                             std::size_t size, int /*flags*/, void* user_data) {
    return write(data, size, user_data);
  }

  static ssize_t write_frame(const std::uint8_t* data, std::size_t size, int /*flags*/,
                             void* user_data) {
    return write(data, size, user_data);
  }

  static void on_message(wslay_event_context_ptr /*events*/,
                         const wslay_event_on_msg_recv_arg* message, void* user_data) {
    // Close and ping are answered by wslay; a pong needs nothing.
    if (message->opcode != WSLAY_TEXT_FRAME && message->opcode != WSLAY_BINARY_FRAME) return;
    channel(user_data).messages_.push_back(
        {.text = message->opcode == WSLAY_TEXT_FRAME,
         .data = std::string(reinterpret_cast<const char*>(message->msg), message->msg_length)});
  }

  static constexpr wslay_event_callbacks callbacks{
      .recv_callback = read,
      .send_callback = write_event,
      .genmask_callback = nullptr,  // a server does not mask
      .on_frame_recv_start_callback = nullptr,
      .on_frame_recv_chunk_callback = nullptr,
      .on_frame_recv_end_callback = nullptr,
      .on_msg_recv_callback = on_message,
  };
};

WebSocketChannel::WebSocketChannel(std::size_t max_message_bytes)
    : context_(std::make_unique<Context>()) {
  if (wslay_event_context_server_init(&context_->events, &Context::callbacks, this) != 0) {
    throw std::bad_alloc();
  }
  wslay_event_config_set_max_recv_msg_length(context_->events, max_message_bytes);
}

WebSocketChannel::~WebSocketChannel() = default;

void WebSocketChannel::receive(std::string_view bytes) {
  if (closing()) return;
  input_ = bytes;
  // wslay 1.1.1 checks a close frame's reason as UTF-8 piece by piece, skipping the first two
  // bytes of every piece: a close split across calls may be answered with 1007, not echoed.
  const int result = wslay_event_recv(context_->events);
  // What is left once reading stopped follows a close or an error: not read.
  input_ = {};
  if (result != 0) fail_connection();
  flush();
}

std::vector<WebSocketChannel::Message> WebSocketChannel::take_messages() {
  return std::exchange(messages_, {});
}

void WebSocketChannel::send_text(std::string_view text) { send(WSLAY_TEXT_FRAME, text); }

void WebSocketChannel::send_binary(std::string_view bytes) { send(WSLAY_BINARY_FRAME, bytes); }

void WebSocketChannel::send(std::uint8_t opcode, std::string_view payload) {
  if (closing()) return;
  const wslay_event_msg message{.opcode = opcode,
                                .msg = reinterpret_cast<const std::uint8_t*>(payload.data()),
                                .msg_length = payload.size()};
  wslay_event_queue_msg(context_->events, &message);
  flush();
}

void WebSocketChannel::close(std::uint16_t code, std::string_view reason) {
  if (closing()) return;
  reason = close_reason(reason);
  wslay_event_queue_close(context_->events, code,
                          reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size());
  flush();
}

std::string_view WebSocketChannel::pending_output() { return output_; }

void WebSocketChannel::consume_output(std::size_t count) {
  output_.erase(0, std::min(count, output_.size()));
}

std::size_t WebSocketChannel::output_bytes() const { return output_.size(); }

bool WebSocketChannel::closing() const {
  // wslay stops reading at a close received or at an error, and writing once a close is sent.
  return wslay_event_get_read_enabled(context_->events) == 0 ||
         wslay_event_get_write_enabled(context_->events) == 0;
}

void WebSocketChannel::flush() {
  // The write callback takes everything, so this serializes every queued frame; it can fail
  // only for memory, and then wslay stops writing, which closing() reports.
  wslay_event_send(context_->events);
  if (close_code_ != 0) return;
  if (wslay_event_get_close_received(context_->events) != 0) {
    close_code_ = wslay_event_get_status_code_received(context_->events);
  } else if (wslay_event_get_close_sent(context_->events) != 0) {
    close_code_ = wslay_event_get_status_code_sent(context_->events);
  }
}

// wslay answers a frame header it cannot parse (a control frame over 125 bytes, a length not
// in its shortest form) with a close without a code; the peer is told 1002 instead.
void WebSocketChannel::fail_connection() {
  wslay_event_shutdown_write(context_->events);  // drops that close, not yet serialized
  const wslay_frame_callbacks callbacks{
      .send_callback = Context::write_frame, .recv_callback = nullptr, .genmask_callback = nullptr};
  wslay_frame_context_ptr frames = nullptr;
  if (wslay_frame_context_init(&frames, &callbacks, this) != 0) return;
  constexpr std::uint16_t code = WSLAY_CODE_PROTOCOL_ERROR;
  const std::array<std::uint8_t, 2> payload{code >> 8, code & 0xFF};
  wslay_frame_iocb frame{.fin = 1,
                         .rsv = WSLAY_RSV_NONE,
                         .opcode = WSLAY_CONNECTION_CLOSE,
                         .payload_length = payload.size(),
                         .mask = 0,
                         .data = payload.data(),
                         .data_length = payload.size()};
  wslay_frame_send(frames, &frame);
  wslay_frame_context_free(frames);
  close_code_ = code;
}

}  // namespace ttynet::http
