#pragma once

#include <spdlog/logger.h>

namespace ttynet::server {

// The "server" logger (sessions, listeners, device hosting).
spdlog::logger& log();

}  // namespace ttynet::server
