#include "ttynet/esp/slip.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "ttynet/esp/error.hpp"

namespace ttynet::esp::slip {
namespace {

using Bytes = std::vector<Byte>;

// An event with its bytes copied, so runs of events can be compared after the views die.
struct Seen {
  enum Kind { frame, noise, error } kind;
  Bytes bytes;
  std::error_code code;
  friend bool operator==(const Seen&, const Seen&) = default;
};

// Decodes `parts` in order; consecutive noise runs are merged, since where the input is
// split decides where a noise run is cut.
std::vector<Seen> decode(const std::vector<ByteView>& parts, Limits limits = {}) {
  Decoder decoder(limits);
  std::vector<Seen> seen;
  for (const ByteView part : parts) {
    decoder.receive(part);
    while (auto event = decoder.next_event()) {
      if (const auto* f = std::get_if<FrameReceived>(&*event)) {
        seen.push_back({Seen::frame, Bytes(f->payload.begin(), f->payload.end()), {}});
      } else if (const auto* n = std::get_if<NoiseReceived>(&*event)) {
        EXPECT_FALSE(n->bytes.empty());
        if (!seen.empty() && seen.back().kind == Seen::noise) {
          seen.back().bytes.insert(seen.back().bytes.end(), n->bytes.begin(), n->bytes.end());
        } else {
          seen.push_back({Seen::noise, Bytes(n->bytes.begin(), n->bytes.end()), {}});
        }
      } else {
        seen.push_back({Seen::error, {}, std::get<FrameError>(*event).error});
      }
    }
  }
  return seen;
}

// Whole, split in two at every offset, and byte by byte: all must agree.
std::vector<Seen> decode_everywhere(ByteView input, Limits limits = {}) {
  const std::vector<Seen> whole = decode({input}, limits);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    EXPECT_EQ(decode({input.first(split), input.subspan(split)}, limits), whole)
        << "split at " << split;
  }
  std::vector<ByteView> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) {
    bytes.push_back(input.subspan(i, 1));
  }
  EXPECT_EQ(decode(bytes, limits), whole) << "byte by byte";
  return whole;
}

Seen frame(Bytes bytes) { return {Seen::frame, std::move(bytes), {}}; }
Seen noise(std::string_view text) {
  const ByteView b = as_bytes(text);
  return {Seen::noise, Bytes(b.begin(), b.end()), {}};
}
Seen failure(errc e) { return {Seen::error, {}, make_error_code(e)}; }

TEST(SlipEncoder, FramesAndEscapesEndAndEsc) {
  // C0 -> DB DC, DB -> DB DD, all between two ENDs.
  EXPECT_EQ(encode_frame(Bytes{0x01, 0xC0, 0x02, 0xDB, 0x03}),
            (Bytes{0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0}));
  EXPECT_EQ(encode_frame(Bytes{}), (Bytes{0xC0, 0xC0}));
  EXPECT_EQ(encode_frame(Bytes{0xDB, 0xC0}), (Bytes{0xC0, 0xDB, 0xDD, 0xDB, 0xDC, 0xC0}));
}

TEST(SlipEncoder, AppendsToExistingOutput) {
  Bytes out{0x55};
  append_frame(out, Bytes{0x01});
  append_frame(out, Bytes{0x02});
  EXPECT_EQ(out, (Bytes{0x55, 0xC0, 0x01, 0xC0, 0xC0, 0x02, 0xC0}));
}

TEST(SlipDecoder, RoundTripsEveryByteValue) {
  Bytes payload;
  for (int i = 0; i < 256; ++i) {
    payload.push_back(static_cast<Byte>(i));
  }
  const Bytes wire = encode_frame(payload);
  EXPECT_EQ(decode_everywhere(wire), std::vector<Seen>{frame(payload)});
}

TEST(SlipDecoder, DecodesBackToBackFramesSplitAnywhere) {
  Bytes wire = encode_frame(Bytes{0x01, 0xC0});
  append_frame(wire, Bytes{0xDB, 0x02});
  append_frame(wire, Bytes{0x03});
  EXPECT_EQ(decode_everywhere(wire),
            (std::vector<Seen>{frame({0x01, 0xC0}), frame({0xDB, 0x02}), frame({0x03})}));
}

TEST(SlipDecoder, PassesBootLogAroundFramesOnAsNoise) {
  const std::string log = "ets Jul 29 2019 12:21:46\r\n\r\nwaiting for download\r\n";
  Bytes wire(as_bytes(log).begin(), as_bytes(log).end());
  append_frame(wire, Bytes{0x01, 0x08});
  const std::string tail = "I (31) boot: hello\r\n";
  wire.insert(wire.end(), tail.begin(), tail.end());
  EXPECT_EQ(decode_everywhere(wire),
            (std::vector<Seen>{noise(log), frame({0x01, 0x08}), noise(tail)}));
}

TEST(SlipDecoder, NeverReportsEmptyFrames) {
  // END END: the second END opens the frame rather than closing an empty one.
  EXPECT_EQ(decode_everywhere(Bytes{0xC0, 0xC0, 0xC0, 0x07, 0xC0}),
            std::vector<Seen>{frame({0x07})});
  EXPECT_TRUE(decode_everywhere(Bytes{0xC0, 0xC0}).empty());
}

TEST(SlipDecoder, RealignsAfterStartingInsideAFrame) {
  // The decoder joined mid-frame: a stray END, then well-formed frames.
  Bytes wire{0x11, 0x22, 0xC0};
  append_frame(wire, Bytes{0x01});
  append_frame(wire, Bytes{0x02});
  const auto seen = decode_everywhere(wire);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], noise("\x11\x22"));
  EXPECT_EQ(seen[1], frame({0x01}));
  EXPECT_EQ(seen[2], frame({0x02}));
}

TEST(SlipDecoder, DropsAFrameWithAnInvalidEscapeAndGoesOn) {
  Bytes wire{0xC0, 0x01, 0xDB, 0x05, 0x02, 0xC0};
  append_frame(wire, Bytes{0x03});
  EXPECT_EQ(decode_everywhere(wire),
            (std::vector<Seen>{failure(errc::slip_invalid_escape), frame({0x03})}));
}

TEST(SlipDecoder, AnEndAfterEscEndsTheBadFrame) {
  Bytes wire{0xC0, 0x01, 0xDB, 0xC0};
  append_frame(wire, Bytes{0x03});
  EXPECT_EQ(decode_everywhere(wire),
            (std::vector<Seen>{failure(errc::slip_invalid_escape), frame({0x03})}));
}

TEST(SlipDecoder, AcceptsAFrameAtTheLimit) {
  const Limits limits{16};
  const Bytes payload(16, 0x42);
  EXPECT_EQ(decode_everywhere(encode_frame(payload), limits), std::vector<Seen>{frame(payload)});
  // The limit counts unescaped bytes: 16 escaped bytes are 32 on the wire and still fit.
  const Bytes escaped(16, 0xC0);
  EXPECT_EQ(decode_everywhere(encode_frame(escaped), limits), std::vector<Seen>{frame(escaped)});
}

TEST(SlipDecoder, DropsAFrameOnePastTheLimitOnce) {
  const Limits limits{16};
  Bytes wire = encode_frame(Bytes(17, 0x42));
  append_frame(wire, Bytes{0x01});
  EXPECT_EQ(decode_everywhere(wire, limits),
            (std::vector<Seen>{failure(errc::slip_frame_too_long), frame({0x01})}));
  // ... also when the byte past the limit is an escaped one.
  Bytes escaped = encode_frame(Bytes(17, 0xDB));
  append_frame(escaped, Bytes{0x02});
  EXPECT_EQ(decode_everywhere(escaped, limits),
            (std::vector<Seen>{failure(errc::slip_frame_too_long), frame({0x02})}));
}

TEST(SlipDecoder, KeepsAPartialFrameAcrossReceivesAndForgetsItOnReset) {
  Decoder decoder;
  const Bytes first{0xC0, 0x01, 0x02};
  decoder.receive(first);
  EXPECT_FALSE(decoder.next_event());
  EXPECT_TRUE(decoder.is_in_frame());
  decoder.reset();
  EXPECT_FALSE(decoder.is_in_frame());
  const Bytes rest{0x03, 0xC0};
  decoder.receive(rest);
  // After the reset 03 is noise and the END opens a frame instead of closing one.
  const auto event = decoder.next_event();
  ASSERT_TRUE(event);
  EXPECT_TRUE(std::holds_alternative<NoiseReceived>(*event));
  EXPECT_FALSE(decoder.next_event());
  EXPECT_TRUE(decoder.is_in_frame());
}

}  // namespace
}  // namespace ttynet::esp::slip
