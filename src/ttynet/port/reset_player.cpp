#include "ttynet/port/reset_player.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ttynet::port {

asio::awaitable<std::error_code> play_reset(Port& port, const esp::ResetSequence& sequence) {
  using Kind = esp::ResetStep::Kind;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (const auto& step : sequence) {
    std::error_code ec;
    switch (step.kind) {
      case Kind::dtr:
        ec = co_await port.set_control_lines(step.dtr, std::nullopt);
        break;
      case Kind::rts:
        ec = co_await port.set_control_lines(std::nullopt, step.rts);
        if (!ec && step.repeat_dtr) {
          ec = co_await port.set_control_lines(port.control_lines().dtr, std::nullopt);
        }
        break;
      case Kind::both:
        ec = co_await port.set_control_lines(step.dtr, step.rts);
        break;
      case Kind::wait: {
        timer.expires_after(step.wait);
        auto [wait_ec] =
            co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        ec = wait_ec;
        break;
      }
    }
    if (ec) co_return ec;
  }
  co_return std::error_code{};
}

}  // namespace ttynet::port
