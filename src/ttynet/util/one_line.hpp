#pragma once
// Error messages quote the text they tripped over, line breaks included; an error stays one
// line: "\n" and "\r" are written as those two characters.

#include <string>
#include <string_view>

namespace ttynet {

inline std::string one_line(std::string_view text) {
  std::string line;
  for (const char c : text) {
    if (c == '\n') {
      line += "\\n";
    } else if (c == '\r') {
      line += "\\r";
    } else {
      line += c;
    }
  }
  return line;
}

}  // namespace ttynet
