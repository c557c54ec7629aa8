#include <fmt/format.h>

#include "ttynet/port/log.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

asio::awaitable<Result<std::unique_ptr<Port>, Error>> open_port(asio::any_io_executor executor,
                                                                std::string_view url,
                                                                OpenOptions options) {
  auto parsed = parse_port_url(url);
  if (!parsed) co_return parsed.error();
  const PortUrl& port_url = *parsed;

  auto opened = co_await port_url.spec->open(std::move(executor), port_url);
  if (!opened) co_return opened.error();
  std::unique_ptr<Port> port = std::move(*opened);

  if (options.initial_settings) {
    if (auto ec = co_await port->apply_settings(*options.initial_settings)) {
      port->close();
      co_return Error{ec, fmt::format("{}: cannot apply {}: {}", port_url.text,
                                      to_string(*options.initial_settings), ec.message())};
    }
  }
  logger("port")->info("opened {} ({})", describe(port->info()), to_string(port->settings()));
  co_return OpenResult(std::move(port));
}

}  // namespace ttynet::port
