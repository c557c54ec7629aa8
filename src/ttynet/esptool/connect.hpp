#pragma once
// Getting hold of the ROM loader: esptool's reset strategies and connect loop
// (docs/reference/esp-loader-protocol.md §5.1, §5.2), then chip detection (§5.3), with esptool's
// console lines.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/esptool/console.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/esptool/loader.hpp"

namespace ttynet::esptool {

enum class BeforeAction { default_reset, usb_reset, no_reset, no_reset_no_sync };
enum class AfterAction { hard_reset, no_reset };

// "default_reset" and "default-reset" (v4 and v5 spellings) alike.
std::optional<BeforeAction> parse_before(std::string_view text);
std::optional<AfterAction> parse_after(std::string_view text);

enum class PortKind { local, rfc2217, socket, other };
PortKind port_kind(std::string_view url);

// The sequences tried in turn, attempt after attempt: both-lines-at-once resets first on a
// local device, the line-by-line classic reset elsewhere (a network port cannot change two
// lines at once); each with the 0.05 s and the 0.55 s GPIO0 hold.
std::vector<esp::ResetSequence> reset_strategies(PortKind kind, BeforeAction before);

struct ConnectOptions {
  BeforeAction before = BeforeAction::default_reset;
  int attempts = 7;                     // <= 0: until it works
  const esp::ChipInfo* chip = nullptr;  // nullptr: detect
  PortKind kind = PortKind::local;
};

// What a boot log said: "boot:0x13 (SPI_FAST_FLASH_BOOT)" -> "0x13", and whether the ROM
// said it is waiting for download.
struct BootMode {
  std::string strap;
  bool waiting_for_download = false;
};
std::optional<BootMode> find_boot_mode(std::string_view log);

// Resets (as options.before says) and syncs, printing "Connecting...." as esptool does, and
// returns the chip's magic value, read with the SYNC that was answered. A failed connection
// is "Failed to connect to <chip>: <reason>", the reason esptool's for the last attempt
// ("Wrong boot mode detected (0x13)! ...").
Result<std::uint32_t, Error> connect_loader(Loader& loader, const ConnectOptions& options,
                                            Console& console);

// connect_loader() and chip detection: prints "Detecting chip type... ESP32". Sets the
// loader's status length for the chip found.
Result<const esp::ChipInfo*, Error> connect_and_detect(Loader& loader,
                                                       const ConnectOptions& options,
                                                       Console& console);

}  // namespace ttynet::esptool
