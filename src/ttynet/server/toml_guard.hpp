#pragma once
// toml::parse, guarded against a defect of toml++ 3.3 (Debian 12): asked whether certain
// non-ASCII characters are whitespace (U+00A1-U+0499 among them, so 'é') it reaches
// __builtin_unreachable(), and it asks that of any character outside a string or comment, and
// of one after a line-ending backslash in a multi-line basic string. TOML allows non-ASCII text
// only inside strings and comments, so such a file is invalid anyway: a small lexer refuses it
// before toml++ reads it. On a malformed file toml++ may still read ahead across a string's
// text, so it first parses a copy with every non-ASCII byte made an ASCII letter (the same
// structure, nothing to trip on), and the real text only once that copy parses.

#include <toml++/toml.h>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "ttynet/util/result.hpp"

namespace ttynet::server {

// Where the text was refused, and why; the description may quote the text, line breaks
// included. Not a ttynet::Error: parse_config() puts the file name before line and column and
// makes the description one line, so it needs the parts, not a finished sentence.
struct TomlError {
  std::size_t line = 0;
  std::size_t column = 0;
  std::string description;

  friend bool operator==(const TomlError&, const TomlError&) = default;
};

// The first non-ASCII character outside a string or comment, or right after a line-ending
// backslash in a multi-line basic string. Columns count characters, not UTF-8 bytes.
std::optional<TomlError> find_non_ascii_outside_strings(std::string_view text);

// toml::parse(text) behind the guards above.
Result<toml::table, TomlError> parse_toml(std::string_view text);

}  // namespace ttynet::server
