#pragma once
// Errors of the Espressif core: SLIP framing, packet decoding and simulator configuration.

#include <system_error>

namespace ttynet::esp {

enum class errc {
  slip_invalid_escape = 1,  // 0xDB followed by something other than 0xDC/0xDD; frame dropped
  slip_frame_too_long,      // payload past slip::Limits::max_frame; frame dropped
  packet_too_short,         // fewer than the 8 header bytes
  packet_bad_direction,     // direction byte is not 0 (request) or 1 (response) as expected
  data_block_too_short,     // a *_DATA payload without its 16-byte block header
  status_missing,           // a response shorter than its status bytes
  unknown_chip,             // no chip of that name or magic value
  invalid_flash_size,       // simulated flash must be 1, 2, 4, 8 or 16 MiB
  initial_flash_too_large,  // initial contents do not fit the simulated flash
  invalid_revision,         // a chip revision the simulated chip cannot report
  inflate_failed,           // the zlib stream is corrupt
  inflate_checksum_failed,  // the zlib stream's Adler-32 does not match its data
};

const std::error_category& error_category();
std::error_code make_error_code(errc e);

}  // namespace ttynet::esp

template <>
struct std::is_error_code_enum<ttynet::esp::errc> : std::true_type {};
