#pragma once
// esptool's commands over the ROM loader, each with esptool's console output: one run opens
// a session (session.hpp: port, connect, chip, baud, flash), runs the command (info_commands,
// flash_commands) and then the --after action. ttynet never uploads a flasher stub: erases
// are ROM FLASH_BEGINs, reads are READ_FLASH_SLOW, every write is checked with SPI_FLASH_MD5.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ttynet/esptool/connect.hpp"
#include "ttynet/esptool/console.hpp"

namespace ttynet::esptool {

struct GlobalOptions {
  std::string port;             // any port URL
  std::uint32_t baud = 115200;  // > 115200: CHANGE_BAUDRATE after connecting
  std::string chip = "auto";    // auto, or a chip name (esp32, esp32c3, esp32s3)
  BeforeAction before = BeforeAction::default_reset;
  AfterAction after = AfterAction::hard_reset;
  int connect_attempts = 7;
  std::optional<std::uint32_t> flash_size;  // nothing: as detected from the flash ID
};

struct FlashFile {
  std::uint32_t address = 0;
  std::string path;
};

struct ChipIdCommand {};
struct FlashIdCommand {};
struct ReadMacCommand {};
struct WriteFlashCommand {
  std::vector<FlashFile> files;
  bool compress = true;
  bool erase_all = false;
  bool force = false;  // write sectors that already hold the data too
};
struct ReadFlashCommand {
  std::uint32_t address = 0;
  std::uint32_t size = 0;
  std::string path;
};
struct VerifyFlashCommand {
  std::vector<FlashFile> files;
};
struct EraseFlashCommand {};
struct EraseRegionCommand {
  std::uint32_t address = 0;
  std::uint32_t size = 0;
};
struct RunCommand {};

using Command =
    std::variant<ChipIdCommand, FlashIdCommand, ReadMacCommand, WriteFlashCommand, ReadFlashCommand,
                 VerifyFlashCommand, EraseFlashCommand, EraseRegionCommand, RunCommand>;

// Exit codes: esptool's 2 for a fatal error ("A fatal error occurred: ..." on the error
// stream), 1 for an argument or file the command cannot use.
inline constexpr int exit_ok = 0;
inline constexpr int exit_bad_argument = 1;
inline constexpr int exit_fatal = 2;

int run_esptool(const GlobalOptions& options, const Command& command, Console& console);

}  // namespace ttynet::esptool
