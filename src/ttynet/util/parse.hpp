#pragma once
// Whole-text parsing: numbers (the value only when every character of `text` belongs to it),
// byte sizes, and %-escapes.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace ttynet {

template <typename Integer>
std::optional<Integer> parse_whole(std::string_view text, int base = 10) {
  Integer value{};
  const char* const last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, value, base);
  if (text.empty() || ec != std::errc{} || end != last) return std::nullopt;
  return value;
}

// A size in bytes: "65536", or a whole number with a binary unit, "64KiB" or "64K", "1MiB"
// or "1M". Nothing when the text is not one, or the size does not fit.
inline std::optional<std::size_t> parse_byte_size(std::string_view text) {
  std::size_t unit = 1;
  for (const auto& [suffix, size] : {std::pair<std::string_view, std::size_t>{"KiB", 1024},
                                     {"K", 1024},
                                     {"MiB", 1024 * 1024},
                                     {"M", 1024 * 1024}}) {
    if (text.ends_with(suffix)) {
      text.remove_suffix(suffix.size());
      unit = size;
      break;
    }
  }
  const auto number = parse_whole<std::size_t>(text);
  if (!number || *number > SIZE_MAX / unit) return std::nullopt;
  return *number * unit;
}

// `text` with every %XX escape replaced by its byte (URL options, HTTP request paths); nothing
// when a '%' is not followed by two hex digits.
inline std::optional<std::string> percent_decode(std::string_view text) {
  const auto hex_digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_digit(text[i + 1]);
    const int low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return decoded;
}

}  // namespace ttynet
