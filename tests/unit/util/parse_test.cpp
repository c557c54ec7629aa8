#include "ttynet/util/parse.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace ttynet {
namespace {

TEST(ParseWhole, TakesOnlyTextThatIsAllNumber) {
  EXPECT_EQ(parse_whole<std::int64_t>("-12"), -12);
  EXPECT_EQ(parse_whole<std::uint16_t>("10c4", 16), 0x10C4);
  EXPECT_EQ(parse_whole<std::uint8_t>("ff", 16), 0xFF);
  EXPECT_EQ(parse_whole<std::int64_t>(""), std::nullopt);
  EXPECT_EQ(parse_whole<std::int64_t>("12 "), std::nullopt);
  EXPECT_EQ(parse_whole<std::int64_t>("0x10"), std::nullopt);
  EXPECT_EQ(parse_whole<std::uint8_t>("100", 16), std::nullopt);  // out of range
  EXPECT_EQ(parse_whole<std::uint16_t>("-1"), std::nullopt);
}

}  // namespace
}  // namespace ttynet
