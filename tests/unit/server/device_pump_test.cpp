#include "ttynet/server/device_pump.hpp"

#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

#include "ttynet/port/loop_port.hpp"

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;

// A session that is over cancels its pump while the pump may be handing data over, not
// reading; the pump must end then too, without waiting for more device data.
TEST(DevicePumpTest, ACancelWhileDeliveringEndsThePumpWithoutAnotherRead) {
  asio::io_context io;
  port::LoopPort device(io.get_executor());
  asio::steady_timer slow_client(io, std::chrono::steady_clock::time_point::max());
  int deliveries = 0;
  const auto deliver = [&](ByteView /*data*/) -> asio::awaitable<void> {
    ++deliveries;
    co_await slow_client.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  };
  asio::cancellation_signal cancel;
  std::optional<std::error_code> ended;
  asio::co_spawn(io, pump_device_output(device, deliver),
                 asio::bind_cancellation_slot(
                     cancel.slot(), [&](const std::exception_ptr& error, std::error_code ec) {
                       EXPECT_FALSE(error);
                       ended = ec;
                     }));
  asio::co_spawn(io, device.write(as_bytes("x")),
                 [](const std::exception_ptr&, std::error_code) {});
  for (int turn = 0; turn < 100 && deliveries == 0; ++turn) io.run_one_for(10ms);
  ASSERT_EQ(deliveries, 1);

  cancel.emit(asio::cancellation_type::terminal);
  for (int turn = 0; turn < 100 && !ended; ++turn) io.run_one_for(10ms);
  ASSERT_TRUE(ended.has_value()) << "the pump went on reading an idle device";
  EXPECT_EQ(*ended, asio::error::operation_aborted);
  EXPECT_EQ(deliveries, 1);
}

}  // namespace
}  // namespace ttynet::server
