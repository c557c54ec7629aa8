#include "ttynet/esp/packet_splitter.hpp"

#include "ttynet/esp/slip.hpp"

namespace ttynet::esp {

bool PacketSplitter::is_plausible() const {
  if (payload_.empty()) return true;
  if (payload_.front() != direction_) return false;
  if (payload_.size() < 4) return true;
  const std::size_t size = payload_[2] | static_cast<std::size_t>(payload_[3]) << 8;
  return payload_.size() <= header_size + size;
}

bool PacketSplitter::is_complete() const {
  if (payload_.size() < header_size) return false;
  const std::size_t size = payload_[2] | static_cast<std::size_t>(payload_[3]) << 8;
  return payload_.size() == header_size + size;
}

void PacketSplitter::give_up(const std::function<void(const Event&)>& on_event) {
  on_event(Passed{frame_});
  in_foreign_frame_ = true;
  frame_.clear();
  payload_.clear();
  in_escape_ = false;
}

void PacketSplitter::feed(ByteView data, const std::function<void(const Event&)>& on_event) {
  std::size_t run_start = 0;  // of bytes outside any candidate, handed out together
  for (std::size_t i = 0; i < data.size(); ++i) {
    const Byte byte = data[i];
    if (frame_.empty()) {
      if (byte != slip::end) continue;
      if (in_foreign_frame_) {
        in_foreign_frame_ = false;  // its closing END, passed with the run
        continue;
      }
      if (i > run_start) on_event(Passed{data.subspan(run_start, i - run_start)});
      frame_.push_back(byte);
      run_start = i + 1;
      continue;
    }
    if (byte == slip::end) {
      if (!in_escape_ && is_complete()) {
        frame_.push_back(byte);
        on_event(Packet{frame_, payload_});
        frame_.clear();
        payload_.clear();
      } else if (payload_.empty() && !in_escape_) {
        // Back-to-back ENDs: the first opened nothing; this one may open a packet.
        on_event(Passed{frame_});
      } else {
        // Not a packet of ours, and this END closes it.
        frame_.push_back(byte);
        give_up(on_event);
        in_foreign_frame_ = false;
      }
      run_start = i + 1;
      continue;
    }
    frame_.push_back(byte);
    run_start = i + 1;
    if (in_escape_) {
      in_escape_ = false;
      if (byte != slip::esc_end && byte != slip::esc_esc) {
        give_up(on_event);
        continue;
      }
      payload_.push_back(byte == slip::esc_end ? slip::end : slip::esc);
    } else if (byte == slip::esc) {
      in_escape_ = true;
      continue;
    } else {
      payload_.push_back(byte);
    }
    if (!is_plausible()) give_up(on_event);
  }
  if (frame_.empty() && data.size() > run_start) {
    on_event(Passed{data.subspan(run_start)});
  }
}

}  // namespace ttynet::esp
