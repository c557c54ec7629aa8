#include "ttynet/server/log.hpp"

#include "ttynet/port/log.hpp"

namespace ttynet::server {

spdlog::logger& log() {
  static const auto logger = port::logger("server");
  return *logger;
}

}  // namespace ttynet::server
