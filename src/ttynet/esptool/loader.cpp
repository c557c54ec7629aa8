#include "ttynet/esptool/loader.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/requests.hpp"

namespace ttynet::esptool {
namespace {

using esp::Op;

constexpr std::size_t read_chunk = 4096;

Error write_error(std::error_code ec) {
  return make_error(errc::port_failed,
                    fmt::format("Could not write to the port: {}", ec.message()));
}

// A request answered once, sent once unless the caller says otherwise.
LoaderRequest make_request(Op op, ByteBuffer data, Duration timeout, std::string what) {
  LoaderRequest out{};
  out.op = op;
  out.data = std::move(data);
  out.timeout = timeout;
  out.what = std::move(what);
  return out;
}

// esptool sends a request again unless the port itself failed or the loader lacks the command.
bool is_worth_retrying(const Error& error) {
  return error.code != errc::port_failed && error.code != errc::unsupported_command;
}

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
      append(noise_,
             noise->bytes.first(std::min(noise->bytes.size(), max_noise_kept - noise_.size())));
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

void Loader::frame(Op op, ByteView data, std::uint32_t checksum) {
  packet_.clear();
  esp::append_request(packet_, op, data, checksum);
  tx_.clear();
  esp::slip::append_frame(tx_, packet_);
}

Result<esp::Response, Error> Loader::await_response(Op op, Duration limit) {
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

Result<Reply, Error> Loader::check_response(std::string_view what,
                                            const esp::Response& response) const {
  auto body = esp::split_status(response.data, status_length_);
  if (!body) {
    return make_error(
        errc::short_response,
        fmt::format("Failed to {} (reply of {} bytes has no status)", what, response.data.size()));
  }
  if (!body->status.is_ok()) {
    return make_error(errc::command_failed,
                      fmt::format("Failed to {} ({})", what, describe_status(body->status)));
  }
  return Reply{response.value, ByteBuffer(body->payload.begin(), body->payload.end())};
}

Result<Reply, Error> Loader::await_reply(const LoaderRequest& request, Duration limit) {
  auto response = await_response(request.op, limit);
  if (!response) return response.error();
  auto reply = check_response(request.what, *response);
  if (!reply) return reply.error();
  for (std::uint8_t i = 1; i < request.replies; ++i) {
    auto more = await_response(request.op, reply_limit(request.timeout));
    if (!more) return more.error();
  }
  return reply;
}

Result<Reply, Error> Loader::send_and_await(const LoaderRequest& request) {
  frame(request.op, request.data, request.checksum);
  if (auto ec = port_.write(tx_)) return write_error(ec);
  return await_reply(request, reply_limit(request.timeout) + request.lead_time);
}

void Loader::post(std::span<const LoaderRequest> requests) {
  posted_.insert(posted_.end(), requests.begin(), requests.end());
}

Exchanged Loader::exchange_some(std::span<const LoaderRequest> requests,
                                const std::function<void(std::size_t)>& on_reply) {
  const auto send_all = [this](std::span<const LoaderRequest> all,
                               const std::function<void(std::size_t)>& on_each) {
    return port_.paces_esp_frames() ? exchange_paced(all, on_each)
                                    : exchange_lock_step(all, on_each);
  };
  if (posted_.empty()) return send_all(requests, on_reply);
  std::vector<LoaderRequest> all = std::exchange(posted_, {});
  const std::size_t lead = all.size();
  all.insert(all.end(), requests.begin(), requests.end());
  Exchanged done = send_all(all, [&](std::size_t index) {
    if (index >= lead && on_reply) on_reply(index - lead);
  });
  Exchanged out{.replies = {}, .error = std::move(done.error)};
  if (done.replies.size() > lead) {
    out.replies.assign(
        std::make_move_iterator(done.replies.begin() + static_cast<std::ptrdiff_t>(lead)),
        std::make_move_iterator(done.replies.end()));
  }
  return out;
}

Result<std::vector<Reply>, Error> Loader::exchange(
    std::span<const LoaderRequest> requests, const std::function<void(std::size_t)>& on_reply) {
  Exchanged done = exchange_some(requests, on_reply);
  if (done.error) return *done.error;
  return std::move(done.replies);
}

Exchanged Loader::exchange_lock_step(std::span<const LoaderRequest> requests,
                                     const std::function<void(std::size_t)>& on_reply) {
  Exchanged done;
  done.replies.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const LoaderRequest& request = requests[i];
    auto reply = send_and_await(request);
    for (int attempt = 1; !reply && attempt < request.attempts && is_worth_retrying(reply.error());
         ++attempt) {
      reply = send_and_await(request);
    }
    if (!reply) {
      done.error = reply.error();
      return done;
    }
    done.replies.push_back(std::move(*reply));
    if (on_reply) on_reply(i);
  }
  return done;
}

// The requests go out as a batch while less than a window is unanswered; the replies are
// awaited in order, each within the chip's time plus one round trip from when the one before
// came (the server releases a frame as the reply before it passes). A request that failed is
// sent again at the head of a new batch: the server dropped the rest of the old one.
Exchanged Loader::exchange_paced(std::span<const LoaderRequest> requests,
                                 const std::function<void(std::size_t)>& on_reply) {
  using namespace rfc2217::paced_esp;
  Exchanged done;
  std::vector<Reply>& replies = done.replies;
  replies.reserve(requests.size());
  const auto fail = [&done](Error error) {
    done.error = std::move(error);
    return std::move(done);
  };
  std::deque<std::size_t> unanswered;  // frame sizes of requests sent and not yet answered
  std::size_t unanswered_bytes = 0;
  std::size_t next_to_send = 0;
  bool batch_open = false;
  int attempt = 1;  // of the request awaited next
  const auto end_batch = [&]() -> MaybeError {
    if (!batch_open) return std::nullopt;
    batch_open = false;
    if (auto ec = port_.send_paced_esp(BatchEnd{last_batch_})) return write_error(ec);
    return std::nullopt;
  };
  while (replies.size() < requests.size()) {
    while (next_to_send < requests.size() &&
           (unanswered.empty() || unanswered_bytes < paced_window_bytes)) {
      const LoaderRequest& request = requests[next_to_send];
      if (!batch_open) {
        batch_open = true;
        if (auto ec = port_.send_paced_esp(BatchBegin{++last_batch_})) {
          return fail(write_error(ec));
        }
      }
      const FrameInfo info{
          .opcode = static_cast<Byte>(request.op),
          .status_length = static_cast<Byte>(status_length_),
          .timeout = std::chrono::ceil<std::chrono::milliseconds>(
              std::min(request.timeout, esp::max_timeout)),
          .replies = request.replies,
      };
      frame(request.op, request.data, request.checksum);
      if (auto ec = port_.send_paced_esp(info)) return fail(write_error(ec));
      if (auto ec = port_.write(tx_)) return fail(write_error(ec));
      unanswered.push_back(tx_.size());
      unanswered_bytes += tx_.size();
      if (++next_to_send == requests.size()) {
        if (auto error = end_batch()) return fail(*error);
      }
    }
    const std::size_t index = replies.size();
    const LoaderRequest& request = requests[index];
    auto reply = await_reply(request, reply_limit(request.timeout) + request.lead_time);
    if (!reply) {
      if (attempt >= request.attempts || !is_worth_retrying(reply.error())) {
        if (auto error = end_batch()) return fail(*error);
        return fail(reply.error());
      }
      ++attempt;
      if (auto error = end_batch()) return fail(*error);
      next_to_send = index;
      unanswered.clear();
      unanswered_bytes = 0;
      continue;
    }
    attempt = 1;
    unanswered_bytes -= unanswered.front();
    unanswered.pop_front();
    replies.push_back(std::move(*reply));
    if (on_reply) on_reply(index);
  }
  return done;
}

Result<std::vector<std::uint32_t>, Error> Loader::read_regs(
    std::span<const std::uint32_t> addresses) {
  std::vector<LoaderRequest> requests;
  requests.reserve(addresses.size());
  for (const std::uint32_t address : addresses) requests.push_back(read_reg_request(address));
  auto replies = exchange(requests);
  if (!replies) return replies.error();
  std::vector<std::uint32_t> values;
  values.reserve(replies->size());
  for (const Reply& reply : *replies) values.push_back(reply.value);
  return values;
}

Result<RegisterValues, Error> Loader::read_registers(std::span<const std::uint32_t> addresses) {
  std::vector<std::uint32_t> unique(addresses.begin(), addresses.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  auto values = read_regs(unique);
  if (!values) return values.error();
  RegisterValues out;
  for (std::size_t i = 0; i < unique.size(); ++i) out.emplace(unique[i], (*values)[i]);
  return out;
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
  noise_.clear();
}

LoaderRequest Loader::sync_request() {
  const auto data = esp::sync_data();
  LoaderRequest sync =
      make_request(Op::sync, ByteBuffer(data.begin(), data.end()), esp::sync_timeout, "sync");
  sync.replies = sync_replies;
  return sync;
}

LoaderRequest Loader::read_reg_request(std::uint32_t address) {
  return make_request(Op::read_reg, esp::encode_body(esp::ReadRegRequest{address}),
                      esp::command_timeout(Op::read_reg, false),
                      fmt::format("read register address {:08x}", address));
}

LoaderRequest Loader::write_reg_request(std::uint32_t address, std::uint32_t value,
                                        std::uint32_t mask, std::uint32_t delay_us) {
  return make_request(Op::write_reg,
                      esp::encode_body(esp::WriteRegRequest{address, value, mask, delay_us}),
                      esp::command_timeout(Op::write_reg, false), "write target memory");
}

Result<std::uint32_t, Error> Loader::read_reg(std::uint32_t address) {
  auto reply = run(read_reg_request(address));
  if (!reply) return reply.error();
  return reply->value;
}

MaybeError Loader::write_reg(std::uint32_t address, std::uint32_t value, std::uint32_t mask,
                             std::uint32_t delay_us) {
  auto reply = run(write_reg_request(address, value, mask, delay_us));
  if (!reply) return reply.error();
  return std::nullopt;
}

LoaderRequest Loader::spi_attach_request(std::uint32_t config) {
  return make_request(Op::spi_attach,
                      esp::encode_body(esp::SpiAttachRequest{.config = config, .legacy = 0}),
                      esp::command_timeout(Op::spi_attach, false), "configure SPI flash pins");
}

LoaderRequest Loader::spi_set_params_request(std::uint32_t total_size) {
  return make_request(Op::spi_set_params,
                      esp::encode_body(esp::SpiSetParamsRequest{.total_size = total_size}),
                      esp::command_timeout(Op::spi_set_params, false), "set SPI params");
}

LoaderRequest Loader::begin_request(std::uint32_t erase_size, std::uint32_t blocks,
                                    std::uint32_t offset, bool compressed, Duration timeout) const {
  return make_request(
      compressed ? Op::flash_defl_begin : Op::flash_begin,
      esp::encode_body(esp::BeginRequest{
          .size = erase_size,
          .blocks = blocks,
          .block_size = rom_flash_block,
          .offset = offset,
          .encrypted = begin_takes_encrypt_flag_ ? std::optional<std::uint32_t>(0) : std::nullopt}),
      timeout, "enter Flash download mode");
}

LoaderRequest Loader::block_request(ByteView payload, std::uint32_t sequence, bool compressed,
                                    Duration timeout) {
  ByteBuffer data;
  esp::append_data_block(data, sequence, payload);
  LoaderRequest block =
      make_request(compressed ? Op::flash_defl_data : Op::flash_data, std::move(data), timeout,
                   fmt::format("write to target Flash after seq {}", sequence));
  block.checksum = esp::checksum(payload);
  block.attempts = flash_block_attempts;
  return block;
}

LoaderRequest Loader::md5_request(std::uint32_t address, std::uint32_t size) {
  return make_request(
      Op::spi_flash_md5, esp::encode_body(esp::Md5Request{.address = address, .size = size}),
      esp::command_timeout(Op::spi_flash_md5, false, size), "calculate md5 of flash");
}

Result<Reply, Error> Loader::run(const LoaderRequest& request) {
  auto replies = exchange(std::span(&request, 1));
  if (!replies) return replies.error();
  return std::move(replies->front());
}

MaybeError Loader::flash_begin(std::uint32_t erase_size, std::uint32_t blocks, std::uint32_t offset,
                               bool compressed, Duration timeout) {
  auto reply = run(begin_request(erase_size, blocks, offset, compressed, timeout));
  if (!reply) return reply.error();
  return std::nullopt;
}

MaybeError Loader::flash_end(bool compressed, bool run_user_code) {
  const auto data = esp::encode_body(esp::FlashEndRequest{run_user_code ? 1u : 0u});
  const Op op = compressed ? Op::flash_defl_end : Op::flash_end;
  auto reply = run(make_request(op, data, esp::command_timeout(op, false), "leave Flash mode"));
  if (!reply) return reply.error();
  return std::nullopt;
}

Result<std::string, Error> md5_text(const Reply& reply) {
  if (reply.payload.size() < 32) {
    return make_error(errc::short_response,
                      fmt::format("MD5 reply of {} bytes, expected 32", reply.payload.size()));
  }
  return std::string(as_chars(ByteView{reply.payload}.first(32)));
}

Result<std::string, Error> Loader::flash_md5(std::uint32_t address, std::uint32_t size) {
  auto reply = run(md5_request(address, size));
  if (!reply) return reply.error();
  return md5_text(*reply);
}

LoaderRequest Loader::read_flash_slow_request(std::uint32_t address, std::uint32_t size) {
  return make_request(Op::read_flash_slow,
                      esp::encode_body(esp::RegionRequest{.offset = address, .size = size}),
                      esp::command_timeout(Op::read_flash_slow, false), "read flash block");
}

Result<ByteBuffer, Error> Loader::read_flash_slow_data(const LoaderRequest& request,
                                                       const Reply& reply) {
  const auto asked = esp::decode_body<esp::RegionRequest>(request.data);
  const std::uint32_t size = asked ? asked->size : 0;
  if (reply.payload.size() < size) {
    return make_error(errc::short_response,
                      fmt::format("Flash read of {} bytes at 0x{:08x} returned {} bytes", size,
                                  asked->offset, reply.payload.size()));
  }
  return ByteBuffer(reply.payload.begin(), reply.payload.begin() + size);
}

Result<ByteBuffer, Error> Loader::read_flash_slow(std::uint32_t address, std::uint32_t size) {
  const LoaderRequest request = read_flash_slow_request(address, size);
  auto reply = run(request);
  if (!reply) return reply.error();
  return read_flash_slow_data(request, *reply);
}

MaybeError Loader::change_baudrate(std::uint32_t baud_word) {
  auto reply = run(make_request(
      Op::change_baudrate, esp::encode_body(esp::ChangeBaudrateRequest{.baud = baud_word}),
      esp::command_timeout(Op::change_baudrate, false), "change baud rate"));
  if (!reply) return reply.error();
  return std::nullopt;
}

}  // namespace ttynet::esptool
