// Opening a Session: port, connect and chip detection, baud switch, flash attach and ID;
// and closing it with the --after action.

#include "ttynet/esptool/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

#include "ttynet/esptool/chip_facts.hpp"
#include "ttynet/esptool/connect.hpp"
#include "ttynet/port/reset_player.hpp"
#include "ttynet/version.hpp"

namespace ttynet::esptool {
namespace {

constexpr std::uint32_t initial_baud = 115200;
constexpr std::uint32_t default_flash_size = 4u << 20;
constexpr auto baud_settle = std::chrono::milliseconds(50);
constexpr std::string_view troubleshooting =
    "\nFor troubleshooting steps visit: "
    "https://docs.espressif.com/projects/esptool/en/latest/troubleshooting.html";

ConnectOptions connect_options(const GlobalOptions& options, const esp::ChipInfo* requested,
                               PortKind kind, Console& console) {
  ConnectOptions connect;
  connect.before = options.before;
  connect.attempts = options.connect_attempts;
  connect.chip = requested;
  connect.kind = kind;
  if (kind == PortKind::socket && (connect.before == BeforeAction::default_reset ||
                                   connect.before == BeforeAction::usb_reset)) {
    console.line(
        "Note: It's not possible to reset the chip over a TCP socket. Automatic "
        "resetting to bootloader has been disabled, reset the chip manually.");
    connect.before = BeforeAction::no_reset;
  } else if (connect.before == BeforeAction::no_reset) {
    console.line(
        "WARNING: Pre-connection option \"no_reset\" was selected. Connection may fail "
        "if the chip is not in bootloader or flasher stub mode.");
  }
  return connect;
}

// The ESP32 ROM measures its own clock wrongly by the ratio of its RC oscillator to the
// crystal; esptool asks for a rate skewed by the inverse ratio so the result comes out right.
constexpr std::uint32_t esp32_rtc_cali_cfg1 = 0x3FF5F06C;

std::vector<std::uint32_t> baud_calibration_registers(const esp::ChipInfo& chip) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return {};
  return {esp32_rtc_cali_cfg1, chip.efuse_base + 0x10};
}

std::uint32_t rom_baud_word(const esp::ChipInfo& chip, const RegisterValues& registers,
                            std::uint32_t baud) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return baud;
  const double cali = static_cast<double>((registers.at(esp32_rtc_cali_cfg1) >> 7) & 0x1FFFFFF);
  const double ck8m = static_cast<double>(registers.at(chip.efuse_base + 0x10) & 0xFF);
  const double rom_freq = cali * 15625.0 * ck8m / 40.0;
  if (rom_freq <= 0) return baud;
  const double xtal = rom_freq > 33e6 ? 40e6 : 26e6;
  return static_cast<std::uint32_t>(static_cast<double>(baud) * rom_freq / xtal);
}

MaybeError change_baud(Session& s, const RegisterValues& registers, std::uint32_t baud) {
  s.console.line(fmt::format("Changing baud rate to {}", baud));
  if (auto error = s.loader.change_baudrate(rom_baud_word(s.chip, registers, baud))) return error;
  if (auto ec = s.port->set_baud(baud)) {
    return make_error(errc::port_failed,
                      fmt::format("Could not set the port to {} baud: {}", baud, ec.message()));
  }
  s.port->pause(baud_settle);
  if (auto error = s.loader.purge()) return error;
  s.console.line("Changed.");
  return std::nullopt;
}

// The ESP32's SPI pads, when eFuses move them from the defaults.
std::vector<std::uint32_t> spi_pad_registers(const esp::ChipInfo& chip) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return {};
  return {chip.efuse_base + 0x14, chip.efuse_base + 0x0C};
}

// SPI_ATTACH with the pads the eFuses give, posted: the flash ID's exchange carries it.
void attach_flash(Session& s, const RegisterValues& registers) {
  std::uint32_t config = 0;
  if (s.chip.efuse_layout == esp::EfuseLayout::esp32) {
    const std::uint32_t w5 = registers.at(s.chip.efuse_base + 0x14);
    const std::uint32_t w3 = registers.at(s.chip.efuse_base + 0x0C);
    const std::uint32_t clk = w5 & 0x1F, q = w5 >> 5 & 0x1F, d = w5 >> 10 & 0x1F,
                        cs = w5 >> 15 & 0x1F, hd = w3 >> 4 & 0x1F;
    if (clk | q | d | cs | hd) {
      s.console.line(
          fmt::format("Attaching flash from eFuses' SPI pads configuration(CLK:{}, Q:{}, D:{}, "
                      "HD:{}, CS:{})...",
                      clk, q, d, hd, cs));
      config = hd << 24 | cs << 18 | d << 12 | q << 6 | clk;
    }
  }
  if (config == 0) s.console.line("Enabling default SPI flash mode...");
  s.loader.post(std::vector{Loader::spi_attach_request(config)});
}

// Reads the flash ID and settles the size the commands may use.
MaybeError identify_flash(Session& s, const GlobalOptions& options, bool for_flash_id) {
  auto id = read_flash_id(s.loader, s.chip);
  if (!id) return id.error();
  s.flash_id = *id;
  const std::uint32_t raw_id = id->manufacturer | id->memory_type << 8 | id->capacity << 16;
  if (raw_id == 0xFFFFFF || raw_id == 0) {
    s.console.line(
        "WARNING: Failed to communicate with the flash chip, read/write operations "
        "will fail. Try checking the chip connections or removing any other hardware "
        "connected to IOs.");
  }
  if (options.flash_size) return std::nullopt;
  if (auto detected = flash_size_bytes(id->capacity)) {
    s.flash_size = *detected;
  } else if (!for_flash_id) {
    s.console.line(
        fmt::format("WARNING: Could not auto-detect Flash size (FlashID=0x{:x}, "
                    "SizeID=0x{:x}), defaulting to 4MB",
                    raw_id, id->capacity));
  }
  return std::nullopt;
}

}  // namespace

Result<Session, Error> open_session(const GlobalOptions& options, const esp::ChipInfo* requested,
                                    bool for_flash_id, Console& console) {
  console.line(fmt::format("ttynet esptool {}", version));
  console.line(fmt::format("Serial port {}", options.port));
  auto opened = port::BlockingPort::open(options.port);
  if (!opened) {
    return make_error(errc::port_failed,
                      fmt::format("Could not open {}, the port is busy or doesn't exist.\n({})",
                                  options.port, opened.error().message));
  }
  const PortKind kind = port_kind(options.port);
  const std::uint32_t first_baud = std::min(initial_baud, options.baud);
  if (auto ec = (*opened)->set_baud(first_baud)) {
    return make_error(errc::port_failed, fmt::format("Could not set {} baud on {}: {}", first_baud,
                                                     options.port, ec.message()));
  }

  Loader loader(**opened);
  auto chip =
      connect_and_detect(loader, connect_options(options, requested, kind, console), console);
  if (!chip) {
    Error error = chip.error();
    if (error.code == errc::connect_failed) error.message += troubleshooting;
    return error;
  }
  // Every register read before the flash is attached, in one exchange: whatever the round
  // trip, connecting costs the same few.
  const bool changes_baud = options.baud > first_baud && kind != PortKind::socket;
  std::vector<std::uint32_t> addresses = chip_facts_registers(**chip);
  for (const auto& more :
       {changes_baud ? baud_calibration_registers(**chip) : std::vector<std::uint32_t>{},
        spi_pad_registers(**chip),
        for_flash_id ? flash_voltage_registers(**chip) : std::vector<std::uint32_t>{}}) {
    addresses.insert(addresses.end(), more.begin(), more.end());
  }
  auto registers = loader.read_registers(addresses);
  if (!registers) return registers.error();
  const ChipFacts facts = describe_chip(**chip, *registers, first_baud);
  console.line(fmt::format("Chip is {}", facts.description));
  console.line(fmt::format("Features: {}", join_features(facts.features)));
  console.line(fmt::format("Crystal is {}MHz", facts.crystal_mhz));
  console.line(fmt::format("MAC: {}", format_mac(facts.mac)));

  Session session{std::move(*opened),
                  std::move(loader),
                  **chip,
                  console,
                  {},
                  options.flash_size.value_or(default_flash_size),
                  for_flash_id ? describe_flash_voltage(**chip, *registers) : std::nullopt};
  if (options.baud > first_baud && kind == PortKind::socket) {
    console.line(fmt::format(
        "Note: the baud rate of a raw TCP socket is the server's; staying at {}.", first_baud));
  } else if (changes_baud) {
    if (auto error = change_baud(session, *registers, options.baud)) return *error;
  }
  attach_flash(session, *registers);
  if (auto error = identify_flash(session, options, for_flash_id)) return *error;
  return session;
}

void close_session(Session& session, AfterAction after) {
  if (after == AfterAction::hard_reset) {
    session.console.line("Hard resetting via RTS pin...");
    session.loader.discard_posted();  // the reset undoes what they would set
    // A server that paces ESP frames plays the reset with its own timing.
    const esp::ResetSequence reset = session.port->paces_esp_frames()
                                         ? esp::without_waits(esp::hard_reset())
                                         : esp::hard_reset();
    // A port without modem lines cannot reset: esptool says nothing more either.
    (void)session.port->run(port::play_reset(session.port->port(), reset));
  } else {
    session.console.line("Staying in bootloader.");
    // What is still posted (registers put back) goes now; a failure changes nothing here.
    if (session.loader.has_posted()) (void)session.loader.exchange({});
  }
  session.port->close();
}

}  // namespace ttynet::esptool
