#pragma once
// Finding byte strings in what a client received (the session tests).

#include <algorithm>
#include <cstddef>
#include <vector>

#include "ttynet/util/bytes.hpp"

namespace ttynet::server::test {

inline std::size_t count(const std::vector<Byte>& haystack, const std::vector<Byte>& needle) {
  std::size_t found = 0;
  for (auto at = haystack.begin();
       (at = std::search(at, haystack.end(), needle.begin(), needle.end())) != haystack.end();
       ++at) {
    ++found;
  }
  return found;
}

inline bool contains(const std::vector<Byte>& haystack, const std::vector<Byte>& needle) {
  return count(haystack, needle) > 0;
}

}  // namespace ttynet::server::test
