#pragma once
// Errors the RFC 2217 cores report as ProtocolError events. The offending command is ignored
// and the connection goes on. The client also fails its open sequence and operations with the
// codes from com_port_refused on (Client::OpenFailed, Client::OperationDone).

#include <system_error>

namespace ttynet::rfc2217 {

enum class errc {
  invalid_value = 1,    // SET-CONTROL above 19, or PURGE-DATA other than 1, 2 or 3
  missing_value,        // SET-CONTROL, PURGE-DATA or a SET-*-MASK without its value byte
  com_port_refused,     // the server said WONT and DONT COM-PORT
  negotiation_timeout,  // the server agreed to COM-PORT neither way within the timeout
  reply_timeout,        // a request was not answered within the timeout
  value_rejected,       // a reply carried another value than the request
  not_open,             // an operation before start(), or after the open sequence failed
  bad_message,          // a paced-ESP sub-negotiation that cannot be decoded (paced_esp.hpp)
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

}  // namespace ttynet::rfc2217

template <>
struct std::is_error_code_enum<ttynet::rfc2217::errc> : std::true_type {};
