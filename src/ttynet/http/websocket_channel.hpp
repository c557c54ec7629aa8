#pragma once
// One server-side WebSocket connection after the handshake (RFC 6455), through wslay: frames
// in, messages out; messages in, frames out. Sans-I/O: the caller moves bytes between this and
// the socket. Pings are answered, a close is answered and ends the channel, masking and
// fragmentation are handled by wslay.
//
// Bounded: a message over max_message_bytes closes the channel with 1009, a protocol error
// with 1002, text that is not UTF-8 with 1007 (all by wslay); received messages wait in a
// queue the caller empties with take_messages(). Output waits in pending_output() until the
// caller has written it; the caller bounds it (output_bytes()) and drops what a slow peer
// cannot take, as for a slow monitor.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ttynet::http {

class WebSocketChannel {
 public:
  struct Message {
    bool text = false;
    std::string data;
  };

  explicit WebSocketChannel(std::size_t max_message_bytes = std::size_t{64} * 1024);
  ~WebSocketChannel();
  WebSocketChannel(const WebSocketChannel&) = delete;
  WebSocketChannel& operator=(const WebSocketChannel&) = delete;

  // Bytes read from the socket. Complete messages go to the queue; control frames are
  // answered (their answers go to the output).
  void receive(std::string_view bytes);
  std::vector<Message> take_messages();

  // Queue a message (unfragmented) or a close; ignored once closing.
  void send_text(std::string_view text);
  void send_binary(std::string_view bytes);
  void close(std::uint16_t code, std::string_view reason);

  // The bytes to write to the socket, in order. consume_output(n) after writing n of them.
  std::string_view pending_output();
  void consume_output(std::size_t count);
  // Bytes queued for the peer: frames not yet serialized plus pending_output(). Frames are
  // serialized as soon as they are queued, so this is pending_output()'s size.
  std::size_t output_bytes() const;

  // No more messages will be received (a close was received or sent, or the peer broke the
  // protocol). The caller writes the remaining output, then closes the socket.
  bool closing() const;
  // The close code received or sent (1000, 1002, 1009, ...); 0 before.
  std::uint16_t close_code() const { return close_code_; }

 private:
  struct Context;
  friend struct Context;

  // One unfragmented message of wslay's `opcode` (text or binary); ignored once closing.
  void send(std::uint8_t opcode, std::string_view payload);
  void flush();
  void fail_connection();

  std::unique_ptr<Context> context_;
  std::string_view input_;  // during receive(): the bytes wslay has not read yet
  std::string output_;
  std::vector<Message> messages_;
  std::uint16_t close_code_ = 0;
};

}  // namespace ttynet::http
