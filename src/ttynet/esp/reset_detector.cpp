#include "ttynet/esp/reset_detector.hpp"

namespace ttynet::esp {

ResetDetector::Action ResetDetector::on_request(std::optional<bool> dtr, std::optional<bool> rts) {
  const ControlLines before = lines_;
  if (dtr) lines_.dtr = *dtr;
  if (rts) lines_.rts = *rts;
  if (!pins_for(before).en_low || pins_for(lines_).en_low) return Action::pass_through;
  // EN is being released: the line that moved tells which sequence this is.
  if (lines_.dtr && lines_.rts) return Action::bootloader_reset;
  if (!lines_.dtr && !lines_.rts) return Action::hard_reset;
  // Both changed at once, straight to GPIO0 low: a tight bootloader sequence.
  return Action::bootloader_reset;
}

}  // namespace ttynet::esp
