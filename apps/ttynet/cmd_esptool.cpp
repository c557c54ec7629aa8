// `ttynet esptool`: an esptool-compatible flasher over any port URL. Options and command
// names follow esptool's v4 (write_flash, default_reset) and v5 (write-flash, default-reset)
// spellings; the work is ttynet::esptool's.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "ttynet/esptool/commands.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/parse.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::app {
namespace {

struct EsptoolCli {
  esptool::GlobalOptions options;
  std::string before = "default_reset";
  std::string after = "hard_reset";
  std::string flash_size;
  bool no_stub = false;
  int verbosity = 0;
  esptool::Command command;
  // Arguments of the commands, filled by CLI11, turned into `command` by its callback.
  std::vector<std::string> pairs;
  std::string address, size, path;
  bool compress = false, no_compress = false, erase_all = false, force = false;
  std::string ignored;
};

// esptool's v5 names are v4's with '-' for '_'; CLI11 aliases cover both.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help) {
  auto* sub = parent.add_subcommand(name, help);
  std::string hyphen = name;
  std::replace(hyphen.begin(), hyphen.end(), '_', '-');
  if (hyphen != name) sub->alias(hyphen);
  return sub;
}

// esptool's numbers: "0x10000", "65536", and with a size suffix "4K", "1MB" (powers of 1024).
Result<std::uint32_t, Error> parse_number(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  std::string_view digits = lower;
  int base = 10;
  std::uint64_t scale = 1;
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  } else {
    for (const auto& [suffix, factor] : {std::pair<std::string_view, std::uint64_t>{"kb", 1024},
                                         {"k", 1024},
                                         {"mb", 1024 * 1024},
                                         {"m", 1024 * 1024}}) {
      if (digits.ends_with(suffix)) {
        digits.remove_suffix(suffix.size());
        scale = factor;
        break;
      }
    }
  }
  const auto value = parse_whole<std::uint64_t>(digits, base);
  if (!value)
    return make_error(std::errc::invalid_argument, fmt::format("'{}' is not a number", text));
  if (*value > std::numeric_limits<std::uint32_t>::max() / scale) {
    return make_error(std::errc::result_out_of_range, fmt::format("'{}' is too large", text));
  }
  return static_cast<std::uint32_t>(*value * scale);
}

std::uint32_t number(const std::string& text, const std::string& what) {
  auto value = parse_number(text);
  if (!value) throw CLI::ValidationError(what, value.error().message);
  return *value;
}

std::vector<esptool::FlashFile> flash_files(const std::vector<std::string>& pairs) {
  if (pairs.empty() || pairs.size() % 2 != 0) {
    throw CLI::ValidationError("ADDR FILE", "expected address/file pairs");
  }
  std::vector<esptool::FlashFile> files;
  for (std::size_t i = 0; i < pairs.size(); i += 2) {
    files.push_back({number(pairs[i], "address"), pairs[i + 1]});
  }
  return files;
}

void add_flash_size(CLI::App* sub, EsptoolCli& cli) {
  sub->add_option("--flash_size,--flash-size,-s", cli.flash_size,
                  "Flash size: detect/keep (default, from the flash ID) or e.g. 4MB");
  sub->add_option("--flash_mode,--flash-mode,-m", cli.ignored, "Accepted and ignored");
  sub->add_option("--flash_freq,--flash-freq,-f", cli.ignored, "Accepted and ignored");
}

}  // namespace

void add_esptool_command(CLI::App& app) {
  auto cli = std::make_shared<EsptoolCli>();
  auto* esptool = app.add_subcommand(
      "esptool",
      "esptool-compatible flasher over any port URL (device path, rfc2217://, socket://, "
      "their +tls forms, sim://). Talks to the ROM loader directly: no stub is uploaded.");
  esptool->require_subcommand(1);
  esptool->add_option("-p,--port", cli->options.port, "Port URL");
  esptool
      ->add_option("-b,--baud", cli->options.baud,
                   "Baud rate after connecting (CHANGE_BAUDRATE when above 115200)")
      ->capture_default_str();
  esptool->add_option("-c,--chip", cli->options.chip, "Target chip")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "esp32", "esp32c3", "esp32s3", "esp32-c3", "esp32-s3"}));
  esptool
      ->add_option("--before", cli->before,
                   "Reset before connecting: default_reset, usb_reset, no_reset, "
                   "no_reset_no_sync (or with '-')")
      ->capture_default_str();
  esptool
      ->add_option("--after,-a", cli->after,
                   "After the command: hard_reset or no_reset (or with '-')")
      ->capture_default_str();
  esptool
      ->add_option("--connect-attempts,--connect_attempts", cli->options.connect_attempts,
                   "Connection attempts (0 or less: forever)")
      ->capture_default_str();
  esptool->add_flag("--no-stub,--no_stub", cli->no_stub,
                    "Accepted: ttynet always talks to the ROM loader");
  esptool->add_flag("-v,--verbose", cli->verbosity, "Port log output (repeatable)");

  const auto set = [cli](esptool::Command command) { cli->command = std::move(command); };
  add_command(*esptool, "chip_id", "Print the chip's MAC (ESP32 chips have no chip ID)")
      ->callback([set] { set(esptool::ChipIdCommand{}); });
  add_command(*esptool, "flash_id", "Print the SPI flash's manufacturer, device and size")
      ->callback([set] { set(esptool::FlashIdCommand{}); });
  add_command(*esptool, "read_mac", "Print the MAC address")->callback([set] {
    set(esptool::ReadMacCommand{});
  });

  auto* write = add_command(*esptool, "write_flash", "Write files to flash, then verify MD5");
  write->add_option("addr_file", cli->pairs, "ADDR FILE [ADDR FILE ...]")->required();
  write->add_flag("-z,--compress", cli->compress, "Compress the data (the default)");
  write->add_flag("-u,--no-compress,--no_compress", cli->no_compress, "Send the data as is");
  write->add_flag("-e,--erase-all,--erase_all", cli->erase_all, "Erase the whole flash first");
  write->add_flag("--force", cli->force,
                  "Write every sector, also those that already hold the data (by MD5)");
  add_flash_size(write, *cli);
  write->callback([cli, set] {
    esptool::WriteFlashCommand c;
    c.files = flash_files(cli->pairs);
    c.compress = !cli->no_compress;
    c.erase_all = cli->erase_all;
    c.force = cli->force;
    set(std::move(c));
  });

  auto* read = add_command(*esptool, "read_flash", "Read flash into a file");
  read->add_option("address", cli->address, "Start address")->required();
  read->add_option("size", cli->size, "Bytes to read")->required();
  read->add_option("file", cli->path, "Output file")->required();
  add_flash_size(read, *cli);
  read->callback([cli, set] {
    set(esptool::ReadFlashCommand{number(cli->address, "address"), number(cli->size, "size"),
                                  cli->path});
  });

  auto* verify = add_command(*esptool, "verify_flash", "Compare flash with files (MD5)");
  verify->add_option("addr_file", cli->pairs, "ADDR FILE [ADDR FILE ...]")->required();
  add_flash_size(verify, *cli);
  verify->callback([cli, set] { set(esptool::VerifyFlashCommand{flash_files(cli->pairs)}); });

  add_command(*esptool, "erase_flash", "Erase the whole flash")->callback([set] {
    set(esptool::EraseFlashCommand{});
  });
  auto* erase = add_command(*esptool, "erase_region", "Erase a region (4 KiB aligned)");
  erase->add_option("address", cli->address, "Start address")->required();
  erase->add_option("size", cli->size, "Bytes to erase")->required();
  erase->callback([cli, set] {
    set(esptool::EraseRegionCommand{number(cli->address, "address"), number(cli->size, "size")});
  });
  add_command(*esptool, "run", "Leave the loader and run the application")->callback([set] {
    set(esptool::RunCommand{});
  });

  esptool->callback([cli] {
    if (cli->options.port.empty()) {
      print_error(
          "no port given; use -p/--port URL (a device path, rfc2217://HOST:PORT, "
          "socket://HOST:PORT or sim://esp32)");
      exit_code() = esptool::exit_bad_argument;
      return;
    }
    auto before = esptool::parse_before(cli->before);
    auto after = esptool::parse_after(cli->after);
    if (!before || !after) {
      print_error(!before ? "--before: expected default_reset, usb_reset, no_reset or "
                            "no_reset_no_sync"
                          : "--after: expected hard_reset or no_reset");
      exit_code() = esptool::exit_bad_argument;
      return;
    }
    cli->options.before = *before;
    cli->options.after = *after;
    if (!cli->flash_size.empty() && cli->flash_size != "detect" && cli->flash_size != "keep") {
      auto size = parse_number(cli->flash_size);
      if (!size || *size == 0) {
        print_error("--flash_size: expected detect, keep or a size such as 4MB");
        exit_code() = esptool::exit_bad_argument;
        return;
      }
      cli->options.flash_size = *size;
    }
    configure_logging(cli->verbosity);
    // esptool's own lines are the output; the port layer speaks up only when something is wrong.
    if (cli->verbosity == 0) spdlog::set_level(spdlog::level::warn);
    auto console = esptool::Console::standard();
    exit_code() = esptool::run_esptool(cli->options, cli->command, console);
  });
}

}  // namespace ttynet::app
