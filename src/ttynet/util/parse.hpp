#pragma once
// Whole-text number parsing: the value only when every character of `text` belongs to it.

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace ttynet {

template <typename Integer>
std::optional<Integer> parse_whole(std::string_view text, int base = 10) {
  Integer value{};
  const char* const last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, value, base);
  if (text.empty() || ec != std::errc{} || end != last) return std::nullopt;
  return value;
}

}  // namespace ttynet
