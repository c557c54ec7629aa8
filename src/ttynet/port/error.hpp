#pragma once
// Errors of the port layer that the system's error codes do not name. A busy device is
// std::errc::device_or_resource_busy; device failures are the system's codes (EIO, ENXIO).

#include <system_error>

namespace ttynet::port {

enum class errc {
  closed = 1,         // the port was closed before or during the operation
  bad_url,            // a port URL that does not follow the grammar (no host, bad port, ...)
  unknown_scheme,     // a scheme no backend is registered for
  unknown_option,     // an option the scheme's table does not list
  bad_option_value,   // an option value of the wrong type or outside its choices
  not_a_tty,          // a local path that is not a serial device
  bad_line_settings,  // baud 0, or data bits outside 5..8
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

}  // namespace ttynet::port

template <>
struct std::is_error_code_enum<ttynet::port::errc> : std::true_type {};
