#include "ttynet/esp/efuse.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ttynet::esp {
namespace {

const ChipInfo& chip(std::string_view name) { return **find_chip(name); }

std::vector<std::uint32_t> values_of(const std::vector<RegisterWord>& words) {
  std::vector<std::uint32_t> values;
  for (const RegisterWord& word : words) values.push_back(word.value);
  return values;
}

TEST(Efuse, Esp32FieldsSurviveEncodeAndDecode) {
  for (std::uint8_t major = 0; major <= 3; ++major) {
    const EfuseFields fields{.revision = {major, 2},
                             .package = 5,
                             .single_core = true,
                             .bt_disabled = true,
                             .cpu_rated = true,
                             .cpu_160mhz = true,
                             .blk3_partially_reserved = true,
                             .vref = 0x1F,
                             .ck8m = 0xAB,
                             .coding_scheme = 1};
    EXPECT_EQ(decode_efuses(chip("esp32"), values_of(encode_efuses(chip("esp32"), fields))), fields)
        << "major " << int{major};
  }
}

TEST(Efuse, BlockOneFieldsSurviveEncodeAndDecode) {
  for (const char* name : {"esp32c3", "esp32s3"}) {
    const EfuseFields fields{.revision = {1, 9}, .package = 3, .flash_cap = 4, .psram_cap = 2};
    EXPECT_EQ(decode_efuses(chip(name), values_of(encode_efuses(chip(name), fields))), fields)
        << name;
  }
}

// Bit positions as esptool's targets/esp32.py reads them, written out independently.
TEST(Efuse, Esp32RevisionThreeIsSpreadOverThreeRegisters) {
  const auto words = encode_efuses(chip("esp32"), {.revision = {3, 1}, .package = 1});
  ASSERT_EQ(words.size(), 5u);
  EXPECT_EQ(words[0].address, 0x3FF5A00Cu);        // EFUSE_BLK0_RDATA3
  EXPECT_EQ(words[0].value, 1u << 15 | 1u << 9);   // revision bit 0, package D0WD
  EXPECT_EQ(words[2].value, 1u << 20 | 1u << 24);  // revision bit 1, minor 1
  EXPECT_EQ(words[4].address, esp32_apb_ctl_date);
  EXPECT_EQ(words[4].value, 1u << 31);  // revision bit 2
}

TEST(Efuse, BlockOneMinorRevisionHasItsHighBitInWordFive) {
  const auto words = encode_efuses(chip("esp32c3"), {.revision = {0, 0b1011}});
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].value, 0b011u << 18);
  EXPECT_EQ(words[2].value, 1u << 23);
}

TEST(Efuse, MissingWordsReadAsZero) {
  const EfuseFields fields = decode_efuses(chip("esp32"), {});
  EXPECT_EQ(fields, EfuseFields{});
}

}  // namespace
}  // namespace ttynet::esp
