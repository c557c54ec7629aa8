#include "ttynet/esp/inflate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "esp_test_support.hpp"
#include "ttynet/esp/error.hpp"

namespace ttynet::esp {
namespace {

using test::Bytes;

// Inflates `stream` fed in `chunk`-byte pieces through a small output buffer.
Result<Bytes> inflate_all(Inflater& inflater, ByteView stream, std::size_t chunk) {
  Bytes out;
  std::array<Byte, 100> buffer{};
  while (!inflater.is_finished()) {
    const ByteView piece = stream.first(std::min(chunk, stream.size()));
    auto step = inflater.inflate(piece, buffer);
    if (!step) {
      return step.error();
    }
    out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<long>(step->produced));
    stream = stream.subspan(step->consumed);
    if (stream.empty() && step->produced < buffer.size() && !step->finished) {
      break;  // ran out of input
    }
  }
  return out;
}

TEST(Inflate, InflatesAZlibStreamSplitAnywhere) {
  const Bytes data = test::pattern(5000);
  const Bytes stream = test::compress(data);
  for (const std::size_t chunk :
       {std::size_t{1}, std::size_t{7}, std::size_t{1024}, stream.size()}) {
    Inflater inflater;
    const auto out = inflate_all(inflater, stream, chunk);
    ASSERT_TRUE(out) << chunk;
    EXPECT_EQ(*out, data) << chunk;
    EXPECT_TRUE(inflater.is_finished());
  }
}

TEST(Inflate, StopsAtTheEndOfTheStream) {
  const Bytes stream = test::compress(test::pattern(10));
  const Bytes with_tail = test::concat(stream, Bytes{1, 2, 3});
  Inflater inflater;
  std::array<Byte, 64> buffer{};
  const auto step = inflater.inflate(with_tail, buffer);
  ASSERT_TRUE(step);
  EXPECT_TRUE(step->finished);
  EXPECT_EQ(step->consumed, stream.size());
  EXPECT_EQ(step->produced, 10u);
  const auto after = inflater.inflate(Bytes{1, 2, 3}, buffer);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->consumed, 0u);
}

TEST(Inflate, ReportsCorruptStreamsAndBadChecksums) {
  Inflater inflater;
  EXPECT_EQ(inflate_all(inflater, Bytes{0x78, 0xDA, 0xFF, 0xFF, 0xFF}, 5).error(),
            errc::inflate_failed);
  // Still failed until reset.
  std::array<Byte, 8> buffer{};
  EXPECT_EQ(inflater.inflate(Bytes{0}, buffer).error(), errc::inflate_failed);

  inflater.reset();
  Bytes stream = test::compress(test::pattern(100));
  stream.back() ^= 0x01;  // Adler-32 is the last four bytes
  EXPECT_EQ(inflate_all(inflater, stream, stream.size()).error(), errc::inflate_checksum_failed);

  inflater.reset();
  const Bytes good = test::pattern(100);
  EXPECT_EQ(*inflate_all(inflater, test::compress(good), 3), good);
}

}  // namespace
}  // namespace ttynet::esp
