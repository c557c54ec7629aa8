#include "ttynet/server/frame_pacer.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/util/overloaded.hpp"

namespace ttynet::server {
namespace {

namespace pe = rfc2217::paced_esp;

// decode_message() checks the status length and the replies; a zero timeout would expire at
// once, which no command wants.
bool is_valid(const pe::FrameInfo& info) {
  return (info.status_length == esp::stub_status_length ||
          info.status_length == esp::esp32_rom_status_length) &&
         info.replies > 0 && info.timeout.count() > 0;
}

// The length a stub READ_FLASH asks for, from its frame as sent (END, payload, END).
std::optional<std::uint32_t> read_flash_length(ByteView frame) {
  esp::slip::Decoder decoder;
  decoder.receive(frame);
  while (const std::optional<esp::slip::Event> event = decoder.next_event()) {
    const auto* received = std::get_if<esp::slip::FrameReceived>(&*event);
    if (received == nullptr) continue;
    const Result<esp::Request> request = esp::decode_request(received->payload);
    if (!request || request->op != esp::Op::read_flash) return std::nullopt;
    const auto read = esp::decode_body<esp::ReadFlashRequest>(request->data);
    if (!read) return std::nullopt;
    return read->size;
  }
  return std::nullopt;
}

}  // namespace

bool FramePacer::receive(const pe::Message& message) {
  return std::visit(
      Overloaded{
          [this](const pe::BatchBegin& begin) {
            if (input_ == Input::outside) {
              begin_batch(begin.id);
              return true;
            }
            // Batches do not nest: the open batch and the new one both fail, and the stream
            // is dropped up to the next BatchEnd.
            abort_open_batch(pe::AbortReason::protocol_error);
            reports_.emplace_back(pe::BatchAborted{
                .id = begin.id, .index = 0, .reason = pe::AbortReason::protocol_error});
            return true;
          },
          [this](const pe::FrameInfo& info) {
            if (input_ == Input::outside) return false;
            if (input_ == Input::between_frames && is_valid(info)) {
              announce_frame(info);
            } else {
              abort_open_batch(pe::AbortReason::protocol_error);
            }
            return true;
          },
          [this](const pe::BatchEnd& end) {
            if (input_ == Input::outside) return false;
            end_batch(end.id);
            return true;
          },
          // FEATURES is answered by rfc2217::Server; the rest goes the other way.
          [](const auto&) { return false; },
      },
      message);
}

void FramePacer::receive_undecodable() { abort_open_batch(pe::AbortReason::protocol_error); }

void FramePacer::receive_data(ByteView data) {
  using esp::slip::end;
  while (!data.empty()) {
    switch (input_) {
      case Input::outside:
      case Input::dropping:
        return;
      case Input::between_frames:
        abort_open_batch(pe::AbortReason::protocol_error);  // not part of an announced frame
        return;
      case Input::announced:
        if (data.front() != end) {
          abort_open_batch(pe::AbortReason::protocol_error);
          return;
        }
        partial_.push_back(end);
        ++queued_bytes_;
        data = data.subspan(1);
        input_ = Input::in_frame;
        break;
      case Input::in_frame: {
        const auto closing = std::find(data.begin(), data.end(), end);
        const ByteView run = data.first(static_cast<std::size_t>(closing - data.begin()));
        if (closing != data.end() && run.empty() && partial_.size() == 1) {
          data = data.subspan(1);  // another leading END: the frame has not started yet
          break;
        }
        append(partial_, run);
        queued_bytes_ += run.size();
        if (partial_.size() > pe::max_queued_bytes) {
          abort_open_batch(pe::AbortReason::queue_limit);  // could never be queued whole
          return;
        }
        if (closing == data.end()) return;
        partial_.push_back(end);
        ++queued_bytes_;
        data = data.subspan(run.size() + 1);
        finish_frame();
        break;
      }
    }
  }
}

std::optional<ByteView> FramePacer::next_frame() {
  if (!is_writing_ && !acks_.empty()) {
    writing_ = std::exchange(acks_, {});
    is_writing_ = true;
    is_writing_acks_ = true;
    return ByteView{writing_};
  }
  if (is_writing_ || released_ || batches_.empty() || batches_.front().queued == 0) {
    return std::nullopt;
  }
  Frame& frame = frames_.front();
  writing_ = std::move(frame.bytes);
  queued_bytes_ -= writing_.size() + frame_cost;
  released_ = Released{
      .info = frame.info, .replies_left = frame.info.replies, .deadline = {}, .read = std::nullopt};
  if (frame.info.server_acks_read) released_->read = ReadStream{.length = frame.read_length};
  frames_.pop_front();
  --batches_.front().queued;
  is_writing_ = true;
  return ByteView{writing_};
}

void FramePacer::frame_written(TimePoint now) {
  assert(is_writing_);
  is_writing_ = false;
  writing_.clear();
  if (std::exchange(is_writing_acks_, false)) {
    // The next data frame is due within the timeout of the acknowledgement that asks for it.
    if (released_ && released_->deadline) released_->deadline = now + released_->info.timeout;
    return;
  }
  if (!released_) return;  // its batch was aborted meanwhile
  released_->deadline = now + released_->info.timeout;
  // The device was quicker than us.
  if (released_->replies_left == 0 && !released_->read) on_frame_answered();
}

void FramePacer::receive_from_device(ByteView data) {
  device_frames_.receive(data);
  while (const std::optional<esp::slip::Event> event = device_frames_.next_event()) {
    if (const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event)) {
      on_device_frame(frame->payload);
    }
  }
}

std::optional<TimePoint> FramePacer::deadline() const {
  return released_ ? released_->deadline : std::nullopt;
}

void FramePacer::expire(TimePoint now) {
  if (released_ && released_->deadline && now >= *released_->deadline) {
    abort_front_batch(pe::AbortReason::timeout);
  }
}

void FramePacer::abort_all(pe::AbortReason reason) {
  while (!batches_.empty()) abort_front_batch(reason);
}

std::optional<FramePacer::Report> FramePacer::next_report() {
  if (reports_.empty()) return std::nullopt;
  Report report = reports_.front();
  reports_.pop_front();
  return report;
}

void FramePacer::begin_batch(pe::BatchId id) {
  batches_.push_back(Batch{.id = id, .queued = 0, .received = 0, .answered = 0, .ended = false});
  queued_bytes_ += batch_cost;
  input_ = Input::between_frames;
}

void FramePacer::announce_frame(const pe::FrameInfo& info) {
  // The frame index travels in 16 bits.
  if (batches_.back().received == std::numeric_limits<std::uint16_t>::max()) {
    abort_open_batch(pe::AbortReason::protocol_error);
    return;
  }
  announced_ = info;
  input_ = Input::announced;
}

void FramePacer::end_batch(pe::BatchId id) {
  if (input_ == Input::dropping) {
    input_ = Input::outside;
    return;
  }
  if (input_ != Input::between_frames || id != batches_.back().id) {
    abort_open_batch(pe::AbortReason::protocol_error);  // inside a frame, or another batch's
    input_ = Input::outside;
    return;
  }
  batches_.back().ended = true;
  input_ = Input::outside;
  finish_done_batches();
}

void FramePacer::finish_frame() {
  std::uint32_t read_length = 0;
  if (announced_.server_acks_read) {
    const std::optional<std::uint32_t> length = read_flash_length(partial_);
    if (!length) {
      abort_open_batch(pe::AbortReason::protocol_error);
      return;
    }
    read_length = *length;
  }
  Batch& batch = batches_.back();
  frames_.push_back(
      Frame{.info = announced_, .bytes = std::move(partial_), .read_length = read_length});
  partial_.clear();  // moved from: make it a valid empty buffer again
  queued_bytes_ += frame_cost;
  ++batch.queued;
  ++batch.received;
  input_ = Input::between_frames;
}

void FramePacer::on_device_frame(ByteView payload) {
  if (released_ && released_->read && released_->replies_left == 0) {
    on_read_frame(payload);
    return;
  }
  if (!released_ || released_->replies_left == 0) return;
  const Result<esp::Response> response = esp::decode_response(payload);
  if (!response || static_cast<Byte>(response->op) != released_->info.opcode) return;
  const Result<esp::ResponseBody> body =
      esp::split_status(response->data, released_->info.status_length);
  if (!body || !body->status.is_ok()) {
    const std::size_t status_size =
        std::min<std::size_t>(response->data.size(), released_->info.status_length);
    abort_front_batch(pe::AbortReason::failed_status, response->data.last(status_size));
    return;
  }
  if (--released_->replies_left == 0 && released_->deadline && !released_->read) {
    on_frame_answered();
  }
}

void FramePacer::on_read_frame(ByteView payload) {
  ReadStream& read = *released_->read;
  if (read.received >= read.length) {  // the digest: the read is complete
    released_->read.reset();
    if (released_->deadline) on_frame_answered();
    return;
  }
  read.received += static_cast<std::uint32_t>(
      std::min<std::size_t>(payload.size(), read.length - read.received));
  ByteBuffer count;
  esp::append_u32(count, read.received);
  esp::slip::append_frame(acks_, count);
}

void FramePacer::on_frame_answered() {
  ++batches_.front().answered;
  released_.reset();
  finish_done_batches();
}

void FramePacer::abort_open_batch(pe::AbortReason reason) {
  if (!is_input_open()) return;
  clear_partial();
  const Batch& batch = batches_.back();
  drop_queued(frames_.size() - batch.queued, batch.queued);
  if (batches_.size() == 1) {  // it is the front batch too
    released_.reset();
    acks_.clear();
  }
  report_aborted(batch, reason, {});
  queued_bytes_ -= batch_cost;
  batches_.pop_back();
  input_ = Input::dropping;
}

void FramePacer::abort_front_batch(pe::AbortReason reason, ByteView status) {
  const Batch& batch = batches_.front();
  drop_queued(0, batch.queued);
  released_.reset();
  acks_.clear();  // a read given up is not acknowledged further
  report_aborted(batch, reason, status);
  if (batches_.size() == 1 && is_input_open()) {
    clear_partial();
    input_ = Input::dropping;
  }
  queued_bytes_ -= batch_cost;
  batches_.pop_front();
  finish_done_batches();
}

void FramePacer::report_aborted(const Batch& batch, pe::AbortReason reason, ByteView status) {
  pe::BatchAborted aborted{.id = batch.id,
                           .index = batch.answered,
                           .reason = reason,
                           .status = {},
                           .status_size = static_cast<std::uint8_t>(status.size())};
  assert(status.size() <= aborted.status.size());
  std::copy(status.begin(), status.end(), aborted.status.begin());
  reports_.emplace_back(aborted);
}

void FramePacer::drop_queued(std::size_t first, std::size_t count) {
  const auto begin = frames_.begin() + static_cast<std::ptrdiff_t>(first);
  const auto end = begin + static_cast<std::ptrdiff_t>(count);
  for (auto frame = begin; frame != end; ++frame) queued_bytes_ -= frame->bytes.size() + frame_cost;
  frames_.erase(begin, end);
}

void FramePacer::clear_partial() {
  queued_bytes_ -= partial_.size();
  partial_.clear();
}

void FramePacer::finish_done_batches() {
  while (!batches_.empty() && !released_) {
    const Batch& front = batches_.front();
    if (!front.ended || front.queued > 0) return;
    reports_.emplace_back(pe::BatchDone{.id = front.id, .frames = front.answered});
    queued_bytes_ -= batch_cost;
    batches_.pop_front();
  }
}

}  // namespace ttynet::server
