#include "ttynet/esptool/connect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "ttynet/port/reset_player.hpp"

namespace ttynet::esptool {
namespace {

constexpr int sync_tries = 5;
constexpr auto sync_retry_pause = std::chrono::milliseconds(50);

std::string normalise(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return a == std::tolower(static_cast<unsigned char>(b));
  });
}

// One connection attempt: reset as `reset` says (if any), then up to five SYNCs.
MaybeError connect_attempt(Loader& loader, const esp::ResetSequence* reset, Console& console,
                           bool& warned_no_reset) {
  std::optional<BootMode> boot;
  if (reset != nullptr) {
    if (auto error = loader.purge()) return error;
    auto& port = loader.port();
    if (auto ec = port.run(port::play_reset(port.port(), *reset)); ec && !warned_no_reset) {
      warned_no_reset = true;
      console.line();
      console.line(
          fmt::format("WARNING: Chip was NOT reset. Setting RTS/DTR lines is not supported for "
                      "port '{}' ({}). Set --before and --after arguments to 'no_reset' and "
                      "switch to bootloader manually to avoid this warning.",
                      port.info().url, ec.message()));
    }
    ByteBuffer log(port.available());
    if (!log.empty()) {
      auto got = port.read_some(log, Duration::zero());
      if (got) log.resize(*got);
    }
    boot = find_boot_mode(as_chars(log));
  }
  Error last = make_error(errc::no_reply, "No serial data received.");
  for (int i = 0; i < sync_tries; ++i) {
    if (auto error = loader.purge()) return error;
    auto error = loader.sync();
    if (!error) return std::nullopt;
    if (error->code == errc::port_failed) return error;
    last = *error;
    console.print(".");
    loader.port().pause(sync_retry_pause);
  }
  if (boot) {
    if (boot->waiting_for_download) {
      return make_error(errc::connect_failed,
                        "Download mode successfully detected, but getting no sync reply: The "
                        "serial TX path seems to be down.");
    }
    return make_error(errc::connect_failed,
                      fmt::format("Wrong boot mode detected ({})! The chip needs to be in "
                                  "download mode.",
                                  boot->strap));
  }
  return make_error(errc::connect_failed, last.message);
}

// GET_SECURITY_INFO's chip id, where the ROM has the command and reports one.
const esp::ChipInfo* chip_from_security_info(Loader& loader) {
  auto info = loader.get_security_info();
  if (!info || info->size() < 16) return nullptr;
  const std::uint32_t chip_id = esp::load_u32(*info, 12);
  auto chip = esp::find_chip_by_id(chip_id);
  return chip ? *chip : nullptr;
}

void use_chip(Loader& loader, const esp::ChipInfo& chip) {
  loader.set_status_length(chip.rom_status_length);
  loader.set_begin_takes_encrypt_flag(chip.rom_begin_has_encrypt_word);
}

Result<const esp::ChipInfo*, Error> chip_from_magic(Loader& loader) {
  auto magic = loader.read_reg(esp::chip_detect_magic_reg);
  if (!magic) return magic.error();
  auto chip = esp::find_chip_by_magic(*magic);
  if (!chip) {
    return make_error(errc::unknown_chip,
                      fmt::format("Unexpected CHIP magic value 0x{:08x}. Failed to autodetect "
                                  "chip type.",
                                  *magic));
  }
  return *chip;
}

}  // namespace

std::optional<BeforeAction> parse_before(std::string_view text) {
  const std::string name = normalise(text);
  if (name == "default_reset") return BeforeAction::default_reset;
  if (name == "usb_reset") return BeforeAction::usb_reset;
  if (name == "no_reset") return BeforeAction::no_reset;
  if (name == "no_reset_no_sync") return BeforeAction::no_reset_no_sync;
  return std::nullopt;
}

std::optional<AfterAction> parse_after(std::string_view text) {
  const std::string name = normalise(text);
  if (name == "hard_reset") return AfterAction::hard_reset;
  if (name == "no_reset") return AfterAction::no_reset;
  return std::nullopt;
}

PortKind port_kind(std::string_view url) {
  if (starts_with(url, "rfc2217://")) return PortKind::rfc2217;
  if (starts_with(url, "socket://")) return PortKind::socket;
  if (url.find("://") != std::string_view::npos) return PortKind::other;
  return PortKind::local;
}

std::vector<esp::ResetSequence> reset_strategies(PortKind kind, BeforeAction before) {
  if (before == BeforeAction::usb_reset) return {esp::usb_jtag_reset()};
  std::vector<esp::ResetSequence> out;
  if (kind == PortKind::local) {
    out.push_back(esp::tight_reset(esp::default_reset_delay));
    out.push_back(esp::tight_reset(esp::extra_reset_delay));
  }
  out.push_back(esp::classic_reset(esp::default_reset_delay));
  out.push_back(esp::classic_reset(esp::extra_reset_delay));
  return out;
}

std::optional<BootMode> find_boot_mode(std::string_view log) {
  const auto at = log.find("boot:0x");
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t end = at + 7;
  while (end < log.size() && std::isxdigit(static_cast<unsigned char>(log[end]))) ++end;
  if (end == at + 7) return std::nullopt;
  BootMode mode;
  mode.strap = std::string(log.substr(at + 5, end - at - 5));
  mode.waiting_for_download = log.find("waiting for download", end) != std::string_view::npos;
  return mode;
}

MaybeError connect_loader(Loader& loader, const ConnectOptions& options, Console& console) {
  const bool resets =
      options.before == BeforeAction::default_reset || options.before == BeforeAction::usb_reset;
  const auto strategies = reset_strategies(options.kind, options.before);
  console.print("Connecting...");
  bool warned_no_reset = false;
  Error last = make_error(errc::connect_failed, "No serial data received.");
  for (int attempt = 0; options.attempts <= 0 || attempt < options.attempts; ++attempt) {
    const auto* reset =
        resets ? &strategies[static_cast<std::size_t>(attempt) % strategies.size()] : nullptr;
    auto error = connect_attempt(loader, reset, console, warned_no_reset);
    if (!error) {
      console.line();
      return std::nullopt;
    }
    last = *error;
    if (error->code == errc::port_failed) break;
  }
  console.line();
  return make_error(errc::connect_failed, last.message);
}

Result<const esp::ChipInfo*, Error> connect_and_detect(Loader& loader,
                                                       const ConnectOptions& options,
                                                       Console& console) {
  const std::string_view target =
      options.chip != nullptr ? options.chip->chip_name : std::string_view("Espressif device");
  if (options.before != BeforeAction::no_reset_no_sync) {
    if (auto error = connect_loader(loader, options, console)) {
      return make_error(errc::connect_failed,
                        fmt::format("Failed to connect to {}: {}", target, error->message));
    }
  }

  if (options.chip != nullptr) {
    use_chip(loader, *options.chip);
    auto magic = loader.read_reg(esp::chip_detect_magic_reg);
    if (!magic) return magic.error();
    auto found = esp::find_chip_by_magic(*magic);
    if (!found) {
      console.line(
          fmt::format("WARNING: This chip doesn't appear to be a {} (chip magic value "
                      "0x{:08x}). Probably it is unsupported by this version of "
                      "esptool.",
                      options.chip->chip_name, *magic));
    } else if ((*found)->name != options.chip->name) {
      return make_error(errc::wrong_chip,
                        fmt::format("This chip is {} not {}. Wrong --chip argument?",
                                    (*found)->chip_name, options.chip->chip_name));
    }
    return options.chip;
  }

  console.print("Detecting chip type...");
  if (const esp::ChipInfo* chip = chip_from_security_info(loader)) {
    use_chip(loader, *chip);
    auto magic = loader.read_reg(esp::chip_detect_magic_reg);  // as esptool: a reachability check
    if (!magic) return magic.error();
    console.line(fmt::format(" {}", chip->chip_name));
    return chip;
  }
  // esptool connects again here, reset included; the ROM that refused the command is still
  // in its loader, in sync, and the refusal was purged, which saves a reset's and a sync's
  // round trips on a remote port.
  console.line(" Unsupported detection protocol, switching and trying again...");
  console.print("Detecting chip type...");
  auto chip = chip_from_magic(loader);
  if (!chip) {
    console.line();
    return chip.error();
  }
  use_chip(loader, **chip);
  console.line(fmt::format(" {}", (*chip)->chip_name));
  return *chip;
}

}  // namespace ttynet::esptool
