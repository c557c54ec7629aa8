#pragma once
// The commands that only report on the chip: chip_id, read_mac, flash_id.

#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/session.hpp"

namespace ttynet::esptool {

// chip_id: ESP32 chips have none, so esptool's warning and then the MAC.
MaybeError print_chip_id(Session& s);
// read_mac
MaybeError print_mac(Session& s);
// flash_id: the ID read when the session opened, the size it means, the flash voltage (ESP32).
MaybeError print_flash_id(Session& s);

}  // namespace ttynet::esptool
