#include "ttynet/port/log.hpp"

#include <string>

#include <spdlog/spdlog.h>

namespace ttynet::port {

std::shared_ptr<spdlog::logger> logger(std::string_view name) {
  const std::string key(name);
  if (auto existing = spdlog::get(key)) return existing;
  auto created = spdlog::default_logger()->clone(key);
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Registered by someone else in the meantime: theirs is as good as ours.
    if (auto existing = spdlog::get(key)) return existing;
  }
  return created;
}

void set_logging_level(std::string_view name, std::string_view level) {
  logger(name)->set_level(level == "debug"     ? spdlog::level::debug
                          : level == "info"    ? spdlog::level::info
                          : level == "warning" ? spdlog::level::warn
                                               : spdlog::level::err);
}

}  // namespace ttynet::port
