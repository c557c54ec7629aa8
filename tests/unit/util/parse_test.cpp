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

TEST(ParseByteSizeTest, TakesPlainNumbersAndBinaryUnits) {
  EXPECT_EQ(parse_byte_size("0"), 0U);
  EXPECT_EQ(parse_byte_size("65536"), 65536U);
  EXPECT_EQ(parse_byte_size("64KiB"), 65536U);
  EXPECT_EQ(parse_byte_size("64K"), 65536U);
  EXPECT_EQ(parse_byte_size("1MiB"), 1048576U);
  EXPECT_EQ(parse_byte_size("2M"), 2097152U);
}

TEST(ParseByteSizeTest, RefusesWhatIsNotASize) {
  for (const char* text : {"", "KiB", "64 KiB", "64kb", "-1", "1.5MiB", "64KiBx", "x64"}) {
    EXPECT_FALSE(parse_byte_size(text).has_value()) << text;
  }
  EXPECT_FALSE(parse_byte_size("18446744073709551615K").has_value());
}

}  // namespace
}  // namespace ttynet
