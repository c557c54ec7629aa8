#pragma once
// The ROM serial loader's client side, over any port (port::BlockingPort): one request out,
// the matching response in, as esptool's loader does it (docs/reference/esp-loader-protocol.md
// §3): frames that are too short or not responses are skipped, a reply to another opcode with
// status "invalid message" means the command is not supported, anything else is read past (at
// most max_skipped_frames). Every wait has its own deadline from the command table
// (esp::command_timeout), plus the port's network round trip; nothing is stored on the port.
//
// A sequence of requests (exchange()) goes lock-step the same way, unless the port's far server
// paces ESP frames (docs/design/paced-esp-frames.md): then the requests go out as one batch,
// at most a window ahead of the replies, and the server next to the chip releases each one
// when the chip has answered the one before. Replies are checked in order either way. Every
// request goes through exchange(), so requests posted for later (post()) always lead the next
// sequence.
//
// Bytes outside frames (a boot log, an application's output) are kept apart: they never
// break the framing, and a reply that never comes is reported as esptool reports it, "No
// serial data received." or "Invalid head of packet (0x..)" when only noise came.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
inline constexpr std::uint8_t sync_replies = 8;  // the ROM answers one SYNC eight times
inline constexpr int flash_block_attempts = 3;   // esptool's WRITE_BLOCK_ATTEMPTS
inline constexpr std::size_t max_skipped_frames = 100;

// One request of a sequence given to Loader::exchange().
struct LoaderRequest {
  esp::Op op;
  ByteBuffer data;
  Duration timeout;  // the chip's own time for the reply
  std::string what;  // "Failed to <what> (result was ...)"
  std::uint32_t checksum = 0;
  // Sent this many times in all before a failure or silence ends the sequence (esptool
  // re-sends a flash block up to three times).
  int attempts = 1;
  std::uint8_t replies = 1;  // frames the chip answers it with (SYNC: sync_replies)
  // Time the far server may spend before the request reaches the chip, added to the first
  // reply's wait: a reset it plays first.
  Duration lead_time{};
};

// Register values by address.
using RegisterValues = std::map<std::uint32_t, std::uint32_t>;

// What a sequence of requests came to: the replies of those answered, in order, and the error
// of the one that failed, if one did (nothing after it reached the chip).
struct Exchanged {
  std::vector<Reply> replies;
  std::optional<Error> error;
};

// How far a paced sequence runs ahead of its replies: far enough to keep the chip busy for a
// second of round trip at 921600 baud, well inside the server's queue (max_queued_bytes).
inline constexpr std::size_t paced_window_bytes = 128 * 1024;

class Loader {
 public:
  explicit Loader(port::BlockingPort& port);

  port::BlockingPort& port() { return port_; }
  // Status bytes at the end of each response: 4 for the ESP32-family ROMs (the default).
  void set_status_length(std::size_t length) { status_length_ = length; }
  std::size_t status_length() const { return status_length_; }
  // The four-word FLASH_BEGIN/FLASH_DEFL_BEGIN of S2-and-later ROMs gets a fifth word.
  void set_begin_takes_encrypt_flag(bool takes) { begin_takes_encrypt_flag_ = takes; }

  // Sends the requests in order and returns their replies, every status checked (a failure
  // becomes "Failed to <what> (result was 0105: ...)"); on_reply(i) runs as request i is
  // answered. The first failure ends the sequence (after the request's attempts), and nothing
  // after it reaches the chip.
  Exchanged exchange_some(std::span<const LoaderRequest> requests,
                          const std::function<void(std::size_t)>& on_reply = {});
  // exchange_some(), all or nothing.
  Result<std::vector<Reply>, Error> exchange(std::span<const LoaderRequest> requests,
                                             const std::function<void(std::size_t)>& on_reply = {});
  // One request as a sequence of one.
  Result<Reply, Error> run(const LoaderRequest& request);
  // READ_REG of each address, as one exchange.
  Result<std::vector<std::uint32_t>, Error> read_regs(std::span<const std::uint32_t> addresses);
  // READ_REG of each address once (repeats read once), as one exchange.
  Result<RegisterValues, Error> read_registers(std::span<const std::uint32_t> addresses);

  // Requests whose replies decide nothing that follows (registers put back, SPI_SET_PARAMS):
  // they lead the next exchange, in the same batch, so they cost no round trip of their own;
  // a failure among them fails that exchange.
  void post(std::span<const LoaderRequest> requests);
  // Forgets what was posted and not sent (the chip is about to be reset).
  void discard_posted() { posted_.clear(); }
  bool has_posted() const { return !posted_.empty(); }

  // Purges the port both ways and forgets partial frames and queued replies.
  MaybeError purge();
  // Drops what the device sent so far (frames and noise), keeping the port's own buffers.
  void forget_input();

  // SYNC and the seven further replies the ROM sends for it.
  static LoaderRequest sync_request();
  Result<std::uint32_t, Error> read_reg(std::uint32_t address);
  MaybeError write_reg(std::uint32_t address, std::uint32_t value, std::uint32_t mask = 0xFFFFFFFF,
                       std::uint32_t delay_us = 0);
  // The ROM form: config word and a zero "legacy" word.
  static LoaderRequest spi_attach_request(std::uint32_t config);
  static LoaderRequest spi_set_params_request(std::uint32_t total_size);
  // FLASH_BEGIN (or FLASH_DEFL_BEGIN): the ROM erases `erase_size` bytes from `offset` now.
  MaybeError flash_begin(std::uint32_t erase_size, std::uint32_t blocks, std::uint32_t offset,
                         bool compressed, Duration timeout);
  static LoaderRequest read_reg_request(std::uint32_t address);
  static LoaderRequest write_reg_request(std::uint32_t address, std::uint32_t value,
                                         std::uint32_t mask = 0xFFFFFFFF,
                                         std::uint32_t delay_us = 0);
  // The requests of a flash write, for exchange(): BEGIN as flash_begin() sends it, one
  // FLASH_DATA / FLASH_DEFL_DATA block (flash_block_attempts), the MD5 of a region.
  LoaderRequest begin_request(std::uint32_t erase_size, std::uint32_t blocks, std::uint32_t offset,
                              bool compressed, Duration timeout) const;
  static LoaderRequest block_request(ByteView payload, std::uint32_t sequence, bool compressed,
                                     Duration timeout);
  static LoaderRequest md5_request(std::uint32_t address, std::uint32_t size);
  // FLASH_END / FLASH_DEFL_END: run_user_code leaves the loader for the application.
  MaybeError flash_end(bool compressed, bool run_user_code);
  // The ROM's answer: 32 lower-case hex digits.
  Result<std::string, Error> flash_md5(std::uint32_t address, std::uint32_t size);
  // At most 64 bytes (read_flash_slow_block).
  Result<ByteBuffer, Error> read_flash_slow(std::uint32_t address, std::uint32_t size);
  static LoaderRequest read_flash_slow_request(std::uint32_t address, std::uint32_t size);
  // The bytes the request asked for, out of its reply (the ROM pads them).
  static Result<ByteBuffer, Error> read_flash_slow_data(const LoaderRequest& request,
                                                        const Reply& reply);
  // ROM form: the rate word (already skewed for the ESP32 ROM) and 0.
  MaybeError change_baudrate(std::uint32_t baud_word);

  // The first byte that arrived outside any frame since the last purge, if any.
  std::optional<Byte> first_noise() const { return first_noise_; }
  // The bytes that arrived outside frames since the last purge (a boot log), at most
  // max_noise_kept.
  std::string_view noise() const { return as_chars(ByteView{noise_}); }
  static constexpr std::size_t max_noise_kept = 4096;

 private:
  Duration reply_limit(Duration chip_time) const;
  // The response to `op` that comes next, skipping what esptool skips.
  Result<esp::Response, Error> await_response(esp::Op op, Duration limit);
  Result<Reply, Error> check_response(std::string_view what, const esp::Response& response) const;
  // The request's reply (its first frame within `limit`) and its further replies, checked.
  Result<Reply, Error> await_reply(const LoaderRequest& request, Duration limit);
  // One attempt: sent, then await_reply().
  Result<Reply, Error> send_and_await(const LoaderRequest& request);
  Exchanged exchange_lock_step(std::span<const LoaderRequest> requests,
                               const std::function<void(std::size_t)>& on_reply);
  Exchanged exchange_paced(std::span<const LoaderRequest> requests,
                           const std::function<void(std::size_t)>& on_reply);
  void frame(esp::Op op, ByteView data, std::uint32_t checksum);  // into tx_
  Result<ByteBuffer, Error> read_frame(TimePoint deadline);
  void feed(ByteView input);

  port::BlockingPort& port_;
  esp::slip::Decoder decoder_;
  std::deque<ByteBuffer> frames_;
  ByteBuffer rx_;
  ByteBuffer tx_;
  ByteBuffer packet_;
  std::optional<Byte> first_noise_;
  ByteBuffer noise_;
  std::vector<LoaderRequest> posted_;
  std::size_t status_length_ = esp::esp32_rom_status_length;
  bool begin_takes_encrypt_flag_ = false;
  rfc2217::paced_esp::BatchId last_batch_ = 0;
};

// The 32 hex digits of an SPI_FLASH_MD5 reply.
Result<std::string, Error> md5_text(const Reply& reply);

// "result was 0107: ..." : the two status bytes and what they mean.
std::string describe_status(esp::Status status);

}  // namespace ttynet::esptool
