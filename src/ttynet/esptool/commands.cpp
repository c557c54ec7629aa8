#include "ttynet/esptool/commands.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "ttynet/esptool/flash_commands.hpp"
#include "ttynet/esptool/info_commands.hpp"
#include "ttynet/esptool/session.hpp"

namespace ttynet::esptool {
namespace {

MaybeError run_command(Session& s, const Command& command, const std::vector<ByteBuffer>& images) {
  return std::visit(
      [&](const auto& c) -> MaybeError {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ChipIdCommand>) {
          return print_chip_id(s);
        } else if constexpr (std::is_same_v<T, ReadMacCommand>) {
          return print_mac(s);
        } else if constexpr (std::is_same_v<T, FlashIdCommand>) {
          return print_flash_id(s);
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

Result<ByteBuffer, Error> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(errc::file_error,
                      fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  return ByteBuffer(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The files a command reads, read before touching the port (a typo fails at once).
Result<std::vector<ByteBuffer>, Error> load_images(const Command& command) {
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

  auto session =
      open_session(options, requested, std::holds_alternative<FlashIdCommand>(command), console);
  if (!session) return fatal(console, session.error().message);
  if (auto error = run_command(*session, command, *images)) return fatal(console, error->message);
  close_session(*session, options.after);
  return exit_ok;
}

}  // namespace ttynet::esptool
