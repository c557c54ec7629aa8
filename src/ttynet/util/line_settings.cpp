#include "ttynet/util/line_settings.hpp"

#include <fmt/format.h>

namespace ttynet {

std::string to_string(Parity parity) {
  switch (parity) {
    case Parity::none:
      return "none";
    case Parity::odd:
      return "odd";
    case Parity::even:
      return "even";
    case Parity::mark:
      return "mark";
    case Parity::space:
      return "space";
  }
  return "?";
}

std::string to_string(StopBits stop_bits) {
  switch (stop_bits) {
    case StopBits::one:
      return "1";
    case StopBits::one_and_half:
      return "1.5";
    case StopBits::two:
      return "2";
  }
  return "?";
}

std::string to_string(FlowControl flow) {
  switch (flow) {
    case FlowControl::none:
      return "none";
    case FlowControl::xon_xoff:
      return "xonxoff";
    case FlowControl::rts_cts:
      return "rtscts";
  }
  return "?";
}

std::string to_string(const LineSettings& settings) {
  static constexpr char parity_letters[] = {'N', 'O', 'E', 'M', 'S'};
  std::string text =
      fmt::format("{} {}{}{}", settings.baud, settings.data_bits,
                  parity_letters[static_cast<int>(settings.parity)], to_string(settings.stop_bits));
  if (settings.flow != FlowControl::none) text += " " + to_string(settings.flow);
  return text;
}

}  // namespace ttynet
