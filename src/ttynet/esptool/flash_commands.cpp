// write_flash, read_flash, verify_flash, erase_flash, erase_region and run, over the ROM.

#include "ttynet/esptool/flash_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esptool/deflate.hpp"
#include "ttynet/esptool/progress.hpp"

namespace ttynet::esptool {
namespace {

using esp::Op;

constexpr int write_block_attempts = 3;

std::uint32_t blocks_for(std::uint64_t bytes, std::uint32_t block) {
  return static_cast<std::uint32_t>((bytes + block - 1) / block);
}

std::uint32_t round_up(std::uint32_t value, std::uint32_t unit) {
  return blocks_for(value, unit) * unit;
}

// The ROM writes and hashes whole 32-bit words: esptool pads an image with erased bytes.
void pad_to_words(ByteBuffer& image) {
  image.resize(round_up(static_cast<std::uint32_t>(image.size()), 4), 0xFF);
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

MaybeError erase_range(Session& s, std::uint32_t address, std::uint32_t size) {
  return s.loader.flash_begin(size, blocks_for(size, rom_flash_block), address, false,
                              esp::command_timeout(Op::flash_begin, false, size));
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
  pad_to_words(image);
  const auto size = static_cast<std::uint32_t>(image.size());

  ByteBuffer data = image;
  std::uint32_t erase_size = size;
  if (compressed) {
    auto packed = deflate(image);
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
  InflatedSize inflated;  // each compressed block's output, for its timeout
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
      produced = inflated.next(block);
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

}  // namespace

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
    pad_to_words(image);
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

}  // namespace ttynet::esptool
