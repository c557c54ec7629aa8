#pragma once
// Errors the Telnet codec reports as ProtocolError events.

#include <system_error>

namespace ttynet::telnet {

enum class errc {
  subnegotiation_too_long = 1,  // payload past Limits::max_subnegotiation; dropped
  se_without_sb,                // IAC SE outside an SB (or right after IAC SB); ignored
  command_inside_sb,            // IAC <x> in SB other than IAC IAC / IAC SE; both bytes dropped
  negotiation_violation,        // peer answered contrary to our outstanding request (RFC 1143)
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

}  // namespace ttynet::telnet

template <>
struct std::is_error_code_enum<ttynet::telnet::errc> : std::true_type {};
