#include "ttynet/server/port_stats.hpp"

#include <numeric>

namespace ttynet::server {

std::string_view to_string(Refusal refusal) {
  switch (refusal) {
    case Refusal::access_rule:
      return "access_rule";
    case Refusal::busy:
      return "busy";
    case Refusal::tls:
      return "tls";
    case Refusal::identity:
      return "identity";
    case Refusal::in_use:
      return "in_use";
    case Refusal::device_missing:
      return "device_missing";
  }
  return "unknown";
}

std::string_view to_string(ClientRole role) {
  switch (role) {
    case ClientRole::controller:
      return "controller";
    case ClientRole::read_only:
      return "read-only";
    case ClientRole::monitor:
      return "monitor";
  }
  return "unknown";
}

std::string_view to_string(PortStatus::State state) {
  switch (state) {
    case PortStatus::State::serving:
      return "serving";
    case PortStatus::State::in_use:
      return "in use";
    case PortStatus::State::device_missing:
      return "device missing";
  }
  return "unknown";
}

void NegotiationHistogram::observe(double seconds) {
  sum += seconds;
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (seconds <= upper_bounds[i]) {
      ++counts[i];
      return;
    }
  }
  ++overflow;
}

std::uint64_t NegotiationHistogram::count() const {
  return std::accumulate(counts.begin(), counts.end(), overflow);
}

}  // namespace ttynet::server
