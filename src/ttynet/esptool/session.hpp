#pragma once
// A run's hold on the ROM loader: the port opened, the loader connected and the chip
// detected and described, the baud rate switched, the SPI flash attached and identified.
// Every command runs against the Session; the --after action ends it.

#include <cstdint>
#include <memory>

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
};

// Opens options.port and gets the loader ready, printing esptool's lines on the way.
// `requested`: the --chip, nullptr to detect. `warn_unknown_flash_size`: say so when neither
// --flash_size nor the flash ID gives the size (flash_id prints the size itself). The error
// is fatal, its message the one esptool prints.
Result<Session, Error> open_session(const GlobalOptions& options, const esp::ChipInfo* requested,
                                    bool warn_unknown_flash_size, Console& console);

// The --after action, then the port closes.
void close_session(Session& session, AfterAction after);

}  // namespace ttynet::esptool
