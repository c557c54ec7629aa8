// The guards around toml::parse: non-ASCII text is refused exactly where toml++ 3.3 would trip
// on it (outside strings and comments, right after a line-ending backslash) and nowhere else,
// so the lexer must follow TOML's strings, escapes and delimiters to the character.

#include "ttynet/server/toml_guard.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ttynet::server {
namespace {

// "LINE:COLUMN: description", or "" when the text is accepted.
std::string refusal(std::string_view text) {
  const auto error = find_non_ascii_outside_strings(text);
  if (!error) return "";
  return std::to_string(error->line) + ":" + std::to_string(error->column) + ": " +
         error->description;
}

constexpr std::string_view outside = "non-ASCII character outside a string or comment";
constexpr std::string_view after_backslash =
    "non-ASCII character right after a line-ending backslash";

std::string at(std::string_view position, std::string_view description) {
  return std::string(position) + ": " + std::string(description);
}

TEST(TomlGuardLexer, AcceptsNonAsciiInStringsAndComments) {
  EXPECT_EQ(refusal("# caf\u00e9\n"), "");
  EXPECT_EQ(refusal("a = \"caf\u00e9\"\n"), "");
  EXPECT_EQ(refusal("a = 'caf\u00e9'\n"), "");
  EXPECT_EQ(refusal("a = \"\"\"\ncaf\u00e9\n\"\"\"\n"), "");
  EXPECT_EQ(refusal("a = '''\ncaf\u00e9\n'''\n"), "");
  EXPECT_EQ(refusal("\"k\u00e9y\" = 1\n"), "");
}

TEST(TomlGuardLexer, RefusesNonAsciiOutside) {
  EXPECT_EQ(refusal("a = 1 \u00e9\n"), at("1:7", outside));
  EXPECT_EQ(refusal("name\u033a = 1\n"), at("1:5", outside));
  EXPECT_EQ(refusal("a = \"x\" \u00e9"), at("1:9", outside));
  EXPECT_EQ(refusal("# x\n\u00e9"), at("2:1", outside));      // a comment ends with its line
  EXPECT_EQ(refusal("a = \"x\n\u00e9"), at("2:1", outside));  // so does an unclosed string
}

TEST(TomlGuardLexer, FollowsEscapesInBasicStringsOnly) {
  EXPECT_EQ(refusal("a = \"\\\"\u00e9\""), "");                    // \" does not close
  EXPECT_EQ(refusal("a = \"\\\\\" \u00e9"), at("1:10", outside));  // \\ then the close
  EXPECT_EQ(refusal("a = 'x\\' \u00e9"), at("1:10", outside));     // no escapes in '...'
  EXPECT_EQ(refusal("a = \"\"\"\\\"\"\"\u00e9\"\"\""), "");        // \""" is not a close
}

TEST(TomlGuardLexer, MultiLineStringsCloseAfterTheirLastQuote) {
  // Up to two quotes of the content may stand before the closing three.
  EXPECT_EQ(refusal("a = \"\"\"x\"\"\"\"\u00e9"), at("1:13", outside));
  EXPECT_EQ(refusal("a = '''x''''' \u00e9"), at("1:15", outside));
  EXPECT_EQ(refusal("a = \"\"\"\n\u00e9\n\"\"\" \u00e9"), at("3:5", outside));
}

TEST(TomlGuardLexer, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(refusal("\"\u00e9\u00e9\" = 1 \u00fc"), at("1:10", outside));
}

TEST(TomlGuardLexer, RefusesNonAsciiRightAfterALineEndingBackslash) {
  EXPECT_EQ(refusal("a = \"\"\"x\\\n  \u00e9\"\"\""), at("2:3", after_backslash));
  // The trimmed whitespace may hold blanks, CRLF and empty lines.
  EXPECT_EQ(refusal("a = \"\"\"x\\ \t\r\n\n \u00e9\"\"\""), at("3:2", after_backslash));
  // Once the string's text resumes, non-ASCII is content again.
  EXPECT_EQ(refusal("a = \"\"\"x\\\n  y\u00e9\"\"\""), "");
  // An escaped backslash before the line break is no line-ending backslash.
  EXPECT_EQ(refusal("a = \"\"\"x\\\\\n\u00e9\"\"\""), "");
}

TEST(TomlGuardParse, ReadsNonAsciiStrings) {
  auto root = parse_toml("name = \"caf\u00e9\"  # \u00e9\n");
  ASSERT_TRUE(root) << root.error().description;
  EXPECT_EQ((*root)["name"].value<std::string>(), "caf\u00e9");
}

TEST(TomlGuardParse, RefusesBeforeTomlReadsTheText) {
  auto root = parse_toml("a = 1 \u00e9\n");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error(), (TomlError{1, 7, std::string(outside)}));
}

TEST(TomlGuardParse, SyntaxErrorsCarryTomlsPosition) {
  auto root = parse_toml("a = 1\nb = \n");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().line, 2u);
  EXPECT_FALSE(root.error().description.empty());
}

TEST(TomlGuardParse, MalformedTextAroundAStringIsRefusedNotMisread) {
  // The lexer passes this (the 'é' is in a literal string), but toml++ reads ahead across the
  // string's text: only the ASCII-only first pass keeps it from tripping.
  auto root = parse_toml("a =-'\u00e9p\nc'b = 4\n");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().line, 1u) << root.error().description;
}

}  // namespace
}  // namespace ttynet::server
