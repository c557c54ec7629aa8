#pragma once
// Errors the RFC 2217 cores report as ProtocolError events. The offending command is ignored
// and the connection goes on.

#include <system_error>

namespace ttynet::rfc2217 {

enum class errc {
  invalid_value = 1,  // SET-CONTROL above 19, or PURGE-DATA other than 1, 2 or 3
  missing_value,      // SET-CONTROL, PURGE-DATA or a SET-*-MASK without its value byte
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

}  // namespace ttynet::rfc2217

template <>
struct std::is_error_code_enum<ttynet::rfc2217::errc> : std::true_type {};
