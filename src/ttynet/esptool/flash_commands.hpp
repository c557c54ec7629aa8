#pragma once
// The commands that change or read the flash through the ROM: write_flash, read_flash,
// verify_flash, erase_flash, erase_region, and run (FLASH_END into the application). Erases
// are ROM FLASH_BEGINs, reads READ_FLASH_SLOW, every write is checked with SPI_FLASH_MD5.

#include <vector>

#include "ttynet/esptool/commands.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/session.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esptool {

// `images`: the contents of c.files, in order.
MaybeError write_flash(Session& s, const WriteFlashCommand& c,
                       const std::vector<ByteBuffer>& images);
MaybeError read_flash(Session& s, const ReadFlashCommand& c);
MaybeError verify_flash(Session& s, const VerifyFlashCommand& c,
                        const std::vector<ByteBuffer>& images);
MaybeError erase_flash(Session& s);
MaybeError erase_region(Session& s, const EraseRegionCommand& c);
MaybeError run_user_code(Session& s);

}  // namespace ttynet::esptool
