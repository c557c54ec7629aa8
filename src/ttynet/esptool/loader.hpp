#pragma once
// The ROM serial loader's client side, over any port (port::BlockingPort): one request out,
// the matching response in, as esptool's loader does it (docs/reference/esp-loader-protocol.md
// §3): frames that are too short or not responses are skipped, a reply to another opcode with
// status "invalid message" means the command is not supported, anything else is read past (at
// most max_skipped_frames). Every wait has its own deadline from the command table
// (esp::command_timeout), plus the port's network round trip; nothing is stored on the port.
//
// Bytes outside frames (a boot log, an application's output) are kept apart: they never
// break the framing, and a reply that never comes is reported as esptool reports it, "No
// serial data received." or "Invalid head of packet (0x..)" when only noise came.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/esptool/error.hpp"
#include "ttynet/port/blocking_port.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esptool {

// A response whose status said success: the header's value and the data before the status.
struct Reply {
  std::uint32_t value = 0;
  ByteBuffer payload;
};

// The ROM's FLASH_DATA / FLASH_DEFL_DATA block (FLASH_WRITE_SIZE of the ROM classes).
inline constexpr std::uint32_t rom_flash_block = 0x400;
inline constexpr std::size_t sync_replies = 8;  // the ROM answers one SYNC eight times
inline constexpr std::size_t max_skipped_frames = 100;

class Loader {
 public:
  explicit Loader(port::BlockingPort& port);

  port::BlockingPort& port() { return port_; }
  // Status bytes at the end of each response: 4 for the ESP32-family ROMs (the default).
  void set_status_length(std::size_t length) { status_length_ = length; }
  std::size_t status_length() const { return status_length_; }
  // The four-word FLASH_BEGIN/FLASH_DEFL_BEGIN of S2-and-later ROMs gets a fifth word.
  void set_begin_takes_encrypt_flag(bool takes) { begin_takes_encrypt_flag_ = takes; }

  // Sends a request and returns the response answering it (status not checked).
  Result<esp::Response, Error> command(esp::Op op, ByteView data, Duration timeout,
                                       std::uint32_t checksum = 0);
  // The next response frame, whatever its opcode (the extra SYNC replies).
  Result<esp::Response, Error> next_response(Duration timeout);
  // command() and its status: a failure becomes "Failed to <what> (result was 0105: ...)".
  Result<Reply, Error> check_command(std::string_view what, esp::Op op, ByteView data,
                                     Duration timeout, std::uint32_t checksum = 0);

  // Purges the port both ways and forgets partial frames and queued replies.
  MaybeError purge();
  // Drops what the device sent so far (frames and noise), keeping the port's own buffers.
  void forget_input();

  // SYNC, then the seven further replies the ROM sends for it.
  MaybeError sync();
  Result<std::uint32_t, Error> read_reg(std::uint32_t address);
  MaybeError write_reg(std::uint32_t address, std::uint32_t value, std::uint32_t mask = 0xFFFFFFFF,
                       std::uint32_t delay_us = 0);
  // The ROM form: config word and a zero "legacy" word.
  MaybeError spi_attach(std::uint32_t config);
  MaybeError spi_set_params(std::uint32_t total_size);
  // FLASH_BEGIN (or FLASH_DEFL_BEGIN): the ROM erases `erase_size` bytes from `offset` now.
  MaybeError flash_begin(std::uint32_t erase_size, std::uint32_t blocks, std::uint32_t offset,
                         bool compressed, Duration timeout);
  MaybeError flash_block(ByteView payload, std::uint32_t sequence, bool compressed,
                         Duration timeout);
  // FLASH_END / FLASH_DEFL_END: run_user_code leaves the loader for the application.
  MaybeError flash_end(bool compressed, bool run_user_code);
  // The ROM's answer: 32 lower-case hex digits.
  Result<std::string, Error> flash_md5(std::uint32_t address, std::uint32_t size);
  // At most 64 bytes (read_flash_slow_block).
  Result<ByteBuffer, Error> read_flash_slow(std::uint32_t address, std::uint32_t size);
  // ROM form: the rate word (already skewed for the ESP32 ROM) and 0.
  MaybeError change_baudrate(std::uint32_t baud_word);
  Result<ByteBuffer, Error> get_security_info();

  // The first byte that arrived outside any frame since the last purge, if any.
  std::optional<Byte> first_noise() const { return first_noise_; }

 private:
  Duration reply_limit(Duration chip_time) const;
  Result<ByteBuffer, Error> read_frame(TimePoint deadline);
  void feed(ByteView input);
  MaybeError send(esp::Op op, ByteView data, std::uint32_t checksum);

  port::BlockingPort& port_;
  esp::slip::Decoder decoder_;
  std::deque<ByteBuffer> frames_;
  ByteBuffer rx_;
  ByteBuffer tx_;
  ByteBuffer packet_;
  std::optional<Byte> first_noise_;
  std::size_t status_length_ = esp::esp32_rom_status_length;
  bool begin_takes_encrypt_flag_ = false;
};

// "result was 0107: ..." : the two status bytes and what they mean.
std::string describe_status(esp::Status status);

}  // namespace ttynet::esptool
