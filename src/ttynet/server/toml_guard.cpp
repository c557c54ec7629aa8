// The guards around toml::parse (see toml_guard.hpp): a TOML lexer that knows only where
// strings and comments begin and end, and the two-pass parse.

#include "ttynet/server/toml_guard.hpp"

#include <algorithm>

namespace ttynet::server {

std::optional<TomlError> find_non_ascii_outside_strings(std::string_view text) {
  enum class State { outside, comment, basic, literal, multi_basic, multi_literal, trimming };
  State state = State::outside;
  std::size_t line = 1;
  std::size_t line_start = 0;
  // The character at i, its column counted from the line's start: characters stepped over
  // (delimiters, escapes) count too, UTF-8 continuation bytes do not.
  const auto refuse = [&](std::size_t i, std::string_view description) {
    const std::string_view before = text.substr(line_start, i + 1 - line_start);
    const auto column = std::count_if(before.begin(), before.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    });
    return TomlError{line, static_cast<std::size_t>(column), std::string(description)};
  };
  // The length of the run of `quote` at i, when it is at least a closing delimiter's three;
  // TOML lets up to two quotes of the content stand before the delimiter.
  const auto delimiter_at = [&](std::size_t i, char quote) -> std::size_t {
    std::size_t n = 0;
    while (i + n < text.size() && text[i + n] == quote) ++n;
    return n >= 3 ? n : 0;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    switch (state) {
      case State::outside:
        if (byte >= 0x80) {
          return refuse(i, "non-ASCII character outside a string or comment");
        }
        if (c == '#') {
          state = State::comment;
        } else if (text.substr(i).starts_with(R"(""")")) {
          state = State::multi_basic;
          i += 2;
        } else if (text.substr(i).starts_with("'''")) {
          state = State::multi_literal;
          i += 2;
        } else if (c == '"') {
          state = State::basic;
        } else if (c == '\'') {
          state = State::literal;
        }
        break;
      case State::comment:
        if (c == '\n') state = State::outside;
        break;
      case State::basic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;  // the escaped character
        } else if (c == '"' || c == '\n') {
          state = State::outside;
        }
        break;
      case State::literal:
        if (c == '\'' || c == '\n') state = State::outside;
        break;
      case State::multi_basic:
        if (c == '\\') {
          const std::size_t end = text.find_first_not_of(" \t\r", i + 1);
          if (end != std::string_view::npos && text[end] == '\n') {
            state = State::trimming;
          } else if (i + 1 < text.size()) {
            ++i;  // the escaped character
          }
        } else if (const std::size_t n = delimiter_at(i, '"')) {
          state = State::outside;
          i += n - 1;
        }
        break;
      case State::multi_literal:
        if (const std::size_t n = delimiter_at(i, '\'')) {
          state = State::outside;
          i += n - 1;
        }
        break;
      case State::trimming:
        if (byte >= 0x80) {
          return refuse(i, "non-ASCII character right after a line-ending backslash");
        }
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          state = State::multi_basic;
          --i;  // read it again as string content
          continue;
        }
        break;
    }
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::nullopt;
}

Result<toml::table, TomlError> parse_toml(std::string_view text) {
  if (auto problem = find_non_ascii_outside_strings(text)) return *std::move(problem);
  std::string ascii_only(text);
  std::replace_if(
      ascii_only.begin(), ascii_only.end(),
      [](char c) { return static_cast<unsigned char>(c) >= 0x80; }, 'x');
  try {
    static_cast<void>(toml::parse(ascii_only));  // only whether it throws
    return toml::parse(text);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return TomlError{begin.line, begin.column, std::string(error.description())};
  }
}

}  // namespace ttynet::server
