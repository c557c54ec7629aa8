#include "ttynet/esp/slip.hpp"

#include <algorithm>

#include "ttynet/esp/error.hpp"

namespace ttynet::esp::slip {
namespace {

bool is_special(Byte b) { return b == end || b == esc; }

}  // namespace

void append_frame(ByteBuffer& out, ByteView payload) {
  out.reserve(out.size() + payload.size() + payload.size() / 16 + 2);
  out.push_back(end);
  auto first = payload.begin();
  while (first != payload.end()) {
    const auto special = std::find_if(first, payload.end(), is_special);
    out.insert(out.end(), first, special);
    if (special == payload.end()) {
      break;
    }
    out.push_back(esc);
    out.push_back(*special == end ? esc_end : esc_esc);
    first = special + 1;
  }
  out.push_back(end);
}

ByteBuffer encode_frame(ByteView payload) {
  ByteBuffer out;
  append_frame(out, payload);
  return out;
}

Decoder::Decoder(Limits limits) : limits_(limits) {}

void Decoder::receive(ByteView input) { input_ = input; }

void Decoder::reset() {
  state_ = State::idle;
  input_ = {};
  frame_.clear();
}

std::optional<Event> Decoder::drop_frame(std::error_code error) {
  state_ = State::discard;
  frame_.clear();
  return FrameError{error};
}

std::optional<Event> Decoder::next_event() {
  while (!input_.empty()) {
    switch (state_) {
      case State::idle: {
        const auto start = std::find(input_.begin(), input_.end(), end);
        const auto noise_length = static_cast<std::size_t>(start - input_.begin());
        if (noise_length > 0) {
          const ByteView noise = input_.first(noise_length);
          input_ = input_.subspan(noise_length);
          return NoiseReceived{noise};
        }
        input_ = input_.subspan(1);
        frame_.clear();
        state_ = State::frame;
        break;
      }
      case State::frame: {
        const auto special = std::find_if(input_.begin(), input_.end(), is_special);
        const auto run = static_cast<std::size_t>(special - input_.begin());
        if (frame_.size() + run > limits_.max_frame) {
          input_ = input_.subspan(run);
          return drop_frame(errc::slip_frame_too_long);
        }
        if (special == input_.end()) {
          append(frame_, input_);
          input_ = {};
          break;
        }
        if (*special == esc) {
          append(frame_, input_.first(run));
          input_ = input_.subspan(run + 1);
          state_ = State::frame_escape;
          break;
        }
        if (run == 0 && frame_.empty()) {
          input_ = input_.subspan(1);  // END END: the second one opens the next frame
          break;
        }
        ByteView payload = input_.first(run);
        if (!frame_.empty()) {
          append(frame_, payload);
          payload = frame_;
        }
        input_ = input_.subspan(run + 1);
        state_ = State::idle;
        return FrameReceived{payload};
      }
      case State::frame_escape: {
        const Byte escaped = input_.front();
        input_ = input_.subspan(1);
        if (escaped != esc_end && escaped != esc_esc) {
          auto event = drop_frame(errc::slip_invalid_escape);
          if (escaped == end) {
            state_ = State::idle;  // the END both ends the bad frame and is consumed
          }
          return event;
        }
        if (frame_.size() + 1 > limits_.max_frame) {
          return drop_frame(errc::slip_frame_too_long);
        }
        frame_.push_back(escaped == esc_end ? end : esc);
        state_ = State::frame;
        break;
      }
      case State::discard: {
        const auto stop = std::find(input_.begin(), input_.end(), end);
        if (stop == input_.end()) {
          input_ = {};
        } else {
          input_ = input_.subspan(static_cast<std::size_t>(stop - input_.begin()) + 1);
          state_ = State::idle;
        }
        break;
      }
    }
  }
  return std::nullopt;
}

}  // namespace ttynet::esp::slip
