#include "ttynet/esptool/loader.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/requests.hpp"

namespace ttynet::esptool {
namespace {

using esp::Op;

constexpr std::size_t read_chunk = 4096;

}  // namespace

std::string describe_status(esp::Status status) {
  std::string_view meaning = "Unknown result";
  if (status.status == 1) {
    meaning = esp::describe(static_cast<esp::RomError>(status.error));
  } else if (status.status != 0) {
    meaning = esp::describe(static_cast<esp::StubError>(status.status));
  }
  return fmt::format("result was {:04X}: {}", status.result_code(), meaning);
}

Loader::Loader(port::BlockingPort& port) : port_(port) { rx_.resize(read_chunk); }

void Loader::feed(ByteView input) {
  decoder_.receive(input);
  while (auto event = decoder_.next_event()) {
    if (const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event)) {
      frames_.emplace_back(frame->payload.begin(), frame->payload.end());
    } else if (const auto* noise = std::get_if<esp::slip::NoiseReceived>(&*event)) {
      if (!first_noise_ && !noise->bytes.empty()) first_noise_ = noise->bytes.front();
    }
    // A frame with a broken escape is dropped; the request it answered times out.
  }
}

// The chip's own time for a reply, plus the time the request and the reply spend on the
// network when the port crosses one (esptool's timeouts assume a local port: its first SYNC
// reply must come within 0.1 s, so without this nothing connects from about 95 ms RTT).
Duration Loader::reply_limit(Duration chip_time) const {
  return std::min(chip_time, esp::max_timeout) + port_.round_trip().value_or(Duration::zero());
}

Result<ByteBuffer, Error> Loader::read_frame(TimePoint deadline) {
  for (;;) {
    if (!frames_.empty()) {
      ByteBuffer frame = std::move(frames_.front());
      frames_.pop_front();
      return frame;
    }
    const auto now = Clock::now();
    if (now >= deadline) break;
    auto got = port_.read_some(rx_, deadline - now);
    if (!got) {
      return make_error(errc::port_failed,
                        fmt::format("Could not read from the port: {}", got.error().message()));
    }
    feed(ByteView{rx_}.first(*got));
  }
  if (decoder_.is_in_frame()) {
    return make_error(errc::no_reply, "Packet content transfer stopped");
  }
  if (first_noise_) {
    return make_error(errc::no_reply,
                      fmt::format("Invalid head of packet (0x{:02X}): Possible serial noise or "
                                  "corruption.",
                                  *first_noise_));
  }
  return make_error(errc::no_reply, "No serial data received.");
}

MaybeError Loader::send(Op op, ByteView data, std::uint32_t checksum) {
  packet_.clear();
  esp::append_request(packet_, op, data, checksum);
  tx_.clear();
  esp::slip::append_frame(tx_, packet_);
  if (auto ec = port_.write(tx_)) {
    return make_error(errc::port_failed,
                      fmt::format("Could not write to the port: {}", ec.message()));
  }
  return std::nullopt;
}

Result<esp::Response, Error> Loader::next_response(Duration timeout) {
  for (std::size_t i = 0; i < max_skipped_frames; ++i) {
    auto frame = read_frame(Clock::now() + reply_limit(timeout));
    if (!frame) return frame.error();
    packet_ = std::move(*frame);
    auto response = esp::decode_response(packet_);
    if (response) return *response;  // views into packet_, valid until the next call
  }
  return make_error(errc::response_mismatch, "Response doesn't match request");
}

Result<esp::Response, Error> Loader::command(Op op, ByteView data, Duration timeout,
                                             std::uint32_t checksum) {
  if (auto error = send(op, data, checksum)) return *error;
  const auto limit = reply_limit(timeout);
  for (std::size_t i = 0; i < max_skipped_frames; ++i) {
    auto frame = read_frame(Clock::now() + limit);
    if (!frame) return frame.error();
    packet_ = std::move(*frame);
    auto response = esp::decode_response(packet_);
    if (!response) continue;  // too short, or an echo of a request
    if (response->op == op) return *response;
    if (response->data.size() >= 2 && response->data[0] != 0 &&
        response->data[1] == static_cast<Byte>(esp::RomError::invalid_message)) {
      // The ROM may repeat this reply; drop what is left of it.
      purge();
      return make_error(
          errc::unsupported_command,
          fmt::format("Invalid (unsupported) command 0x{:02x}", static_cast<unsigned>(op)));
    }
  }
  return make_error(errc::response_mismatch, "Response doesn't match request");
}

Result<Reply, Error> Loader::check_command(std::string_view what, Op op, ByteView data,
                                           Duration timeout, std::uint32_t checksum) {
  auto response = command(op, data, timeout, checksum);
  if (!response) return response.error();
  auto body = esp::split_status(response->data, status_length_);
  if (!body) {
    return make_error(
        errc::short_response,
        fmt::format("Failed to {} (reply of {} bytes has no status)", what, response->data.size()));
  }
  if (!body->status.is_ok()) {
    return make_error(errc::command_failed,
                      fmt::format("Failed to {} ({})", what, describe_status(body->status)));
  }
  return Reply{response->value, ByteBuffer(body->payload.begin(), body->payload.end())};
}

MaybeError Loader::purge() {
  forget_input();
  if (auto ec = port_.purge(Purge::both)) {
    return make_error(errc::port_failed, fmt::format("Could not purge the port: {}", ec.message()));
  }
  return std::nullopt;
}

void Loader::forget_input() {
  decoder_.reset();
  frames_.clear();
  first_noise_.reset();
}

MaybeError Loader::sync() {
  const auto data = esp::sync_data();
  auto first = command(Op::sync, data, esp::sync_timeout);
  if (!first) return first.error();
  for (std::size_t i = 1; i < sync_replies; ++i) {
    auto more = next_response(esp::default_timeout);
    if (!more) return more.error();
  }
  return std::nullopt;
}

Result<std::uint32_t, Error> Loader::read_reg(std::uint32_t address) {
  const auto data = esp::encode_body(esp::ReadRegRequest{address});
  auto reply = check_command(fmt::format("read register address {:08x}", address), Op::read_reg,
                             data, esp::command_timeout(Op::read_reg, false));
  if (!reply) return reply.error();
  return reply->value;
}

MaybeError Loader::write_reg(std::uint32_t address, std::uint32_t value, std::uint32_t mask,
                             std::uint32_t delay_us) {
  const auto data = esp::encode_body(esp::WriteRegRequest{address, value, mask, delay_us});
  auto reply = check_command("write target memory", Op::write_reg, data,
                             esp::command_timeout(Op::write_reg, false));
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::spi_attach(std::uint32_t config) {
  const auto data = esp::encode_body(esp::SpiAttachRequest{.config = config, .legacy = 0});
  auto reply = check_command("configure SPI flash pins", Op::spi_attach, data,
                             esp::command_timeout(Op::spi_attach, false));
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::spi_set_params(std::uint32_t total_size) {
  const auto data = esp::encode_body(esp::SpiSetParamsRequest{.total_size = total_size});
  auto reply = check_command("set SPI params", Op::spi_set_params, data,
                             esp::command_timeout(Op::spi_set_params, false));
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::flash_begin(std::uint32_t erase_size, std::uint32_t blocks, std::uint32_t offset,
                               bool compressed, Duration timeout) {
  const auto data = esp::encode_body(esp::BeginRequest{
      .size = erase_size,
      .blocks = blocks,
      .block_size = rom_flash_block,
      .offset = offset,
      .encrypted = begin_takes_encrypt_flag_ ? std::optional<std::uint32_t>(0) : std::nullopt});
  auto reply = check_command("enter Flash download mode",
                             compressed ? Op::flash_defl_begin : Op::flash_begin, data, timeout);
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::flash_block(ByteView payload, std::uint32_t sequence, bool compressed,
                               Duration timeout) {
  ByteBuffer data;
  esp::append_data_block(data, sequence, payload);
  auto reply = check_command(fmt::format("write to target Flash after seq {}", sequence),
                             compressed ? Op::flash_defl_data : Op::flash_data, data, timeout,
                             esp::checksum(payload));
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::flash_end(bool compressed, bool run_user_code) {
  const auto data = esp::encode_body(esp::FlashEndRequest{run_user_code ? 1u : 0u});
  const Op op = compressed ? Op::flash_defl_end : Op::flash_end;
  auto reply = check_command("leave Flash mode", op, data, esp::command_timeout(op, false));
  if (!reply) return reply.error();
  return std::nullopt;
}

Result<std::string, Error> Loader::flash_md5(std::uint32_t address, std::uint32_t size) {
  const auto data = esp::encode_body(esp::Md5Request{.address = address, .size = size});
  auto reply = check_command("calculate md5 of flash", Op::spi_flash_md5, data,
                             esp::command_timeout(Op::spi_flash_md5, false, size));
  if (!reply) return reply.error();
  if (reply->payload.size() < 32) {
    return make_error(errc::short_response,
                      fmt::format("MD5 reply of {} bytes, expected 32", reply->payload.size()));
  }
  return std::string(as_chars(ByteView{reply->payload}.first(32)));
}

Result<ByteBuffer, Error> Loader::read_flash_slow(std::uint32_t address, std::uint32_t size) {
  const auto data = esp::encode_body(esp::RegionRequest{.offset = address, .size = size});
  auto reply = check_command("read flash block", Op::read_flash_slow, data,
                             esp::command_timeout(Op::read_flash_slow, false));
  if (!reply) return reply.error();
  if (reply->payload.size() < size) {
    return make_error(errc::short_response,
                      fmt::format("Flash read of {} bytes at 0x{:08x} returned {} bytes", size,
                                  address, reply->payload.size()));
  }
  reply->payload.resize(size);
  return std::move(reply->payload);
}

MaybeError Loader::change_baudrate(std::uint32_t baud_word) {
  const auto data = esp::encode_body(esp::ChangeBaudrateRequest{.baud = baud_word});
  auto reply = check_command("change baud rate", Op::change_baudrate, data,
                             esp::command_timeout(Op::change_baudrate, false));
  if (!reply) return reply.error();
  return std::nullopt;
}

Result<ByteBuffer, Error> Loader::get_security_info() {
  auto reply = check_command("get security info", Op::get_security_info, {},
                             esp::command_timeout(Op::get_security_info, false));
  if (!reply) return reply.error();
  return std::move(reply->payload);
}

}  // namespace ttynet::esptool
