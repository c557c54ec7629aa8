#pragma once
// Whole-text number parsing: the value only when every character of `text` belongs to it.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
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

}  // namespace ttynet
