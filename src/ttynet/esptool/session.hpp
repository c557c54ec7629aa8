#pragma once
// A run's hold on the ROM loader: the port opened, the loader connected and the chip
// detected and described, the baud rate switched, the SPI flash attached and identified.
// Every command runs against the Session; the --after action ends it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esptool/commands.hpp"
#include "ttynet/esptool/console.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/flash_id.hpp"
#include "ttynet/esptool/loader.hpp"
#include "ttynet/port/blocking_port.hpp"

namespace ttynet::esptool {

struct Session {
  std::unique_ptr<port::BlockingPort> port;
  Loader loader;  // on *port
  const esp::ChipInfo& chip;
  Console& console;
  FlashId flash_id;
  std::uint32_t flash_size;  // --flash_size, else from the flash ID, else 4 MB
  // ESP32, for flash_id: "Flash voltage set by a strapping pin to 3.3V".
  std::optional<std::string> flash_voltage;
};

// Opens options.port and gets the loader ready, printing esptool's lines on the way.
// `requested`: the --chip, nullptr to detect. `for_flash_id`: the command is flash_id, which
// prints the size itself (no warning when neither --flash_size nor the flash ID gives it) and
// the flash voltage (read with the chip's other registers). The error is fatal, its message
// the one esptool prints.
Result<Session, Error> open_session(const GlobalOptions& options, const esp::ChipInfo* requested,
                                    bool for_flash_id, Console& console);

// The --after action, then the port closes.
void close_session(Session& session, AfterAction after);

}  // namespace ttynet::esptool
