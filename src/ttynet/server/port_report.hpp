#pragma once
// The ports' state written for the outside: /api/ports and the dashboard's live updates (JSON
// with stable keys, listed in README "Web dashboard"), and /metrics (Prometheus text).

#include <span>
#include <string>

#include "ttynet/server/port_stats.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::server {

std::string ports_json(std::span<const PortStatus> ports, TimePoint now);
std::string ports_metrics(std::span<const PortStatus> ports);

}  // namespace ttynet::server
