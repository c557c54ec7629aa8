#include "serve_common.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ttynet::app {
namespace {

constexpr auto log_close_limit = std::chrono::seconds(1);

}  // namespace

int finish(server::AsyncLog& log, int code) {
  if (!log.close(log_close_limit)) {
    std::fflush(stdout);
    std::_Exit(code);
  }
  return code;
}

CLI::Range client_limit_range() {
  return CLI::Range(std::uint32_t{0}, static_cast<std::uint32_t>(server::max_client_limit.count()));
}

CLI::Option* add_keepalive_option(CLI::App& command, std::uint32_t& seconds) {
  return command
      .add_option("--keepalive", seconds,
                  "Seconds until a client that vanished (or takes no data) is dropped and "
                  "its port freed: TCP keepalive and TCP_USER_TIMEOUT (0 = never)")
      ->capture_default_str()
      ->check(client_limit_range());
}

}  // namespace ttynet::app
