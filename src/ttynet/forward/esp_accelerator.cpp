#include "ttynet/forward/esp_accelerator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <utility>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/efuse.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/esp/slip.hpp"

namespace ttynet::forward {

namespace pe = rfc2217::paced_esp;
using esp::Op;

namespace {

// esptool's wait for SYNC replies; the far server gives the chip as long.
constexpr auto sync_frame_timeout = std::chrono::ceil<std::chrono::milliseconds>(esp::sync_timeout);
constexpr Byte sync_replies = 8;
// Before any block's chip time is measured, a block is taken to need twice its time on the
// wire plus this (a stub writes the block before last while it receives).
constexpr auto unmeasured_frame_overhead = std::chrono::milliseconds(50);
constexpr std::size_t max_window_frames = 256;
// READ_FLASH_SLOW read ahead: a request and its 64-byte reply take about this many bytes on
// the wire, and the ROM about this long to read them from flash.
constexpr std::size_t slow_read_wire_bytes = 100;
constexpr auto rom_read_time = std::chrono::milliseconds(1);
constexpr std::size_t max_read_window = 512;
// Frames per batch: the far server counts them in 16 bits.
constexpr std::uint16_t max_batch_frames = 4096;

std::chrono::milliseconds frame_timeout(Duration timeout) {
  return std::chrono::ceil<std::chrono::milliseconds>(std::min(timeout, esp::max_timeout));
}

bool is_data_op(Op op) { return op == Op::flash_data || op == Op::flash_defl_data; }

constexpr std::array<std::uint32_t, 17> standard_bauds{
    9600,   19200,  38400,  57600,   74880,   115200,  230400,  250000, 460800,
    500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 3000000};

// The eFuse controller's window: read registers and, above them, the controller's own.
constexpr std::uint32_t efuse_window = 0x200;

bool in_efuse_window(std::uint32_t address) {
  for (const esp::ChipInfo& chip : esp::chips()) {
    for (const std::uint32_t base : {chip.efuse_base, chip.efuse_block1}) {
      if (base != 0 && address >= base && address < base + efuse_window) return true;
    }
  }
  return false;
}

// The value field of the last loader reply in `frames` (SLIP-framed), if one decodes.
std::optional<std::uint32_t> last_reply_value(ByteView frames) {
  esp::slip::Decoder decoder;
  decoder.receive(frames);
  std::optional<std::uint32_t> value;
  while (const std::optional<esp::slip::Event> event = decoder.next_event()) {
    const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event);
    if (frame == nullptr) continue;
    if (const auto response = esp::decode_response(frame->payload)) value = response->value;
  }
  return value;
}

}  // namespace

bool is_constant_register(std::uint32_t address) {
  return address == esp::chip_detect_magic_reg || address == esp::esp32_apb_ctl_date ||
         in_efuse_window(address);
}

std::uint32_t nearest_standard_baud(std::uint32_t baud) {
  for (const std::uint32_t standard : standard_bauds) {
    const auto difference = baud > standard ? baud - standard : standard - baud;
    if (std::uint64_t{difference} * 20 <= standard) return standard;
  }
  return baud;
}

EspAccelerator::EspAccelerator(AcceleratorOptions options) : options_(options) {}

void EspAccelerator::from_tool(ByteView data, TimePoint now) {
  if (tool_read_) data = drop_read_acks(data);
  if (data.empty()) return;
  from_tool_.feed(data, [&](const esp::PacketSplitter::Event& event) {
    if (const auto* passed = std::get_if<esp::PacketSplitter::Passed>(&event)) {
      // Unframed bytes inside a batch would be a protocol error at the far server.
      if (in_flight_.empty()) end_batch();
      send_plain(passed->bytes);
      return;
    }
    const auto& packet = std::get<esp::PacketSplitter::Packet>(event);
    auto request = esp::decode_request(packet.payload);
    if (!request) {
      send_plain(packet.frame);
      return;
    }
    on_tool_packet(packet.frame, *request, now);
  });
}

void EspAccelerator::on_tool_packet(ByteView frame, const esp::Request& request, TimePoint now) {
  const Op op = request.op;
  if (op == Op::sync) {
    on_tool_sync(frame);
    return;
  }
  // Past SYNC: the chip's answer to it may change from here (a stub, a baud change).
  sync_replies_.reset();
  tool_awaits_sync_ = false;
  if (failure_) {
    answer_failure(op);
    return;
  }
  if (op == Op::read_flash_slow && take_read_ahead(frame)) {
    read_ahead_more(now);
    return;
  }
  if (!read_ahead_.empty()) cancel_read_ahead();
  Sent sent{.op = op,
            .frame = ByteBuffer(frame.begin(), frame.end()),
            .info = {.opcode = static_cast<Byte>(op),
                     .status_length = static_cast<Byte>(status_length_),
                     .timeout = frame_timeout(esp::command_timeout(op, is_stub_)),
                     .replies = 1},
            .answer = Answer::passing,
            .sent_at = now};
  switch (op) {
    case Op::read_reg:
      if (request.data.size() >= 4) {
        const std::uint32_t address = esp::load_u32(request.data, 0);
        // Not while blocks are unconfirmed: the tool reads to know they are done.
        const auto cached = constant_reads_.find(address);
        if (cached != constant_reads_.end() && in_flight_.empty() && !batch_open_) {
          give_replies(cached->second);
          ++counters_.reads_answered;
          // The read still goes to the chip, its reply swallowed: the ROM puts the last value
          // it read in the replies that follow, and those must stay as the chip makes them.
          ++swallowed_reads_;
          send_plain(frame);
          return;
        }
        if (is_constant_register(address)) awaited_constant_read_ = address;
      }
      break;
    case Op::write_reg: {
      // Burning eFuses goes through the controller's registers: what was read may change.
      bool burns = false;
      for (std::size_t at = 0; at + 4 <= request.data.size(); at += 16) {
        if (in_efuse_window(esp::load_u32(request.data, at))) burns = true;
      }
      if (burns) {
        constant_reads_.clear();
        break;
      }
      if (auto model = write_reg_answer(); model && !chip_silent_) {
        sent.answer = Answer::held;
        sent.model = std::move(*model);
        send_in_batch(std::move(sent), false);
        give_held_answers();
        return;
      }
      break;
    }
    case Op::mem_end:
      if (!is_stub_ && mem_reply_ && in_flight_.empty() && !batch_open_ && !chip_silent_) {
        answer_like(*mem_reply_, op);
        ++counters_.answered_ahead;
        swallow_mem_end_ = true;
        forget_rom();  // the stub esptool uploads starts now; its replies look different
        send_plain(frame);
        return;
      }
      break;
    case Op::flash_begin:
    case Op::flash_defl_begin:
      if (auto begin = esp::decode_body<esp::BeginRequest>(request.data)) {
        write_ = Write{.data_op = op == Op::flash_begin ? Op::flash_data : Op::flash_defl_data,
                       .blocks = begin->blocks,
                       .encrypted = begin->encrypted.value_or(0) == 1,
                       .reply = std::nullopt};
        awaited_begin_ = op;
        sent.info.timeout = frame_timeout(esp::command_timeout(op, is_stub_, begin->size));
      } else {
        write_.reset();
      }
      break;
    case Op::read_flash:
      if (stream_read(sent, request.data)) return;
      break;
    case Op::read_flash_slow:
      if (start_read_ahead(sent, request.data)) {
        read_ahead_more(now);
        return;
      }
      break;
    case Op::change_baudrate:
      if (options_.follows_baud_changes && request.data.size() >= 4) {
        requested_baud_ = nearest_standard_baud(esp::load_u32(request.data, 0));
      }
      break;
    case Op::spi_flash_md5:
    case Op::erase_region:
      if (request.data.size() >= 8) {
        sent.info.timeout =
            frame_timeout(esp::command_timeout(op, is_stub_, esp::load_u32(request.data, 4)));
      }
      break;
    default:
      break;
  }
  std::optional<esp::DataBlock> block;
  if (is_data_op(op)) {
    if (auto decoded = esp::decode_data_block(request.data)) block = *decoded;
  }
  if (block) {
    sent.sequence = block->sequence;
    sent.info.timeout = frame_timeout(esp::command_timeout(op, is_stub_, block->payload.size()));
  }
  const bool ahead = block && write_ && write_->data_op == op && write_->reply &&
                     !write_->encrypted && block->sequence + 1 < write_->blocks && !chip_silent_;
  if (ahead) {
    sent.answer = Answer::held;
    sent.model = *write_->reply;
    send_in_batch(std::move(sent), false);
    give_held_answers();
    return;
  }
  if (in_flight_.empty() && !batch_open_) {
    send_plain(frame);
    return;
  }
  send_in_batch(std::move(sent), true);  // waits behind the blocks answered ahead
}

bool EspAccelerator::stream_read(Sent& sent, ByteView body) {
  if ((far_features_ & pe::feature_server_read_acks) == 0 || chip_silent_) return false;
  const auto read = esp::decode_body<esp::ReadFlashRequest>(body);
  if (!read) return false;
  sent.info.server_acks_read = true;
  send_in_batch(std::move(sent), true);
  awaited_read_ = StreamedRead{.length = read->size, .batch = last_batch_, .received = 0};
  tool_read_ = read->size;
  tool_acks_.reset();
  ++counters_.reads_streamed;
  return true;
}

bool EspAccelerator::take_read_ahead(ByteView frame) {
  if (read_ahead_.empty() || !std::ranges::equal(read_ahead_.front().request, frame)) return false;
  ReadAhead& next = read_ahead_.front();
  ++counters_.reads_ahead;
  if (next.reply) {
    give_replies(*next.reply);
    read_ahead_.pop_front();
  } else {
    next.tool_waits = true;
  }
  return true;
}

bool EspAccelerator::start_read_ahead(Sent& sent, ByteView body) {
  const auto region = esp::decode_body<esp::RegionRequest>(body);
  if (!region) return false;
  const bool continues = last_slow_read_ && region->size == last_slow_read_->size &&
                         region->offset == last_slow_read_->offset + last_slow_read_->size;
  last_slow_read_ = *region;
  if (!continues || chip_silent_ || read_ahead_failed_ || !in_flight_.empty() || batch_open_ ||
      read_window() == 0) {
    return false;
  }
  sent.answer = Answer::read_ahead;
  sent.info.status_length = static_cast<Byte>(rom_status_length_);
  read_ahead_.push_back(
      ReadAhead{.request = sent.frame, .reply = std::nullopt, .tool_waits = true});
  send_in_batch(std::move(sent), false);
  next_read_ahead_ = {.offset = region->offset + region->size, .size = region->size};
  return true;
}

void EspAccelerator::read_ahead_more(TimePoint now) {
  const std::size_t window = read_window();
  while (!read_ahead_failed_ && !chip_silent_ && read_ahead_.size() < window) {
    ByteBuffer packet;
    // As esptool makes it: no checksum outside data blocks.
    esp::append_request(packet, Op::read_flash_slow, esp::encode_body(next_read_ahead_));
    Sent sent{.op = Op::read_flash_slow,
              .frame = esp::slip::encode_frame(packet),
              .info = {.opcode = static_cast<Byte>(Op::read_flash_slow),
                       .status_length = static_cast<Byte>(rom_status_length_),
                       .timeout = frame_timeout(esp::command_timeout(Op::read_flash_slow, false)),
                       .replies = 1},
              .answer = Answer::read_ahead,
              .sent_at = now};
    read_ahead_.push_back(
        ReadAhead{.request = sent.frame, .reply = std::nullopt, .tool_waits = false});
    // The far server counts a batch's frames in 16 bits.
    if (batch_frames_ >= max_batch_frames) end_batch();
    send_in_batch(std::move(sent), false);
    next_read_ahead_.offset += next_read_ahead_.size;
  }
}

void EspAccelerator::cancel_read_ahead() {
  for (Sent& sent : in_flight_) {
    if (sent.answer == Answer::read_ahead) sent.answer = Answer::discarded;
  }
  read_ahead_.clear();
}

void EspAccelerator::on_read_ahead_reply(ByteView frame, const esp::Response& response) {
  const Sent front = std::move(in_flight_.front());
  in_flight_.pop_front();
  const bool ok = status_of(response, front.info.status_length).is_ok();
  // Replies come in order: this one answers the first request without one.
  const auto entry = std::find_if(read_ahead_.begin(), read_ahead_.end(),
                                  [](const ReadAhead& read) { return !read.reply; });
  if (entry != read_ahead_.end()) {
    if (entry->tool_waits) {
      append(to_tool_, frame);
      tool_value_ = response.value;
      read_ahead_.erase(entry);
    } else {
      entry->reply.emplace(frame.begin(), frame.end());
    }
  }
  if (ok) return;
  // The tool gets the failure when it asks; nothing after it was read.
  read_ahead_failed_ = true;
  resend_dropped(front.batch);
}

void EspAccelerator::resend_dropped(pe::BatchId batch) {
  end_batch();
  std::deque<Sent> dropped;
  for (auto sent = in_flight_.begin(); sent != in_flight_.end();) {
    if (sent->batch != batch) {
      ++sent;
      continue;
    }
    dropped.push_back(std::move(*sent));
    sent = in_flight_.erase(sent);
  }
  std::erase_if(read_ahead_, [](const ReadAhead& read) { return !read.reply; });
  for (Sent& sent : dropped) {
    if (sent.answer == Answer::read_ahead || sent.answer == Answer::discarded) continue;
    const bool is_last = sent.answer == Answer::passing;
    send_in_batch(std::move(sent), is_last);
  }
}

ByteView EspAccelerator::drop_read_acks(ByteView data) {
  tool_acks_.receive(data);
  while (const std::optional<esp::slip::Event> event = tool_acks_.next_event()) {
    if (const auto* noise = std::get_if<esp::slip::NoiseReceived>(&*event)) {
      send_plain(noise->bytes);  // nothing esptool sends, but not ours to drop
      continue;
    }
    const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event);
    if (frame == nullptr) continue;
    if (frame->payload.size() == 4) {
      if (esp::load_u32(frame->payload) < *tool_read_) continue;
      tool_read_.reset();  // the last one
      return tool_acks_.take_unread();
    }
    // Not an acknowledgement: the tool has given the read up and moved on.
    tool_read_.reset();
    tool_resume_ = esp::slip::encode_frame(frame->payload);
    append(tool_resume_, tool_acks_.take_unread());
    return tool_resume_;
  }
  return {};
}

ByteView EspAccelerator::pass_read_data(ByteView data) {
  read_frames_.receive(data);
  while (const std::optional<esp::slip::Event> event = read_frames_.next_event()) {
    const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event);
    if (frame == nullptr) continue;
    StreamedRead& read = *device_read_;
    if (read.received < read.length) {
      read.received += static_cast<std::uint32_t>(
          std::min<std::size_t>(frame->payload.size(), read.length - read.received));
      continue;
    }
    device_read_.reset();  // that was the digest
    const ByteView rest = read_frames_.take_unread();
    append(to_tool_, data.first(data.size() - rest.size()));
    return rest;
  }
  append(to_tool_, data);
  return {};
}

void EspAccelerator::on_tool_sync(ByteView frame) {
  if (sync_replies_) {
    give_replies(*sync_replies_);
    ++counters_.syncs_answered;
    return;
  }
  tool_awaits_sync_ = true;
  if (sync_batch_) return;  // the chip's answer is on its way
  if (!in_flight_.empty() || batch_open_) {
    send_plain(frame);  // not connecting: an odd tool; the chip answers it itself
    return;
  }
  open_batch();
  sync_batch_ = last_batch_;
  sync_collected_.clear();
  sync_collected_count_ = 0;
  upstream_.emplace_back(pe::FrameInfo{.opcode = static_cast<Byte>(Op::sync),
                                       .status_length = esp::stub_status_length,
                                       .timeout = sync_frame_timeout,
                                       .replies = sync_replies});
  upstream_.emplace_back(ByteBuffer(frame.begin(), frame.end()));
  end_batch();
}

void EspAccelerator::on_sync_reply(ByteView frame) {
  append(sync_collected_, frame);
  if (++sync_collected_count_ == sync_replies) finish_sync();
}

void EspAccelerator::finish_sync() {
  sync_batch_.reset();
  if (sync_collected_.empty()) return;  // no answer: the tool's next SYNC asks again
  sync_replies_ = std::exchange(sync_collected_, {});
  if (tool_awaits_sync_) {
    give_replies(*sync_replies_);
    ++counters_.syncs_answered;
    tool_awaits_sync_ = false;
  }
}

void EspAccelerator::from_device(ByteView data, TimePoint now) {
  // Made once: the splitter may be fed several times below.
  const std::function<void(const esp::PacketSplitter::Event&)> on_event =
      [&](const esp::PacketSplitter::Event& event) {
        if (const auto* passed = std::get_if<esp::PacketSplitter::Passed>(&event)) {
          append(to_tool_, passed->bytes);
          return;
        }
        const auto& packet = std::get<esp::PacketSplitter::Packet>(event);
        auto response = esp::decode_response(packet.payload);
        if (!response) {
          append(to_tool_, packet.frame);
          return;
        }
        on_device_packet(packet.frame, packet.payload, *response, now);
      };
  while (!data.empty()) {
    if (device_read_) {
      data = pass_read_data(data);
      continue;
    }
    // While a streamed read's reply is awaited, up to each END at a time: the bytes after the
    // reply are read data, never to be taken for packets. Otherwise all at once.
    std::size_t piece = data.size();
    if (awaited_read_) {
      const auto end = std::find(data.begin(), data.end(), esp::slip::end);
      if (end != data.end()) piece = static_cast<std::size_t>(end - data.begin()) + 1;
    }
    from_device_.feed(data.first(piece), on_event);
    data = data.subspan(piece);
  }
}

void EspAccelerator::on_device_packet(ByteView frame, ByteView payload,
                                      const esp::Response& response, TimePoint now) {
  const Op op = response.op;
  if (sync_batch_ && op == Op::sync) {
    rom_status_length_ = response.data.size() == esp::esp32_rom_status_length
                             ? esp::esp32_rom_status_length
                             : esp::stub_status_length;
    on_sync_reply(frame);
    return;
  }
  if (op == Op::mem_begin || op == Op::mem_data) mem_reply_.emplace(payload.begin(), payload.end());
  if (swallow_mem_end_ && op == Op::mem_end) {
    swallow_mem_end_ = false;
    const esp::Status status = status_of(response, response.data.size());
    if (status.is_ok()) {
      ++counters_.confirmed;
    } else {
      note(AcceleratorNote::Level::warn,
           fmt::format("the chip failed MEM_END (status {:02x} {:02x}) after it was answered: "
                       "the flasher stub will not start",
                       status.status, status.error));
    }
    return;
  }
  if (swallowed_reads_ > 0 && op == Op::read_reg) {
    --swallowed_reads_;
    return;
  }
  if (awaited_constant_read_ && op == Op::read_reg) {
    if (status_of(response, response.data.size()).is_ok()) {
      constant_reads_[*awaited_constant_read_].assign(frame.begin(), frame.end());
    }
    awaited_constant_read_.reset();
  }
  if (awaited_read_ && op == Op::read_flash) {
    if (status_of(response, esp::stub_status_length).is_ok()) {
      device_read_ = awaited_read_;
      read_frames_.reset();
    } else {
      tool_read_.reset();  // no data, so no acknowledgements
    }
    awaited_read_.reset();
  }
  if (op == Op::write_reg && status_of(response, response.data.size()).is_ok()) {
    write_reg_model_.emplace(payload.begin(), payload.end());
  }
  if (requested_baud_ && op == Op::change_baudrate) {
    if (status_of(response, response.data.size()).is_ok()) baud_change_ = requested_baud_;
    requested_baud_.reset();
  }
  if (awaited_begin_ && op == *awaited_begin_) {
    awaited_begin_.reset();
    if (write_) {
      write_->reply.emplace(payload.begin(), payload.end());
      // A BEGIN's reply carries nothing but the status bytes: their number is the chip's.
      status_length_ = response.data.size() == esp::esp32_rom_status_length
                           ? esp::esp32_rom_status_length
                           : esp::stub_status_length;
    }
  }
  if (!in_flight_.empty() && in_flight_.front().op == op) {
    if (in_flight_.front().answer == Answer::read_ahead) {
      on_read_ahead_reply(frame, response);
      return;
    }
    if (in_flight_.front().answer == Answer::discarded) {
      const Sent gone = std::move(in_flight_.front());
      in_flight_.pop_front();
      // Failed, it took the rest of its batch at the far server with it.
      if (!status_of(response, gone.info.status_length).is_ok()) resend_dropped(gone.batch);
      return;
    }
  }
  if (in_flight_.empty() || in_flight_.front().op != op) {
    // Not a reply this side waits for.
    if (op == Op::mem_end) on_stub_start(response);
    append(to_tool_, frame);
    tool_value_ = response.value;
    return;
  }
  Sent& front = in_flight_.front();
  if (front.answer == Answer::passing) {
    in_flight_.pop_front();
    if (op == Op::mem_end) on_stub_start(response);
    append(to_tool_, frame);
    tool_value_ = response.value;
    return;
  }
  const esp::Status status = status_of(response, front.info.status_length);
  if (status.is_ok()) {
    confirm_front(now);
  } else {
    fail_front(status, false);
  }
}

void EspAccelerator::on_report(const pe::Message& report) {
  if (const auto* done = std::get_if<pe::BatchDone>(&report)) {
    if (sync_batch_ == done->id) finish_sync();
    return;
  }
  const auto* aborted = std::get_if<pe::BatchAborted>(&report);
  if (aborted == nullptr) return;
  if (sync_batch_ == aborted->id) {
    finish_sync();
    return;
  }
  // A streamed read given up by the far server: the tool's own timeout tells; what comes
  // later is no read data.
  for (auto* read : {&awaited_read_, &device_read_}) {
    if (*read && (*read)->batch == aborted->id) read->reset();
  }
  // A failed status was seen in the reply itself; after a reset or with the device gone there
  // is nothing to send again; a batch already re-sent is history.
  if (aborted->reason == pe::AbortReason::failed_status ||
      aborted->reason == pe::AbortReason::line_change ||
      aborted->reason == pe::AbortReason::device_gone || in_flight_.empty()) {
    return;
  }
  const Sent& front = in_flight_.front();
  if (front.batch != aborted->id || front.index != aborted->index) return;
  if (front.answer != Answer::held && front.answer != Answer::given) {
    in_flight_.clear();  // the tool waits for it or for a read behind it: its own timeout tells
    read_ahead_.clear();
    return;
  }
  fail_front({}, true);
}

void EspAccelerator::on_reset() {
  end_batch();
  in_flight_.clear();
  sync_replies_.reset();
  sync_collected_.clear();
  sync_batch_.reset();
  tool_awaits_sync_ = false;
  is_stub_ = false;
  mem_reply_.reset();
  swallow_mem_end_ = false;
  write_.reset();
  awaited_begin_.reset();
  last_confirmed_at_.reset();
  frame_time_.reset();
  failure_.reset();
  chip_silent_ = false;
  status_length_ = esp::stub_status_length;
  requested_baud_.reset();
  constant_reads_.clear();  // the ROM again, whose replies look unlike the stub's
  awaited_constant_read_.reset();
  swallowed_reads_ = 0;
  awaited_read_.reset();
  device_read_.reset();
  tool_read_.reset();
  read_ahead_.clear();
  last_slow_read_.reset();
  read_ahead_failed_ = false;
  write_reg_model_.reset();
  tool_value_.reset();
}

std::optional<Upstream> EspAccelerator::next_upstream() {
  if (upstream_.empty()) return std::nullopt;
  Upstream next = std::move(upstream_.front());
  upstream_.pop_front();
  return next;
}

void EspAccelerator::consume_tool_output(std::size_t n) {
  to_tool_.erase(to_tool_.begin(),
                 to_tool_.begin() + static_cast<std::ptrdiff_t>(std::min(n, to_tool_.size())));
}

std::optional<AcceleratorNote> EspAccelerator::next_note() {
  if (notes_.empty()) return std::nullopt;
  AcceleratorNote next = std::move(notes_.front());
  notes_.pop_front();
  return next;
}

std::size_t EspAccelerator::unconfirmed() const {
  return static_cast<std::size_t>(
      std::count_if(in_flight_.begin(), in_flight_.end(),
                    [](const Sent& s) { return s.answer == Answer::given; }));
}

void EspAccelerator::send_plain(ByteView bytes) {
  if (bytes.empty()) return;
  if (!upstream_.empty()) {
    if (auto* data = std::get_if<ByteBuffer>(&upstream_.back())) {
      append(*data, bytes);
      return;
    }
  }
  upstream_.emplace_back(ByteBuffer(bytes.begin(), bytes.end()));
}

void EspAccelerator::open_batch() {
  upstream_.emplace_back(pe::BatchBegin{++last_batch_});
  batch_open_ = true;
  batch_frames_ = 0;
}

void EspAccelerator::end_batch() {
  if (!batch_open_) return;
  upstream_.emplace_back(pe::BatchEnd{last_batch_});
  batch_open_ = false;
}

void EspAccelerator::send_in_batch(Sent sent, bool ends_batch) {
  if (!batch_open_) open_batch();
  sent.batch = last_batch_;
  sent.index = batch_frames_++;
  upstream_.emplace_back(sent.info);
  upstream_.emplace_back(sent.frame);
  in_flight_.push_back(std::move(sent));
  if (ends_batch) end_batch();
}

void EspAccelerator::confirm_front(TimePoint now) {
  Sent front = std::move(in_flight_.front());
  in_flight_.pop_front();
  ++counters_.confirmed;
  // The chip went straight on to this block if it reached the far server before the reply
  // before it left there: then the time between the two replies is the chip's own.
  if (is_data_op(front.op) && last_confirmed_at_ &&
      front.sent_at + round_trip_ <= *last_confirmed_at_) {
    const Duration sample = now - *last_confirmed_at_;
    frame_time_ = frame_time_ ? (*frame_time_ * 3 + sample) / 4 : sample;
  }
  last_confirmed_at_ = now;
  if (front.answer == Answer::held) give_answer(front);
  give_held_answers();
}

void EspAccelerator::fail_front(esp::Status status, bool timed_out) {
  Sent& front = in_flight_.front();
  const std::string what = is_data_op(front.op)
                               ? fmt::format("{} block {}", esp::op_name(front.op), front.sequence)
                               : std::string(esp::op_name(front.op));
  const std::string why = timed_out
                              ? std::string("no reply")
                              : fmt::format("status {:02x} {:02x}", status.status, status.error);
  end_batch();  // the far server drops the rest of the batch up to here
  if (front.attempts < options_.attempts) {
    ++front.attempts;
    ++counters_.resent;
    note(AcceleratorNote::Level::warn, fmt::format("{}: {}; sending it again (attempt {} of {})",
                                                   what, why, front.attempts, options_.attempts));
    auto again = std::exchange(in_flight_, {});
    for (auto& sent : again) {
      const bool is_last = sent.answer == Answer::passing;
      send_in_batch(std::move(sent), is_last);
    }
    return;
  }
  if (timed_out) {
    chip_silent_ = true;
    note(AcceleratorNote::Level::warn,
         fmt::format("{}: {} after {} attempts; the chip is left to the tool's own timeouts", what,
                     why, options_.attempts));
  } else {
    failure_ = status;
    note(AcceleratorNote::Level::warn,
         fmt::format("{}: {} after {} attempts; every further reply to the tool fails", what, why,
                     options_.attempts));
  }
  auto waiting = std::exchange(in_flight_, {});
  if (!failure_) return;
  for (const Sent& sent : waiting) {
    if (sent.answer != Answer::given) answer_failure(sent.op);  // the tool waits for these
  }
}

void EspAccelerator::give_held_answers() {
  std::size_t given = 0;
  std::size_t given_bytes = 0;
  const std::size_t limit = window_frames();
  for (Sent& sent : in_flight_) {
    if (sent.answer == Answer::given) {
      ++given;
      given_bytes += sent.frame.size();
      continue;
    }
    if (sent.answer != Answer::held) break;
    if (given >= limit || given_bytes + sent.frame.size() > options_.window_bytes) break;
    give_answer(sent);
    sent.answer = Answer::given;
    ++given;
    given_bytes += sent.frame.size();
  }
}

void EspAccelerator::answer_like(ByteView model, Op op) {
  ByteBuffer reply(model.begin(), model.end());
  reply[1] = static_cast<Byte>(op);
  esp::slip::append_frame(to_tool_, reply);
  tool_value_ = esp::load_u32(reply, 4);
}

void EspAccelerator::give_answer(const Sent& sent) {
  answer_like(sent.model, sent.op);
  ++counters_.answered_ahead;
  if (sent.op == Op::write_reg) ++counters_.registers_ahead;
}

void EspAccelerator::give_replies(ByteView frames) {
  append(to_tool_, frames);
  if (const auto value = last_reply_value(frames)) tool_value_ = value;
}

std::optional<ByteBuffer> EspAccelerator::write_reg_answer() const {
  if (!write_reg_model_ || (!is_stub_ && !tool_value_)) return std::nullopt;
  ByteBuffer answer = *write_reg_model_;
  // The ROM leaves the value of its last read in every reply; the stubs put 0 there.
  if (!is_stub_) {
    ByteBuffer value;
    esp::append_u32(value, *tool_value_);
    std::copy(value.begin(), value.end(), answer.begin() + 4);
  }
  return answer;
}

void EspAccelerator::on_stub_start(const esp::Response& mem_end) {
  if (!is_stub_ && status_of(mem_end, mem_end.data.size()).is_ok()) forget_rom();
}

void EspAccelerator::forget_rom() {
  is_stub_ = true;
  constant_reads_.clear();
  write_reg_model_.reset();
}

void EspAccelerator::answer_failure(Op op) {
  ByteBuffer data;
  esp::append_status(data, *failure_, status_length_);
  ByteBuffer reply;
  esp::append_response(reply, op, 0, data);
  esp::slip::append_frame(to_tool_, reply);
  ++counters_.failed_replies;
}

std::size_t EspAccelerator::window_frames() const {
  if (in_flight_.empty()) return 0;
  const Duration budget = options_.barrier_budget - round_trip_;
  const Duration estimate = frame_time_estimate(in_flight_.front().frame.size());
  const Duration per_frame = frame_time_ ? std::max(*frame_time_, estimate / 2) : estimate;
  if (budget <= Duration::zero() || per_frame <= Duration::zero()) return 0;
  return std::min(max_window_frames, static_cast<std::size_t>(budget / per_frame));
}

Duration EspAccelerator::frame_time_estimate(std::size_t frame_bytes) const {
  return wire_time(frame_bytes) * 2 + unmeasured_frame_overhead;
}

std::size_t EspAccelerator::read_window() const {
  // Enough reads to cover the round trip twice over at the wire's best, as long as the
  // tool's next other request still gets its reply in time behind them.
  const Duration budget = options_.barrier_budget - round_trip_;
  const Duration fastest = wire_time(slow_read_wire_bytes);
  const Duration slowest = fastest * 2 + rom_read_time;
  if (budget <= Duration::zero()) return 0;
  const auto needed = static_cast<std::size_t>(round_trip_ * 2 / fastest) + 4;
  return std::min({max_read_window, needed, static_cast<std::size_t>(budget / slowest)});
}

Duration EspAccelerator::wire_time(std::size_t bytes) const {
  // Ten bits a byte on the wire (8N1).
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(static_cast<double>(bytes) * 10.0 / baud_));
}

esp::Status EspAccelerator::status_of(const esp::Response& response,
                                      std::size_t status_length) const {
  auto body = esp::split_status(response.data, status_length);
  if (!body) return esp::rom_status(esp::RomError::invalid_message);  // no status: not a success
  return body->status;
}

void EspAccelerator::note(AcceleratorNote::Level level, std::string text) {
  notes_.push_back({level, std::move(text)});
}

}  // namespace ttynet::forward
