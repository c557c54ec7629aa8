#include "ttynet/esptool/commands.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "ttynet/esp/inflate.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esptool/chip_facts.hpp"
#include "ttynet/esptool/flash_id.hpp"
#include "ttynet/esptool/progress.hpp"
#include "ttynet/port/reset_player.hpp"
#include "ttynet/version.hpp"

namespace ttynet::esptool {
namespace {

using esp::Op;

constexpr std::uint32_t initial_baud = 115200;
constexpr std::uint32_t default_flash_size = 4u << 20;
constexpr auto baud_settle = std::chrono::milliseconds(50);
constexpr int write_block_attempts = 3;
constexpr std::string_view troubleshooting =
    "\nFor troubleshooting steps visit: "
    "https://docs.espressif.com/projects/esptool/en/latest/troubleshooting.html";

// What every command needs once the loader answers.
struct Session {
  port::BlockingPort& port;
  Loader& loader;
  const esp::ChipInfo& chip;
  Console& console;
  std::uint32_t flash_size;
};

std::uint32_t blocks_for(std::uint64_t bytes, std::uint32_t block) {
  return static_cast<std::uint32_t>((bytes + block - 1) / block);
}

std::uint32_t round_up(std::uint32_t value, std::uint32_t unit) {
  return blocks_for(value, unit) * unit;
}

Outcome<ByteBuffer> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(errc::file_error,
                      fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  return ByteBuffer(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

MaybeError write_file(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out)
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  if (!out) {
    return make_error(errc::file_error,
                      fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return std::nullopt;
}

Outcome<ByteBuffer> compress(ByteView data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  ByteBuffer out(size);
  if (compress2(out.data(), &size, data.data(), static_cast<uLong>(data.size()), 9) != Z_OK) {
    return make_error(errc::bad_argument, "zlib could not compress the image");
  }
  out.resize(size);
  return out;
}

MaybeError check_range(const Session& s, std::uint32_t address, std::uint64_t size,
                       std::string_view what) {
  if (std::uint64_t{address} + size > s.flash_size) {
    return make_error(errc::bad_argument,
                      fmt::format("{} (length {}) at offset 0x{:x} will not fit in {} bytes of "
                                  "flash.",
                                  what, size, address, s.flash_size));
  }
  return std::nullopt;
}

// ------------------------------------------------------------------------------------------
// Commands

MaybeError erase_range(Session& s, std::uint32_t address, std::uint32_t size) {
  return s.loader.flash_begin(size, blocks_for(size, rom_flash_block), address, false,
                              esp::command_timeout(Op::flash_begin, false, size));
}

MaybeError erase_flash(Session& s) {
  s.console.line("Erasing flash (this may take a while)...");
  const auto start = Clock::now();
  if (auto error = s.loader.spi_set_params(s.flash_size)) return error;
  if (auto error = erase_range(s, 0, s.flash_size)) return error;
  s.console.line(
      fmt::format("Chip erase completed successfully in {:.1f}s", seconds(Clock::now() - start)));
  return std::nullopt;
}

MaybeError erase_region(Session& s, const EraseRegionCommand& c) {
  if (c.address % esp::flash_sector_size != 0) {
    return make_error(errc::bad_argument, "Offset to erase from must be a multiple of 4096");
  }
  if (c.size % esp::flash_sector_size != 0) {
    return make_error(errc::bad_argument, "Size of data to erase must be a multiple of 4096");
  }
  if (auto error = check_range(s, c.address, c.size, "Region")) return error;
  s.console.line("Erasing region (may be slow depending on size)...");
  const auto start = Clock::now();
  if (auto error = s.loader.spi_set_params(s.flash_size)) return error;
  if (auto error = erase_range(s, c.address, c.size)) return error;
  s.console.line(fmt::format("Erase completed successfully in {:.1f} seconds.",
                             seconds(Clock::now() - start)));
  return std::nullopt;
}

MaybeError check_md5(Session& s, std::uint32_t address, ByteView image) {
  auto flash = s.loader.flash_md5(address, static_cast<std::uint32_t>(image.size()));
  if (!flash) return flash.error();
  const std::string expected = esp::to_hex(esp::md5(image));
  if (*flash == expected) {
    s.console.line("Hash of data verified.");
    return std::nullopt;
  }
  s.console.line(fmt::format("File  md5: {}", expected));
  s.console.line(fmt::format("Flash md5: {}", *flash));
  const ByteBuffer erased(image.size(), 0xFF);
  s.console.line(fmt::format("MD5 of 0xFF is {}", esp::to_hex(esp::md5(erased))));
  return make_error(errc::digest_mismatch, "MD5 of file does not match data in flash!");
}

// Sends one block, retrying as esptool does when the loader fails or stays silent.
MaybeError send_block(Session& s, ByteView block, std::uint32_t sequence, bool compressed,
                      Duration timeout) {
  MaybeError error;
  for (int attempt = 0; attempt < write_block_attempts; ++attempt) {
    error = s.loader.flash_block(block, sequence, compressed, timeout);
    if (!error || error->code == errc::port_failed) return error;
  }
  return error;
}

MaybeError write_one(Session& s, std::uint32_t address, ByteBuffer image, bool compressed) {
  // The ROM writes from sector boundaries only: start earlier with erased bytes.
  const std::uint32_t lead = address % esp::flash_sector_size;
  if (lead != 0) {
    image.insert(image.begin(), lead, 0xFF);
    address -= lead;
  }
  image.resize(round_up(static_cast<std::uint32_t>(image.size()), 4), 0xFF);
  const auto size = static_cast<std::uint32_t>(image.size());

  ByteBuffer data = image;
  std::uint32_t erase_size = size;
  if (compressed) {
    auto packed = compress(image);
    if (!packed) return packed.error();
    data = std::move(*packed);
    erase_size = round_up(size, rom_flash_block);
    s.console.line(fmt::format("Compressed {} bytes to {}...", size, data.size()));
  } else {
    s.console.line("Erasing flash...");
  }
  const std::uint32_t blocks = blocks_for(data.size(), rom_flash_block);
  const auto erase_start = Clock::now();
  if (auto error = s.loader.flash_begin(
          erase_size, blocks, address, compressed,
          esp::command_timeout(compressed ? Op::flash_defl_begin : Op::flash_begin, false,
                               erase_size))) {
    return error;
  }
  s.console.line(
      fmt::format("Took {:.2f}s to erase flash block", seconds(Clock::now() - erase_start)));

  Progress progress(s.console, "Writing", data.size());
  esp::Inflater inflater;  // counts each compressed block's output, for its timeout
  ByteBuffer scratch(0x8000);
  ByteBuffer block;
  std::uint32_t written = 0;  // uncompressed bytes, for the progress address
  for (std::uint32_t sequence = 0; sequence < blocks; ++sequence) {
    const std::size_t from = std::size_t{sequence} * rom_flash_block;
    const std::size_t length = std::min<std::size_t>(rom_flash_block, data.size() - from);
    block.assign(data.begin() + static_cast<std::ptrdiff_t>(from),
                 data.begin() + static_cast<std::ptrdiff_t>(from + length));
    progress.update(address + written, from);
    Duration timeout = esp::command_timeout(Op::flash_data, false);
    std::uint64_t produced = 0;
    if (compressed) {
      ByteView input = block;
      while (!input.empty() || produced == 0) {
        auto step = inflater.inflate(input, scratch);
        if (!step) break;
        produced += step->produced;
        input = input.subspan(step->consumed);
        if (step->finished || (step->consumed == 0 && step->produced == 0)) break;
      }
      timeout = esp::command_timeout(Op::flash_defl_data, false, produced);
    } else {
      block.resize(rom_flash_block, 0xFF);  // esptool pads the last block to the full size
      produced = block.size();
    }
    if (auto error = send_block(s, block, sequence, compressed, timeout)) {
      progress.finish();
      return error;
    }
    written += static_cast<std::uint32_t>(produced);
  }
  progress.update(address + written, data.size());
  progress.finish();
  const Duration elapsed = progress.elapsed();
  if (compressed) {
    s.console.line(fmt::format(
        "Wrote {} bytes ({} compressed) at 0x{:08x} in {:.1f} seconds (effective {:.1f} "
        "kbit/s)...",
        size, data.size(), address, seconds(elapsed), kbit_per_second(size, elapsed)));
  } else {
    const std::uint64_t sent = std::uint64_t{blocks} * rom_flash_block;
    s.console.line(fmt::format("Wrote {} bytes at 0x{:08x} in {:.1f} seconds ({:.1f} kbit/s)...",
                               sent, address, seconds(elapsed), kbit_per_second(sent, elapsed)));
  }
  return check_md5(s, address, image);
}

MaybeError write_flash(Session& s, const WriteFlashCommand& c,
                       const std::vector<ByteBuffer>& images) {
  for (std::size_t i = 0; i < c.files.size(); ++i) {
    if (auto error = check_range(s, c.files[i].address, images[i].size(),
                                 fmt::format("File {}", c.files[i].path))) {
      return error;
    }
  }
  if (c.erase_all) {
    if (auto error = erase_flash(s)) return error;
  }
  s.console.line("Configuring flash size...");
  if (auto error = s.loader.spi_set_params(s.flash_size)) return error;
  if (!c.erase_all) {
    for (std::size_t i = 0; i < c.files.size(); ++i) {
      if (images[i].empty()) continue;
      const std::uint32_t start = c.files[i].address & ~(esp::flash_sector_size - 1);
      const std::uint32_t end =
          round_up(c.files[i].address + static_cast<std::uint32_t>(images[i].size()),
                   esp::flash_sector_size);
      s.console.line(
          fmt::format("Flash will be erased from 0x{:08x} to 0x{:08x}...", start, end - 1));
    }
  }
  for (std::size_t i = 0; i < c.files.size(); ++i) {
    if (images[i].empty()) {
      s.console.line(fmt::format("WARNING: File {} is empty", c.files[i].path));
      continue;
    }
    if (auto error = write_one(s, c.files[i].address, images[i], c.compress)) return error;
  }
  s.console.line();
  s.console.line("Leaving...");
  return std::nullopt;
}

MaybeError read_flash(Session& s, const ReadFlashCommand& c) {
  if (auto error = check_range(s, c.address, c.size, "Read")) return error;
  if (auto error = s.loader.spi_set_params(s.flash_size)) return error;
  ByteBuffer data;
  data.reserve(c.size);
  Progress progress(s.console, "Reading", c.size);
  while (data.size() < c.size) {
    const auto at = c.address + static_cast<std::uint32_t>(data.size());
    progress.update(at, data.size());
    const auto chunk = std::min<std::uint32_t>(esp::read_flash_slow_block,
                                               c.size - static_cast<std::uint32_t>(data.size()));
    auto got = s.loader.read_flash_slow(at, chunk);
    if (!got) {
      progress.finish();
      return Error{got.error().code,
                   got.error().message +
                       "\nHint: Consider specifying flash size using '--flash_size' argument"};
    }
    append(data, *got);
  }
  progress.update(c.address + c.size, c.size);
  progress.finish();
  const Duration elapsed = progress.elapsed();
  s.console.line(fmt::format("Read {} bytes at 0x{:08x} in {:.1f} seconds ({:.1f} kbit/s)...",
                             data.size(), c.address, seconds(elapsed),
                             kbit_per_second(data.size(), elapsed)));
  return write_file(c.path, data);
}

MaybeError verify_flash(Session& s, const VerifyFlashCommand& c,
                        const std::vector<ByteBuffer>& images) {
  if (auto error = s.loader.spi_set_params(s.flash_size)) return error;
  bool failed = false;
  for (std::size_t i = 0; i < c.files.size(); ++i) {
    ByteBuffer image = images[i];
    image.resize(round_up(static_cast<std::uint32_t>(image.size()), 4), 0xFF);
    const std::uint32_t address = c.files[i].address;
    if (auto error = check_range(s, address, image.size(), fmt::format("File {}", c.files[i].path)))
      return error;
    s.console.line(fmt::format("Verifying 0x{:x} ({}) bytes @ 0x{:08x} in flash against {}...",
                               image.size(), image.size(), address, c.files[i].path));
    auto flash = s.loader.flash_md5(address, static_cast<std::uint32_t>(image.size()));
    if (!flash) return flash.error();
    if (*flash == esp::to_hex(esp::md5(image))) {
      s.console.line("-- verify OK (digest matched)");
    } else {
      s.console.line("-- verify FAILED (digest mismatch)");
      failed = true;
    }
  }
  if (failed) return make_error(errc::digest_mismatch, "Verify failed.");
  return std::nullopt;
}

MaybeError run_user_code(Session& s) {
  if (auto error = s.loader.flash_begin(0, 0, 0, false, esp::default_timeout)) return error;
  return s.loader.flash_end(false, true);
}

// ------------------------------------------------------------------------------------------
// Around the command

// The ESP32 ROM measures its own clock wrongly by the ratio of its RC oscillator to the
// crystal; esptool asks for a rate skewed by the inverse ratio so the result comes out right.
Outcome<std::uint32_t> rom_baud_word(Loader& loader, const esp::ChipInfo& chip,
                                     std::uint32_t baud) {
  if (chip.efuse_layout != esp::EfuseLayout::esp32) return baud;
  constexpr std::uint32_t rtc_cali_cfg1 = 0x3FF5F06C;
  auto cali_reg = loader.read_reg(rtc_cali_cfg1);
  if (!cali_reg) return cali_reg.error();
  auto word4 = loader.read_reg(chip.efuse_base + 0x10);
  if (!word4) return word4.error();
  const double cali = static_cast<double>((*cali_reg >> 7) & 0x1FFFFFF);
  const double ck8m = static_cast<double>(*word4 & 0xFF);
  const double rom_freq = cali * 15625.0 * ck8m / 40.0;
  if (rom_freq <= 0) return baud;
  const double xtal = rom_freq > 33e6 ? 40e6 : 26e6;
  return static_cast<std::uint32_t>(static_cast<double>(baud) * rom_freq / xtal);
}

MaybeError change_baud(Session& s, std::uint32_t baud) {
  s.console.line(fmt::format("Changing baud rate to {}", baud));
  auto word = rom_baud_word(s.loader, s.chip, baud);
  if (!word) return word.error();
  if (auto error = s.loader.change_baudrate(*word)) return error;
  if (auto ec = s.port.set_baud(baud)) {
    return make_error(errc::port_failed,
                      fmt::format("Could not set the port to {} baud: {}", baud, ec.message()));
  }
  s.port.pause(baud_settle);
  if (auto error = s.loader.purge()) return error;
  s.console.line("Changed.");
  return std::nullopt;
}

MaybeError attach_flash(Session& s) {
  std::uint32_t config = 0;
  if (s.chip.efuse_layout == esp::EfuseLayout::esp32) {
    auto w5 = s.loader.read_reg(s.chip.efuse_base + 0x14);
    if (!w5) return w5.error();
    auto w3 = s.loader.read_reg(s.chip.efuse_base + 0x0C);
    if (!w3) return w3.error();
    const std::uint32_t clk = *w5 & 0x1F, q = *w5 >> 5 & 0x1F, d = *w5 >> 10 & 0x1F,
                        cs = *w5 >> 15 & 0x1F, hd = *w3 >> 4 & 0x1F;
    if (clk | q | d | cs | hd) {
      s.console.line(
          fmt::format("Attaching flash from eFuses' SPI pads configuration(CLK:{}, Q:{}, D:{}, "
                      "HD:{}, CS:{})...",
                      clk, q, d, hd, cs));
      config = hd << 24 | cs << 18 | d << 12 | q << 6 | clk;
    }
  }
  if (config == 0) s.console.line("Enabling default SPI flash mode...");
  return s.loader.spi_attach(config);
}

MaybeError run_command(Session& s, const Command& command, const FlashId& id,
                       const std::vector<ByteBuffer>& images) {
  return std::visit(
      [&](const auto& c) -> MaybeError {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ChipIdCommand>) {
          auto mac = read_mac(s.loader, s.chip);
          if (!mac) return mac.error();
          s.console.line(
              fmt::format("Warning: {} has no Chip ID. Reading MAC instead.", s.chip.chip_name));
          s.console.line(fmt::format("MAC: {}", format_mac(*mac)));
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, ReadMacCommand>) {
          auto mac = read_mac(s.loader, s.chip);
          if (!mac) return mac.error();
          s.console.line(fmt::format("MAC: {}", format_mac(*mac)));
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, FlashIdCommand>) {
          s.console.line(fmt::format("Manufacturer: {:02x}", id.manufacturer));
          s.console.line(fmt::format("Device: {:02x}{:02x}", id.memory_type, id.capacity));
          s.console.line(fmt::format("Detected flash size: {}", flash_size_name(id.capacity)));
          auto voltage = read_flash_voltage(s.loader, s.chip);
          if (!voltage) return voltage.error();
          if (*voltage) s.console.line(**voltage);
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, WriteFlashCommand>) {
          return write_flash(s, c, images);
        } else if constexpr (std::is_same_v<T, ReadFlashCommand>) {
          return read_flash(s, c);
        } else if constexpr (std::is_same_v<T, VerifyFlashCommand>) {
          return verify_flash(s, c, images);
        } else if constexpr (std::is_same_v<T, EraseFlashCommand>) {
          return erase_flash(s);
        } else if constexpr (std::is_same_v<T, EraseRegionCommand>) {
          return erase_region(s, c);
        } else {
          static_assert(std::is_same_v<T, RunCommand>);
          return run_user_code(s);
        }
      },
      command);
}

// The files a command reads, read before touching the port (a typo fails at once).
Outcome<std::vector<ByteBuffer>> load_images(const Command& command) {
  const std::vector<FlashFile>* files = nullptr;
  if (const auto* write = std::get_if<WriteFlashCommand>(&command)) files = &write->files;
  if (const auto* verify = std::get_if<VerifyFlashCommand>(&command)) files = &verify->files;
  std::vector<ByteBuffer> images;
  if (files == nullptr) return images;
  for (const auto& file : *files) {
    auto data = read_file(file.path);
    if (!data) return data.error();
    images.push_back(std::move(*data));
  }
  return images;
}

int fatal(Console& console, std::string_view message) {
  console.error_line(fmt::format("\nA fatal error occurred: {}", message));
  return exit_fatal;
}

}  // namespace

Result<std::uint32_t, std::string> parse_number(std::string_view text) {
  std::string_view digits = text;
  std::uint64_t scale = 1;
  std::string lower;
  for (const char ch : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  int base = 10;
  if (lower.starts_with("0x")) {
    base = 16;
    digits = digits.substr(2);
  } else {
    for (const auto& [suffix, factor] : {std::pair<std::string_view, std::uint64_t>{"kb", 1024},
                                         {"k", 1024},
                                         {"mb", 1024 * 1024},
                                         {"m", 1024 * 1024}}) {
      if (lower.ends_with(suffix)) {
        digits = digits.substr(0, digits.size() - suffix.size());
        scale = factor;
        break;
      }
    }
  }
  if (digits.empty()) return fmt::format("'{}' is not a number", text);
  std::uint64_t value = 0;
  for (const char ch : digits) {
    const int digit = std::isdigit(static_cast<unsigned char>(ch))
                          ? ch - '0'
                          : (base == 16 && std::isxdigit(static_cast<unsigned char>(ch))
                                 ? std::tolower(static_cast<unsigned char>(ch)) - 'a' + 10
                                 : -1);
    if (digit < 0) return fmt::format("'{}' is not a number", text);
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
    if (value > 0xFFFFFFFFull) return fmt::format("'{}' is too large", text);
  }
  value *= scale;
  if (value > 0xFFFFFFFFull) return fmt::format("'{}' is too large", text);
  return static_cast<std::uint32_t>(value);
}

int run_esptool(const GlobalOptions& options, const Command& command, Console& console) {
  const esp::ChipInfo* requested = nullptr;
  if (options.chip != "auto") {
    auto chip = esp::find_chip(options.chip);
    if (!chip) {
      console.error_line(fmt::format("error: unknown chip '{}'", options.chip));
      return exit_bad_argument;
    }
    requested = *chip;
  }
  auto images = load_images(command);
  if (!images) {
    console.error_line(fmt::format("error: {}", images.error().message));
    return exit_bad_argument;
  }

  console.line(fmt::format("ttynet esptool {}", version));
  console.line(fmt::format("Serial port {}", options.port));
  auto opened = port::BlockingPort::open(options.port);
  if (!opened) {
    return fatal(console, fmt::format("Could not open {}, the port is busy or doesn't exist.\n({})",
                                      options.port, opened.error().message));
  }
  auto& port = **opened;
  const PortKind kind = port_kind(options.port);
  const std::uint32_t first_baud = std::min(initial_baud, options.baud);
  if (auto ec = port.set_baud(first_baud)) {
    return fatal(console, fmt::format("Could not set {} baud on {}: {}", first_baud, options.port,
                                      ec.message()));
  }

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

  Loader loader(port);
  auto chip = connect_and_detect(loader, connect, console);
  if (!chip) {
    std::string message = chip.error().message;
    if (chip.error().code == errc::connect_failed) message += troubleshooting;
    return fatal(console, message);
  }
  const esp::ChipInfo& info = **chip;

  auto facts = read_chip_facts(loader, info, first_baud);
  if (!facts) return fatal(console, facts.error().message);
  console.line(fmt::format("Chip is {}", facts->description));
  console.line(fmt::format("Features: {}", join_features(facts->features)));
  console.line(fmt::format("Crystal is {}MHz", facts->crystal_mhz));
  console.line(fmt::format("MAC: {}", format_mac(facts->mac)));

  Session session{port, loader, info, console, options.flash_size.value_or(default_flash_size)};
  if (options.baud > first_baud) {
    if (kind == PortKind::socket) {
      console.line(
          fmt::format("Note: the baud rate of a raw TCP socket is the server's; "
                      "staying at {}.",
                      first_baud));
    } else if (auto error = change_baud(session, options.baud)) {
      return fatal(console, error->message);
    }
  }
  if (auto error = attach_flash(session)) return fatal(console, error->message);
  auto id = read_flash_id(loader, info);
  if (!id) return fatal(console, id.error().message);
  const std::uint32_t raw_id = id->manufacturer | id->memory_type << 8 | id->capacity << 16;
  if (raw_id == 0xFFFFFF || raw_id == 0) {
    console.line(
        "WARNING: Failed to communicate with the flash chip, read/write operations "
        "will fail. Try checking the chip connections or removing any other hardware "
        "connected to IOs.");
  }
  if (!options.flash_size) {
    if (auto detected = flash_size_bytes(id->capacity)) {
      session.flash_size = *detected;
    } else if (!std::holds_alternative<FlashIdCommand>(command)) {
      console.line(
          fmt::format("WARNING: Could not auto-detect Flash size (FlashID=0x{:x}, "
                      "SizeID=0x{:x}), defaulting to 4MB",
                      raw_id, id->capacity));
    }
  }

  if (auto error = run_command(session, command, *id, *images)) {
    return fatal(console, error->message);
  }

  if (options.after == AfterAction::hard_reset) {
    console.line("Hard resetting via RTS pin...");
    // A port without modem lines cannot reset: esptool says nothing more either.
    (void)port.run(port::play_reset(port.port(), esp::hard_reset()));
  } else {
    console.line("Staying in bootloader.");
  }
  port.close();
  return exit_ok;
}

}  // namespace ttynet::esptool
