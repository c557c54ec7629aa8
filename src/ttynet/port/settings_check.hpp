#pragma once
// The range every backend accepts for LineSettings, checked before anything is changed.

#include <system_error>

#include "ttynet/port/error.hpp"
#include "ttynet/util/line_settings.hpp"

namespace ttynet::port::detail {

inline std::error_code check_line_settings(const LineSettings& settings) {
  if (settings.baud == 0 || settings.data_bits < 5 || settings.data_bits > 8) {
    return errc::bad_line_settings;
  }
  return {};
}

}  // namespace ttynet::port::detail
