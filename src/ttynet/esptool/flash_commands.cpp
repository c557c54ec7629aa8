// write_flash, read_flash, verify_flash, erase_flash, erase_region and run, over the ROM.

#include "ttynet/esptool/flash_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esptool/deflate.hpp"
#include "ttynet/esptool/progress.hpp"

namespace ttynet::esptool {
namespace {

using esp::Op;

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

// SPI_SET_PARAMS with the flash size, as esptool sends it before flash work; its reply decides
// nothing, so it goes with the next exchange.
void post_spi_params(Session& s) {
  s.loader.post(std::vector{Loader::spi_set_params_request(s.flash_size)});
}

// Compares the chip's MD5 of a region with the image's, as esptool reports it.
MaybeError check_md5(Session& s, const std::string& flash, ByteView image) {
  const std::string expected = esp::to_hex(esp::md5(image));
  if (flash == expected) {
    s.console.line("Hash of data verified.");
    return std::nullopt;
  }
  s.console.line(fmt::format("File  md5: {}", expected));
  s.console.line(fmt::format("Flash md5: {}", flash));
  const ByteBuffer erased(image.size(), 0xFF);
  s.console.line(fmt::format("MD5 of 0xFF is {}", esp::to_hex(esp::md5(erased))));
  return make_error(errc::digest_mismatch, "MD5 of file does not match data in flash!");
}

// One stretch of an image as one sequence: BEGIN (which erases), every block, the MD5 of what
// was written. `address` is a sector boundary.
MaybeError write_stretch(Session& s, std::uint32_t address, ByteView image, bool compressed) {
  const auto size = static_cast<std::uint32_t>(image.size());
  ByteBuffer data(image.begin(), image.end());
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
  std::vector<LoaderRequest> requests;
  requests.reserve(blocks + 2);
  requests.push_back(s.loader.begin_request(
      erase_size, blocks, address, compressed,
      esp::command_timeout(compressed ? Op::flash_defl_begin : Op::flash_begin, false,
                           erase_size)));
  InflatedSize inflated;                     // each compressed block's output, for its timeout
  std::vector<std::uint32_t> written_after;  // uncompressed bytes after each block
  std::uint32_t written = 0;
  for (std::uint32_t sequence = 0; sequence < blocks; ++sequence) {
    const std::size_t from = std::size_t{sequence} * rom_flash_block;
    const std::size_t length = std::min<std::size_t>(rom_flash_block, data.size() - from);
    ByteBuffer block(data.begin() + static_cast<std::ptrdiff_t>(from),
                     data.begin() + static_cast<std::ptrdiff_t>(from + length));
    Duration timeout = esp::command_timeout(Op::flash_data, false);
    std::uint64_t produced = 0;
    if (compressed) {
      produced = inflated.next(block);
      timeout = esp::command_timeout(Op::flash_defl_data, false, produced);
    } else {
      block.resize(rom_flash_block, 0xFF);  // esptool pads the last block to the full size
      produced = block.size();
    }
    requests.push_back(Loader::block_request(block, sequence, compressed, timeout));
    written += static_cast<std::uint32_t>(produced);
    written_after.push_back(written);
  }
  requests.push_back(Loader::md5_request(address, size));

  const auto erase_start = Clock::now();
  std::optional<Progress> progress;
  Duration elapsed{};  // writing the blocks, as esptool times it
  const auto on_reply = [&](std::size_t index) {
    if (index == 0) {
      s.console.line(
          fmt::format("Took {:.2f}s to erase flash block", seconds(Clock::now() - erase_start)));
      progress.emplace(s.console, "Writing", data.size());
      progress->update(address, 0);
    } else if (index <= blocks) {
      const std::size_t sent =
          std::min<std::size_t>(std::size_t{index} * rom_flash_block, data.size());
      progress->update(address + written_after[index - 1], sent);
      if (index == blocks) elapsed = progress->elapsed();
    }
  };
  auto replies = s.loader.exchange(requests, on_reply);
  if (progress) progress->finish();
  if (!replies) return replies.error();
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
  auto flash = md5_text(replies->back());
  if (!flash) return flash.error();
  return check_md5(s, *flash, image);
}

// A run of sectors, in bytes from the start of an image.
struct Stretch {
  std::uint32_t from = 0;
  std::uint32_t size = 0;
};

// What of an image the chip does not hold yet, by MD5. Through a server that paces frames,
// every 4 KiB sector's MD5 in one exchange, and the runs of sectors that differ; otherwise
// one MD5 of the whole range (one round trip per sector would cost more than it saves), and
// the whole image unless it matches.
Result<std::vector<Stretch>, Error> stretches_to_write(Session& s, std::uint32_t address,
                                                       ByteView image) {
  const auto size = static_cast<std::uint32_t>(image.size());
  const Stretch whole{.from = 0, .size = size};
  if (!s.loader.port().paces_esp_frames()) {
    auto flash = s.loader.flash_md5(address, size);
    if (!flash) return flash.error();
    if (*flash == esp::to_hex(esp::md5(image))) return std::vector<Stretch>{};
    return std::vector<Stretch>{whole};
  }
  std::vector<LoaderRequest> requests;
  for (std::uint32_t from = 0; from < size; from += esp::flash_sector_size) {
    requests.push_back(Loader::md5_request(
        address + from, std::min<std::uint32_t>(esp::flash_sector_size, size - from)));
  }
  auto replies = s.loader.exchange(requests);
  if (!replies) return replies.error();
  std::vector<Stretch> stretches;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    const auto from = static_cast<std::uint32_t>(i * esp::flash_sector_size);
    const auto length = std::min<std::uint32_t>(esp::flash_sector_size, size - from);
    auto flash = md5_text((*replies)[i]);
    if (!flash) return flash.error();
    if (*flash == esp::to_hex(esp::md5(image.subspan(from, length)))) continue;
    if (!stretches.empty() && stretches.back().from + stretches.back().size == from) {
      stretches.back().size += length;
    } else {
      stretches.push_back({.from = from, .size = length});
    }
  }
  return stretches;
}

// One file: the sectors that already hold its data are left alone unless `force`.
MaybeError write_one(Session& s, std::uint32_t address, ByteBuffer image, bool compressed,
                     bool force) {
  // The ROM writes from sector boundaries only: start earlier with erased bytes.
  const std::uint32_t lead = address % esp::flash_sector_size;
  if (lead != 0) {
    image.insert(image.begin(), lead, 0xFF);
    address -= lead;
  }
  pad_to_words(image);
  const auto size = static_cast<std::uint32_t>(image.size());
  std::vector<Stretch> stretches{{.from = 0, .size = size}};
  if (!force) {
    auto differing = stretches_to_write(s, address, image);
    if (!differing) return differing.error();
    stretches = std::move(*differing);
    std::uint32_t kept = size;
    for (const Stretch& stretch : stretches) kept -= stretch.size;
    if (stretches.empty()) {
      s.console.line(fmt::format(
          "Skipped 0x{:08x}..0x{:08x} ({} bytes): the flash already holds this data (--force "
          "writes it anyway).",
          address, address + size - 1, size));
      s.console.line("Hash of data verified.");
      return std::nullopt;
    }
    if (kept > 0) {
      s.console.line(fmt::format(
          "Skipping {} of {} bytes at 0x{:08x} that the flash already holds; writing {} "
          "stretch(es).",
          kept, size, address, stretches.size()));
    }
  }
  for (const Stretch& stretch : stretches) {
    if (auto error =
            write_stretch(s, address + stretch.from,
                          ByteView{image}.subspan(stretch.from, stretch.size), compressed)) {
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace

MaybeError erase_flash(Session& s) {
  s.console.line("Erasing flash (this may take a while)...");
  const auto start = Clock::now();
  post_spi_params(s);
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
  post_spi_params(s);
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
  post_spi_params(s);
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
    if (auto error =
            write_one(s, c.files[i].address, images[i], c.compress, c.force || c.erase_all)) {
      return error;
    }
  }
  s.console.line();
  s.console.line("Leaving...");
  return std::nullopt;
}

MaybeError read_flash(Session& s, const ReadFlashCommand& c) {
  if (auto error = check_range(s, c.address, c.size, "Read")) return error;
  post_spi_params(s);
  std::vector<LoaderRequest> requests;
  for (std::uint32_t done = 0; done < c.size; done += esp::read_flash_slow_block) {
    requests.push_back(Loader::read_flash_slow_request(
        c.address + done, std::min<std::uint32_t>(esp::read_flash_slow_block, c.size - done)));
  }
  Progress progress(s.console, "Reading", c.size);
  progress.update(c.address, 0);
  auto replies = s.loader.exchange(requests, [&](std::size_t index) {
    const auto done = std::min<std::uint32_t>(
        static_cast<std::uint32_t>(index + 1) * esp::read_flash_slow_block, c.size);
    progress.update(c.address + done, done);
  });
  progress.finish();
  if (!replies) {
    return Error{replies.error().code,
                 replies.error().message +
                     "\nHint: Consider specifying flash size using '--flash_size' argument"};
  }
  ByteBuffer data;
  data.reserve(c.size);
  for (std::size_t i = 0; i < replies->size(); ++i) {
    auto block = Loader::read_flash_slow_data(requests[i], (*replies)[i]);
    if (!block) return block.error();
    append(data, *block);
  }
  const Duration elapsed = progress.elapsed();
  s.console.line(fmt::format("Read {} bytes at 0x{:08x} in {:.1f} seconds ({:.1f} kbit/s)...",
                             data.size(), c.address, seconds(elapsed),
                             kbit_per_second(data.size(), elapsed)));
  return write_file(c.path, data);
}

MaybeError verify_flash(Session& s, const VerifyFlashCommand& c,
                        const std::vector<ByteBuffer>& images) {
  post_spi_params(s);
  std::vector<ByteBuffer> padded;
  std::vector<LoaderRequest> requests;
  for (std::size_t i = 0; i < c.files.size(); ++i) {
    ByteBuffer image = images[i];
    pad_to_words(image);
    const std::uint32_t address = c.files[i].address;
    if (auto error = check_range(s, address, image.size(), fmt::format("File {}", c.files[i].path)))
      return error;
    requests.push_back(Loader::md5_request(address, static_cast<std::uint32_t>(image.size())));
    padded.push_back(std::move(image));
  }
  auto replies = s.loader.exchange(requests);
  if (!replies) return replies.error();
  bool failed = false;
  for (std::size_t i = 0; i < c.files.size(); ++i) {
    s.console.line(fmt::format("Verifying 0x{:x} ({}) bytes @ 0x{:08x} in flash against {}...",
                               padded[i].size(), padded[i].size(), c.files[i].address,
                               c.files[i].path));
    auto flash = md5_text((*replies)[i]);
    if (!flash) return flash.error();
    if (*flash == esp::to_hex(esp::md5(padded[i]))) {
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
