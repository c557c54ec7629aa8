#include "ttynet/server/scrollback.hpp"

#include <gtest/gtest.h>

#include <random>

namespace ttynet::server {
namespace {

ByteBuffer bytes_of(std::string_view text) {
  const ByteView view = as_bytes(text);
  return {view.begin(), view.end()};
}

TEST(ScrollbackTest, GivesTheLastBytesOldestFirst) {
  Scrollback kept(8);
  kept.append(as_bytes("abc"));
  EXPECT_EQ(kept.last(100), bytes_of("abc"));
  EXPECT_EQ(kept.last(2), bytes_of("bc"));
  kept.append(as_bytes("defghij"));  // wraps: "ab" dropped
  EXPECT_EQ(kept.size(), 8U);
  EXPECT_EQ(kept.last(8), bytes_of("cdefghij"));
  EXPECT_EQ(kept.last(3), bytes_of("hij"));
  EXPECT_EQ(kept.last(0), ByteBuffer{});
}

TEST(ScrollbackTest, AChunkLargerThanTheCapacityLeavesItsTail) {
  Scrollback kept(4);
  kept.append(as_bytes("xy"));
  kept.append(as_bytes("0123456789"));
  EXPECT_EQ(kept.last(4), bytes_of("6789"));
  kept.append(as_bytes("ab"));
  EXPECT_EQ(kept.last(4), bytes_of("89ab"));
}

TEST(ScrollbackTest, ZeroCapacityKeepsNothing) {
  Scrollback kept(0);
  kept.append(as_bytes("abc"));
  EXPECT_EQ(kept.size(), 0U);
  EXPECT_EQ(kept.last(10), ByteBuffer{});
}

// Against a plain model: whatever the chunk sizes, the kept bytes are the output's tail and
// storage never exceeds the capacity.
TEST(ScrollbackTest, AgreesWithTheTailOfEverythingAppended) {
  std::mt19937 random(7);
  for (const std::size_t capacity : {1U, 5U, 64U, 1000U}) {
    Scrollback kept(capacity);
    ByteBuffer all;
    for (int round = 0; round < 300; ++round) {
      ByteBuffer chunk(random() % (2 * capacity + 3));
      for (auto& byte : chunk) byte = static_cast<Byte>(random());
      kept.append(chunk);
      all.insert(all.end(), chunk.begin(), chunk.end());
      ASSERT_LE(kept.size(), capacity);
      const std::size_t n = random() % (capacity + 2);
      const std::size_t expected = std::min({n, all.size(), capacity});
      ASSERT_EQ(kept.last(n),
                ByteBuffer(all.end() - static_cast<std::ptrdiff_t>(expected), all.end()))
          << "capacity " << capacity << " round " << round;
    }
  }
}

}  // namespace
}  // namespace ttynet::server
