// A server's WebSocket channel (http/websocket_channel.cpp) receiving arbitrary bytes from a
// client, in pieces whose sizes the input chooses, while the server sends, writes part of its
// output and sometimes closes. First byte: bits 0-1 pick the message limit, and the whole
// byte seeds the choices.
//
// Invariants: no message is over the limit; output_bytes() is what pending_output() holds; a
// send adds exactly one unmasked frame, and nothing once closing; consuming takes what it
// says; closing() stays, and a close code is there exactly when closing. What is received
// does not depend on the split or on the sends: a channel given everything at once gets the
// same messages and close code, and when nothing was sent or closed, the same output (with a
// close, not always: a pong still queued when a close is queued is dropped). One exception
// for the code: wslay 1.1.1 checks a close frame's reason as UTF-8 piece by piece, skipping
// the first two bytes of each piece as if they were the code, so a close frame split
// differently may get 1007 instead of its echo (or of 1002, or before its end), or the other
// way round.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "ttynet/http/websocket_channel.hpp"

namespace {

using ttynet::fuzz::check;
using ttynet::http::WebSocketChannel;

constexpr std::array<std::size_t, 4> message_limits = {0, 16, 125, 4096};

std::size_t frame_header_size(std::size_t payload) {
  if (payload < 126) return 2;
  return payload <= 0xFFFF ? 4 : 10;
}

bool same(std::span<const WebSocketChannel::Message> a,
          std::span<const WebSocketChannel::Message> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.text == y.text && x.data == y.data;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t limit = message_limits[data[0] & 3];
  ttynet::fuzz::Choices choices(data[0]);
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);

  WebSocketChannel channel(limit);
  std::vector<WebSocketChannel::Message> messages;
  std::string written;  // the output consumed, in order
  bool sent = false;
  bool closed_here = false;
  std::string_view input = all;
  while (!input.empty()) {
    const std::size_t piece =
        choices.next(8) == 0 ? 0 : 1 + choices.next(static_cast<std::uint32_t>(input.size()));
    const bool was_closing = channel.closing();
    channel.receive(input.substr(0, piece));
    input.remove_prefix(piece);
    std::vector<WebSocketChannel::Message> received = channel.take_messages();
    check(channel.take_messages().empty());
    if (was_closing) check(received.empty() && channel.closing());
    for (auto& message : received) {
      check(message.data.size() <= limit);
      messages.push_back(std::move(message));
    }
    check(channel.closing() == (channel.close_code() != 0));
    check(channel.output_bytes() == channel.pending_output().size());

    const std::size_t before = channel.output_bytes();
    switch (choices.next(8)) {
      case 0:
      case 1: {
        // A slice of what is left to receive, as text or binary (the server's text is not
        // checked for UTF-8).
        const std::string_view payload = input.substr(0, choices.next(300));
        if (choices.next(2) == 0) {
          channel.send_text(payload);
        } else {
          channel.send_binary(payload);
        }
        const std::size_t frame = frame_header_size(payload.size()) + payload.size();
        check(channel.output_bytes() == before + (channel.closing() ? 0 : frame));
        sent = sent || !channel.closing();
        break;
      }
      case 2: {
        const std::size_t count = choices.next(static_cast<std::uint32_t>(before + 2));
        written += channel.pending_output().substr(0, count);
        channel.consume_output(count);
        check(channel.output_bytes() == before - std::min(count, before));
        break;
      }
      case 3:
        if (choices.next(4) == 0) {
          const bool was = channel.closing();
          channel.close(1000, input.substr(0, choices.next(200)));
          closed_here = closed_here || !was;
          check(channel.closing() && channel.close_code() != 0);
          if (was) check(channel.output_bytes() == before);
        }
        break;
      default:
        break;
    }
  }
  written += channel.pending_output();

  WebSocketChannel at_once(limit);
  at_once.receive(all);
  const std::vector<WebSocketChannel::Message> expected = at_once.take_messages();
  for (const auto& message : expected) check(message.data.size() <= limit);
  if (closed_here) {
    // Closing stopped the reading: what was read is a beginning of what there was to read.
    check(messages.size() <= expected.size());
    check(same(messages, std::span(expected).first(messages.size())));
  } else {
    check(same(messages, expected));
    check(channel.close_code() == at_once.close_code() || channel.close_code() == 1007 ||
          at_once.close_code() == 1007);
    if (!sent && !channel.closing() && !at_once.closing()) {
      check(written == at_once.pending_output());
    }
  }
  return 0;
}
