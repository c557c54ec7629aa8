#include "ttynet/esptool/connect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "ttynet/port/reset_player.hpp"
#include "ttynet/port/tls_options.hpp"

namespace ttynet::esptool {
namespace {

constexpr int sync_tries = 5;
constexpr auto sync_retry_pause = std::chrono::milliseconds(50);

std::string normalise(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// SYNC and, in the same sequence (one batch through a pacing server), the chip's magic
// register: it names every chip ttynet supports. (esptool asks GET_SECURITY_INFO first, for
// chips whose Secure Download Mode refuses READ_REG; ttynet does not support that mode.)
std::vector<LoaderRequest> sync_and_magic(Duration lead_time) {
  std::vector<LoaderRequest> requests{Loader::sync_request(),
                                      Loader::read_reg_request(esp::chip_detect_magic_reg)};
  requests.front().lead_time = lead_time;
  return requests;
}

// One connection attempt: reset as `reset` says (if any), then up to five SYNCs. The replies
// are the SYNC's and the magic register's; an error with no reply means the chip never
// answered.
Exchanged connect_attempt(Loader& loader, const esp::ResetSequence* reset, Console& console,
                          bool& warned_no_reset) {
  auto& port = loader.port();
  // A server that paces ESP frames plays resets itself, in order with what follows: the line
  // changes go out without waits, the first SYNC waits the reset's length longer, and the
  // boot log comes in ahead of its reply instead of being purged.
  const bool server_plays_reset = reset != nullptr && port.paces_esp_frames();
  std::optional<BootMode> boot;
  Duration lead_time{};
  if (reset != nullptr) {
    if (auto error = loader.purge()) return {.replies = {}, .error = error};
    const esp::ResetSequence sequence = server_plays_reset ? esp::without_waits(*reset) : *reset;
    if (auto ec = port.run(port::play_reset(port.port(), sequence)); ec && !warned_no_reset) {
      warned_no_reset = true;
      console.line();
      console.line(
          fmt::format("WARNING: Chip was NOT reset. Setting RTS/DTR lines is not supported for "
                      "port '{}' ({}). Set --before and --after arguments to 'no_reset' and "
                      "switch to bootloader manually to avoid this warning.",
                      port.info().url, ec.message()));
    }
    if (server_plays_reset) {
      lead_time = esp::duration(*reset);
    } else {
      ByteBuffer log(port.available());
      if (!log.empty()) {
        auto got = port.read_some(log, Duration::zero());
        if (got) log.resize(*got);
      }
      boot = find_boot_mode(as_chars(log));
    }
  }
  Error last = make_error(errc::no_reply, "No serial data received.");
  for (int i = 0; i < sync_tries; ++i) {
    if (i > 0 || !server_plays_reset) {
      if (auto error = loader.purge()) return {.replies = {}, .error = error};
    }
    Exchanged done = loader.exchange_some(sync_and_magic(i == 0 ? lead_time : Duration{}));
    if (!done.error || !done.replies.empty()) return done;  // in sync, whatever came next
    if (server_plays_reset && !boot) boot = find_boot_mode(loader.noise());
    if (done.error->code == errc::port_failed) return done;
    last = *done.error;
    console.print(".");
    port.pause(sync_retry_pause);
  }
  if (boot) {
    if (boot->waiting_for_download) {
      return {.replies = {},
              .error = make_error(errc::connect_failed,
                                  "Download mode successfully detected, but getting no sync "
                                  "reply: The serial TX path seems to be down.")};
    }
    return {.replies = {},
            .error = make_error(errc::connect_failed,
                                fmt::format("Wrong boot mode detected ({})! The chip needs to be "
                                            "in download mode.",
                                            boot->strap))};
  }
  return {.replies = {}, .error = make_error(errc::connect_failed, last.message)};
}

void use_chip(Loader& loader, const esp::ChipInfo& chip) {
  loader.set_status_length(chip.rom_status_length);
  loader.set_begin_takes_encrypt_flag(chip.rom_begin_has_encrypt_word);
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
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return PortKind::local;
  std::string scheme = lower_case(url.substr(0, scheme_end));
  // A +tls URL is its plain scheme's kind of port, over TLS.
  if (scheme.ends_with(port::tls_scheme_suffix))
    scheme.resize(scheme.size() - port::tls_scheme_suffix.size());
  if (scheme == "rfc2217") return PortKind::rfc2217;
  if (scheme == "socket") return PortKind::socket;
  return PortKind::other;
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

Result<std::uint32_t, Error> connect_loader(Loader& loader, const ConnectOptions& options,
                                            Console& console) {
  if (options.before == BeforeAction::no_reset_no_sync) {
    return loader.read_reg(esp::chip_detect_magic_reg);
  }
  const bool resets =
      options.before == BeforeAction::default_reset || options.before == BeforeAction::usb_reset;
  const auto strategies = reset_strategies(options.kind, options.before);
  const std::string_view target =
      options.chip != nullptr ? options.chip->chip_name : std::string_view("Espressif device");
  const auto failed_to_connect = [target](const Error& error) {
    return make_error(errc::connect_failed,
                      fmt::format("Failed to connect to {}: {}", target, error.message));
  };
  console.print("Connecting...");
  bool warned_no_reset = false;
  Error last = make_error(errc::connect_failed, "No serial data received.");
  for (int attempt = 0; options.attempts <= 0 || attempt < options.attempts; ++attempt) {
    const auto* reset =
        resets ? &strategies[static_cast<std::size_t>(attempt) % strategies.size()] : nullptr;
    Exchanged done = connect_attempt(loader, reset, console, warned_no_reset);
    if (!done.error || !done.replies.empty()) {
      console.line();
      if (done.error) return *done.error;  // in sync: the magic read failed
      return done.replies.back().value;
    }
    last = *done.error;
    if (last.code == errc::port_failed) break;
  }
  console.line();
  return failed_to_connect(last);
}

Result<const esp::ChipInfo*, Error> connect_and_detect(Loader& loader,
                                                       const ConnectOptions& options,
                                                       Console& console) {
  auto magic = connect_loader(loader, options, console);
  if (!magic) return magic.error();
  if (options.chip != nullptr) {
    use_chip(loader, *options.chip);
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
  auto chip = esp::find_chip_by_magic(*magic);
  if (!chip) {
    console.line();
    return make_error(errc::unknown_chip,
                      fmt::format("Unexpected CHIP magic value 0x{:08x}. Failed to autodetect "
                                  "chip type.",
                                  *magic));
  }
  use_chip(loader, **chip);
  console.line(fmt::format(" {}", (*chip)->chip_name));
  return *chip;
}

}  // namespace ttynet::esptool
