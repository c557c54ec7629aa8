#pragma once
// Errors of the flasher: what went wrong talking to the loader, with the sentence esptool
// prints for it (so scripts that grep esptool's output keep working).

#include <string>
#include <system_error>

#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::esptool {

enum class errc {
  no_reply = 1,         // the loader said nothing before the deadline
  port_failed,          // the port reported an error (device gone, connection closed)
  unsupported_command,  // the loader answered "invalid command" (op not in its ROM)
  response_mismatch,    // 100 frames, none answering the request
  command_failed,       // the loader answered with a failure status
  short_response,       // a reply without the data the command returns
  connect_failed,       // no SYNC answered in any attempt
  unknown_chip,         // magic value / chip id not in the chip table
  wrong_chip,           // --chip names another chip than the one answering
  digest_mismatch,      // SPI_FLASH_MD5 disagrees with the data written or the file
  bad_argument,         // an address, size or file the command cannot use
  file_error,           // reading or writing a local file failed
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

// The flasher's errors are ttynet::Error (util/error.hpp): a code to branch on and the line
// to show.
Error make_error(errc code, std::string message);

}  // namespace ttynet::esptool

template <>
struct std::is_error_code_enum<ttynet::esptool::errc> : std::true_type {};
