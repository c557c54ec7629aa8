#include "ttynet/term/output_formatter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ttynet::term {
namespace {

using std::chrono::milliseconds;

// 12:34:56.789
constexpr milliseconds noon_ish{((12 * 60 + 34) * 60 + 56) * 1000 + 789};

std::string text(ByteView view) { return std::string(as_chars(view)); }

std::string format(OutputFormatter& formatter, std::string_view data, milliseconds at = noon_ish) {
  return text(formatter.format(as_bytes(data), at));
}

// Feeds `data` split at every offset (and byte by byte), all at time `at`, and checks the
// concatenated text equals what one call gives.
void expect_split_independent(OutputFormatter prototype, std::string_view data) {
  OutputFormatter whole = prototype;
  std::string expected = format(whole, data);
  expected += text(whole.end_line());
  for (std::size_t split = 0; split <= data.size(); ++split) {
    OutputFormatter formatter = prototype;
    std::string got = format(formatter, data.substr(0, split));
    got += format(formatter, data.substr(split));
    got += text(formatter.end_line());
    EXPECT_EQ(got, expected) << "split at " << split;
  }
  OutputFormatter formatter = prototype;
  std::string got;
  for (const char c : data) got += format(formatter, std::string_view(&c, 1));
  got += text(formatter.end_line());
  EXPECT_EQ(got, expected) << "byte by byte";
}

TEST(TermOutputFormatter, PlainViewPassesEveryByteUntouchedWithoutCopying) {
  OutputFormatter formatter;
  std::vector<Byte> data;
  for (int b = 0; b < 256; ++b) data.push_back(static_cast<Byte>(b));
  const ByteView out = formatter.format(data, noon_ish);
  EXPECT_EQ(out.data(), data.data());
  EXPECT_EQ(out.size(), data.size());
}

TEST(TermOutputFormatter, TimestampFormat) {
  EXPECT_EQ(format_timestamp(noon_ish), "[12:34:56.789] ");
  EXPECT_EQ(format_timestamp(milliseconds(0)), "[00:00:00.000] ");
  EXPECT_EQ(format_timestamp(milliseconds(24 * 3600 * 1000 - 1)), "[23:59:59.999] ");
  EXPECT_EQ(format_timestamp(milliseconds(-5)), "[00:00:00.000] ");
}

TEST(TermOutputFormatter, TimestampsStartEveryLine) {
  OutputFormatter formatter;
  formatter.set_timestamps(true);
  EXPECT_EQ(format(formatter, "one\r\ntwo\r\n"), "[12:34:56.789] one\r\n[12:34:56.789] two\r\n");
  EXPECT_TRUE(formatter.is_at_line_start());
}

TEST(TermOutputFormatter, TimestampOfALineIsWhenItsFirstByteCame) {
  OutputFormatter formatter;
  formatter.set_timestamps(true);
  EXPECT_EQ(format(formatter, "ab", milliseconds(1000)), "[00:00:01.000] ab");
  EXPECT_EQ(format(formatter, "c\n", milliseconds(2000)), "c\n");
  EXPECT_EQ(format(formatter, "", milliseconds(3000)), "");
  EXPECT_EQ(format(formatter, "d", milliseconds(4000)), "[00:00:04.000] d");
}

TEST(TermOutputFormatter, TimestampsAreIndependentOfChunking) {
  OutputFormatter formatter;
  formatter.set_timestamps(true);
  expect_split_independent(formatter, "boot\r\nline two\n\nlast without end");
}

TEST(TermOutputFormatter, HexViewShowsSixteenBytesALineWithAsciiColumn) {
  OutputFormatter formatter;
  EXPECT_TRUE(formatter.set_hex_view(true).empty());
  EXPECT_EQ(format(formatter, "0123456789ABCDEF\r\n"),
            "30 31 32 33 34 35 36 37 38 39 41 42 43 44 45 46 |0123456789ABCDEF|\r\n"
            "0d 0a ");
  EXPECT_FALSE(formatter.is_at_line_start());
  EXPECT_EQ(text(formatter.end_line()), "                                          |..|\r\n");
  EXPECT_TRUE(formatter.is_at_line_start());
  EXPECT_TRUE(formatter.end_line().empty());
}

TEST(TermOutputFormatter, HexViewShowsNonPrintableBytesAsDots) {
  OutputFormatter formatter;
  formatter.set_hex_view(true);
  const std::vector<Byte> data = {0x00, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF};
  EXPECT_EQ(text(formatter.format(data, noon_ish)), "00 1f 20 7e 7f 80 ff ");
  EXPECT_EQ(text(formatter.end_line()), std::string(9 * 3, ' ') + "|.. ~...|\r\n");
}

TEST(TermOutputFormatter, HexViewWithTimestampsStampsEachLine) {
  OutputFormatter formatter;
  formatter.set_hex_view(true);
  formatter.set_timestamps(true);
  EXPECT_EQ(format(formatter, "abcdefghijklmnopq", milliseconds(1)),
            "[00:00:00.001] 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 |abcdefghijklmnop|\r\n"
            "[00:00:00.001] 71 ");
  EXPECT_EQ(format(formatter, "r", milliseconds(2)), "72 ");
}

TEST(TermOutputFormatter, HexViewIsIndependentOfChunking) {
  OutputFormatter formatter;
  formatter.set_hex_view(true);
  std::string data;
  for (int b = 0; b < 40; ++b) data += static_cast<char>(b * 7);
  expect_split_independent(formatter, data);
  formatter.set_timestamps(true);
  expect_split_independent(formatter, data);
}

TEST(TermOutputFormatter, SwitchingViewsEndsThePartialLine) {
  OutputFormatter formatter;
  EXPECT_EQ(format(formatter, "partial"), "partial");
  EXPECT_EQ(text(formatter.set_hex_view(true)), "\r\n");
  EXPECT_EQ(format(formatter, "AB"), "41 42 ");
  EXPECT_EQ(text(formatter.set_hex_view(false)), std::string(14 * 3, ' ') + "|AB|\r\n");
  EXPECT_TRUE(formatter.is_at_line_start());
  EXPECT_TRUE(formatter.set_hex_view(false).empty());  // no change, nothing to end
}

TEST(TermOutputFormatter, EndLineInPlainViewOnlyWhenMidLine) {
  OutputFormatter formatter("\n");
  EXPECT_TRUE(formatter.end_line().empty());
  format(formatter, "x");
  EXPECT_EQ(text(formatter.end_line()), "\n");
  format(formatter, "y\n");
  EXPECT_TRUE(formatter.end_line().empty());
}

TEST(TermOutputFormatter, EndLineStartsANewTimestampedLine) {
  OutputFormatter formatter;
  formatter.set_timestamps(true);
  EXPECT_EQ(format(formatter, "a", milliseconds(0)), "[00:00:00.000] a");
  formatter.end_line();
  EXPECT_EQ(format(formatter, "b", milliseconds(1)), "[00:00:00.001] b");
}

}  // namespace
}  // namespace ttynet::term
