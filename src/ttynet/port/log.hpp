#pragma once
// Loggers of the port layer and its users, named after the module ("port.tty", "port.loop").

#include <memory>
#include <string_view>

#include <spdlog/logger.h>

namespace ttynet::port {

// The registered logger `name`; created on first use as a clone of the default logger (same
// sinks and level), so applications configure logging once through spdlog's default logger.
std::shared_ptr<spdlog::logger> logger(std::string_view name);

// Sets the level of logger `name` from a URL's `logging=` value: debug, info, warning or error
// (pyserial's names; anything else means error).
void set_logging_level(std::string_view name, std::string_view level);

}  // namespace ttynet::port
