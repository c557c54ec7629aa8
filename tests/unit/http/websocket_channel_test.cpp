#include "ttynet/http/websocket_channel.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ttynet::http {
namespace {

using Message = WebSocketChannel::Message;

enum Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

struct FrameOptions {
  bool fin = true;
  bool masked = true;
  std::uint8_t rsv = 0;  // the three bits, RSV1 highest
};

// A client's frame as RFC 6455 section 5.2 lays it out, spelt out here so the tests do not
// depend on the library under test: the payload length in 7, 16 or 64 bits, then the masking
// key and the masked payload.
std::string client_frame(Opcode opcode, std::string_view payload, FrameOptions options = {}) {
  constexpr std::array<std::uint8_t, 4> key = {0x37, 0xfa, 0x21, 0x3d};
  std::string frame;
  frame += static_cast<char>((options.fin ? 0x80 : 0) | (options.rsv << 4) | opcode);
  const char mask_bit = options.masked ? '\x80' : '\0';
  const std::uint64_t size = payload.size();
  if (size < 126) {
    frame += static_cast<char>(mask_bit | static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    frame += static_cast<char>(mask_bit | 126);
    for (int shift = 8; shift >= 0; shift -= 8) frame += static_cast<char>(size >> shift);
  } else {
    frame += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>(size >> shift);
  }
  if (!options.masked) return frame + std::string(payload);
  for (const std::uint8_t byte : key) frame += static_cast<char>(byte);
  for (std::size_t i = 0; i < payload.size(); ++i)
    frame += static_cast<char>(payload[i] ^ key[i % 4]);
  return frame;
}

// A close frame's payload: the code, big-endian, then the reason.
std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)} +
         std::string(reason);
}

// What the server sends for a close with that code and no reason.
std::string server_close(std::uint16_t code) { return "\x88\x02" + close_payload(code); }

std::string all_bytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

TEST(WebSocketChannel, ClientFrameMatchesTheRfcExample) {
  // RFC 6455 section 5.7: a single-frame masked text message, "Hello".
  EXPECT_EQ(client_frame(text, "Hello"), "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
}

TEST(WebSocketChannel, AMaskedTextFrameIsOneTextMessage) {
  WebSocketChannel channel;
  channel.receive("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
  const std::vector<Message> messages = channel.take_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].text);
  EXPECT_EQ(messages[0].data, "Hello");
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_TRUE(channel.pending_output().empty());
  EXPECT_FALSE(channel.closing());
  EXPECT_EQ(channel.close_code(), 0);
}

TEST(WebSocketChannel, ABinaryFrameIsOneBinaryMessage) {
  WebSocketChannel channel;
  channel.receive(client_frame(binary, all_bytes()));
  channel.receive(client_frame(binary, ""));
  const std::vector<Message> messages = channel.take_messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_FALSE(messages[0].text);
  EXPECT_EQ(messages[0].data, all_bytes());
  EXPECT_FALSE(messages[1].text);
  EXPECT_TRUE(messages[1].data.empty());
}

TEST(WebSocketChannel, MessagesSplitAnywhereAreTheSame) {
  const std::string big(300, 'x');  // a 16-bit length
  const std::string input = client_frame(text, "Hello, world") + client_frame(binary, big);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    WebSocketChannel channel;
    channel.receive(std::string_view(input).substr(0, split));
    channel.receive(std::string_view(input).substr(split));
    const std::vector<Message> messages = channel.take_messages();
    ASSERT_EQ(messages.size(), 2u) << split;
    EXPECT_EQ(messages[0].data, "Hello, world") << split;
    EXPECT_EQ(messages[1].data, big) << split;
  }
  WebSocketChannel bytewise;
  std::vector<Message> messages;
  for (const char byte : input) {
    bytewise.receive(std::string_view(&byte, 1));
    for (Message& message : bytewise.take_messages()) messages.push_back(std::move(message));
  }
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].data, "Hello, world");
  EXPECT_EQ(messages[1].data, big);
}

TEST(WebSocketChannel, FragmentsAreReassembled) {
  WebSocketChannel channel;
  // A ping may come between the fragments; its pong goes out at once.
  channel.receive(client_frame(text, "Hel", {.fin = false}) + client_frame(ping, "p") +
                  client_frame(continuation, "lo", {.fin = false}));
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_EQ(channel.pending_output(), "\x8a\x01p");
  channel.receive(client_frame(continuation, ", world"));
  const std::vector<Message> messages = channel.take_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].text);
  EXPECT_EQ(messages[0].data, "Hello, world");
}

TEST(WebSocketChannel, APingIsAnsweredWithItsPayload) {
  WebSocketChannel channel;
  channel.receive(client_frame(ping, "Hello"));
  EXPECT_EQ(channel.pending_output(), "\x8a\x05Hello");  // RFC 6455 section 5.7
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_FALSE(channel.closing());
  // A pong needs nothing.
  channel.receive(client_frame(pong, "x"));
  EXPECT_EQ(channel.pending_output(), "\x8a\x05Hello");
  EXPECT_TRUE(channel.take_messages().empty());
}

TEST(WebSocketChannel, AClientsCloseIsEchoed) {
  WebSocketChannel channel;
  channel.receive(client_frame(close, close_payload(1000, "bye")));
  EXPECT_EQ(channel.pending_output(),
            "\x88\x05\x03\xe8"
            "bye");
  EXPECT_TRUE(channel.closing());
  EXPECT_EQ(channel.close_code(), 1000);

  WebSocketChannel going_away;
  going_away.receive(client_frame(close, close_payload(1001)));
  EXPECT_EQ(going_away.pending_output(), server_close(1001));
  EXPECT_EQ(going_away.close_code(), 1001);
}

TEST(WebSocketChannel, ACloseSplitAnywhereCloses) {
  // wslay 1.1.1 checks the reason as UTF-8 piece by piece and skips the first two bytes of
  // every piece, not only the code's: split inside the reason, a valid close may get 1007.
  const std::string frame = client_frame(close, close_payload(1001, "d\xc3\xa9j\xc3\xa0"));
  for (std::size_t split = 0; split <= frame.size(); ++split) {
    WebSocketChannel channel;
    channel.receive(std::string_view(frame).substr(0, split));
    channel.receive(std::string_view(frame).substr(split));
    EXPECT_TRUE(channel.closing()) << split;
    if (channel.close_code() == 1001) {
      EXPECT_EQ(channel.pending_output(), "\x88\x08" + close_payload(1001, "d\xc3\xa9j\xc3\xa0"));
    } else {
      EXPECT_EQ(channel.close_code(), 1007) << split;
      EXPECT_EQ(channel.pending_output(), server_close(1007)) << split;
    }
  }
}

TEST(WebSocketChannel, ACloseWithoutACodeIsEchoedWithout) {
  WebSocketChannel channel;
  channel.receive(client_frame(close, ""));
  EXPECT_EQ(channel.pending_output(), std::string("\x88\x00", 2));
  EXPECT_TRUE(channel.closing());
  EXPECT_EQ(channel.close_code(), 1005);  // "no status received"
}

TEST(WebSocketChannel, NothingIsReadAfterAClose) {
  WebSocketChannel channel;
  channel.receive(client_frame(text, "a") + client_frame(close, close_payload(1000)) +
                  client_frame(text, "b"));
  const std::vector<Message> messages = channel.take_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].data, "a");
  channel.receive(client_frame(text, "c"));
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_EQ(channel.pending_output(), server_close(1000));
}

TEST(WebSocketChannel, SendTextWritesOneUnmaskedFrame) {
  WebSocketChannel channel;
  channel.send_text("Hello");
  EXPECT_EQ(channel.pending_output(), "\x81\x05Hello");  // RFC 6455 section 5.7
  EXPECT_EQ(channel.output_bytes(), 7u);
}

TEST(WebSocketChannel, SendBinaryUsesTheShortestLength) {
  struct Case {
    std::size_t size;
    std::string header;
  };
  const std::vector<Case> cases = {
      {0, std::string("\x82\x00", 2)},
      {125, "\x82\x7d"},
      {126, std::string("\x82\x7e\x00\x7e", 4)},
      {65535, "\x82\x7e\xff\xff"},
      {65536, std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10)},
      {70000, std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10)},
  };
  for (const Case& c : cases) {
    WebSocketChannel channel;
    const std::string payload(c.size, '\xa5');
    channel.send_binary(payload);
    EXPECT_EQ(channel.pending_output(), c.header + payload) << c.size;
    EXPECT_EQ(channel.output_bytes(), c.header.size() + c.size) << c.size;
  }
}

TEST(WebSocketChannel, OutputIsConsumedInPieces) {
  WebSocketChannel channel;
  channel.send_text("abc");
  channel.send_binary("de");
  EXPECT_EQ(channel.pending_output(),
            "\x81\x03"
            "abc"
            "\x82\x02"
            "de");
  EXPECT_EQ(channel.output_bytes(), 9u);
  channel.consume_output(3);
  EXPECT_EQ(channel.pending_output(),
            "bc\x82\x02"
            "de");
  EXPECT_EQ(channel.output_bytes(), 6u);
  channel.send_text("f");
  EXPECT_EQ(channel.pending_output(),
            "bc\x82\x02"
            "de\x81\x01"
            "f");
  EXPECT_EQ(channel.output_bytes(), 9u);
  channel.consume_output(100);
  EXPECT_TRUE(channel.pending_output().empty());
  EXPECT_EQ(channel.output_bytes(), 0u);
}

TEST(WebSocketChannel, AnUnmaskedClientFrameIsAProtocolError) {
  WebSocketChannel channel;
  channel.receive(client_frame(text, "Hello", {.masked = false}));
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_TRUE(channel.closing());
  EXPECT_EQ(channel.close_code(), 1002);
  EXPECT_EQ(channel.pending_output(), server_close(1002));
}

TEST(WebSocketChannel, MalformedFramesAreProtocolErrors) {
  const std::vector<std::string> inputs = {
      client_frame(Opcode{0x3}, "reserved opcode"),
      client_frame(text, "rsv", {.rsv = 0b100}),
      client_frame(continuation, "nothing to continue"),
      client_frame(text, "a", {.fin = false}) + client_frame(text, "b"),  // not a continuation
      client_frame(ping, std::string(126, 'p')),                          // control over 125
      client_frame(ping, "p", {.fin = false}),                            // fragmented control
      client_frame(close, close_payload(999)),                            // no such close code
      std::string("\x81\xfe\x00\x05"
                  "abcd",
                  8),  // 5 in a 16-bit length
  };
  for (const std::string& input : inputs) {
    WebSocketChannel channel;
    channel.receive(input);
    EXPECT_TRUE(channel.take_messages().empty()) << testing::PrintToString(input);
    EXPECT_TRUE(channel.closing()) << testing::PrintToString(input);
    EXPECT_EQ(channel.close_code(), 1002) << testing::PrintToString(input);
    EXPECT_EQ(channel.pending_output(), server_close(1002)) << testing::PrintToString(input);
  }
}

TEST(WebSocketChannel, AMessageOverTheLimitCloses1009) {
  WebSocketChannel at_limit(16);
  at_limit.receive(client_frame(binary, std::string(16, 'a')));
  ASSERT_EQ(at_limit.take_messages().size(), 1u);
  EXPECT_FALSE(at_limit.closing());

  WebSocketChannel over(16);
  over.receive(client_frame(binary, std::string(17, 'a')));
  EXPECT_TRUE(over.take_messages().empty());
  EXPECT_TRUE(over.closing());
  EXPECT_EQ(over.close_code(), 1009);
  EXPECT_EQ(over.pending_output(), server_close(1009));

  // The whole message counts, not each fragment.
  WebSocketChannel fragments(16);
  fragments.receive(client_frame(text, std::string(10, 'a'), {.fin = false}) +
                    client_frame(continuation, std::string(7, 'a')));
  EXPECT_TRUE(fragments.take_messages().empty());
  EXPECT_EQ(fragments.close_code(), 1009);

  // A length of 2^62 is refused at the frame's first payload byte, nothing allocated for it.
  WebSocketChannel huge;
  huge.receive(std::string_view("\x82\xff\x40\x00\x00\x00\x00\x00\x00\x00", 10));
  huge.receive("mask");
  EXPECT_FALSE(huge.closing());
  huge.receive("x");
  EXPECT_EQ(huge.close_code(), 1009);
}

TEST(WebSocketChannel, TextThatIsNotUtf8Closes1007) {
  for (const std::string bad : {"\xff", "a\xc3", "\xed\xa0\x80" /* a surrogate */}) {
    WebSocketChannel channel;
    channel.receive(client_frame(text, bad));
    EXPECT_TRUE(channel.take_messages().empty());
    EXPECT_TRUE(channel.closing());
    EXPECT_EQ(channel.close_code(), 1007);
    EXPECT_EQ(channel.pending_output(), server_close(1007));
  }
  // A character split between fragments is fine, and binary is not checked.
  WebSocketChannel channel;
  channel.receive(client_frame(text, "\xc3", {.fin = false}) + client_frame(continuation, "\xa9") +
                  client_frame(binary, "\xff"));
  const std::vector<Message> messages = channel.take_messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].data, "\xc3\xa9");
  EXPECT_EQ(messages[1].data, "\xff");
  EXPECT_FALSE(channel.closing());
}

TEST(WebSocketChannel, CloseEndsTheChannel) {
  WebSocketChannel channel;
  channel.send_text("last");
  channel.close(1000, "bye");
  const std::string expected = std::string(
                                   "\x81\x04"
                                   "last") +
                               "\x88\x05\x03\xe8"
                               "bye";
  EXPECT_EQ(channel.pending_output(), expected);
  EXPECT_TRUE(channel.closing());
  EXPECT_EQ(channel.close_code(), 1000);
  // Ignored from now on.
  channel.send_text("more");
  channel.send_binary("more");
  channel.close(1001, "again");
  channel.receive(client_frame(text, "late") + client_frame(ping, "p"));
  EXPECT_EQ(channel.pending_output(), expected);
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_EQ(channel.close_code(), 1000);
}

TEST(WebSocketChannel, ALongCloseReasonIsCutBetweenCharacters) {
  WebSocketChannel channel;
  // 122 bytes, then a 2-byte character that would end past the 123 allowed.
  channel.close(1011, std::string(122, 'r') + "\xc3\xa9");
  EXPECT_EQ(channel.pending_output(), "\x88\x7c\x03\xf3" + std::string(122, 'r'));
}

TEST(WebSocketChannel, NothingHappensAfterAProtocolError) {
  WebSocketChannel channel;
  channel.receive(client_frame(text, "x", {.masked = false}));
  ASSERT_TRUE(channel.closing());
  channel.consume_output(channel.output_bytes());
  channel.send_text("ignored");
  channel.close(1000, "");
  channel.receive(client_frame(text, "ignored"));
  EXPECT_TRUE(channel.take_messages().empty());
  EXPECT_TRUE(channel.pending_output().empty());
  EXPECT_EQ(channel.output_bytes(), 0u);
  EXPECT_EQ(channel.close_code(), 1002);
}

}  // namespace
}  // namespace ttynet::http
