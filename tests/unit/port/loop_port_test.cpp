#include "ttynet/port/loop_port.hpp"

#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <numeric>

#include "test_support.hpp"
#include "ttynet/port/error.hpp"

namespace ttynet::port {
namespace {

using test::read_exactly;
using test::run;
using test::run_ready;
using test::run_until;
using test::spawn;

class LoopPortTest : public ::testing::Test {
 protected:
  asio::io_context io_;
};

TEST_F(LoopPortTest, ReadsBackWhatWasWritten) {
  LoopPort port(io_.get_executor());
  ByteBuffer all(256);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(run(io_, port.write(all)), std::error_code{});
  EXPECT_EQ(port.buffered(), all.size());
  EXPECT_EQ(run(io_, read_exactly(port, all.size())), all);
  EXPECT_EQ(port.buffered(), 0U);
}

TEST_F(LoopPortTest, AReadWaitsForAWrite) {
  LoopPort port(io_.get_executor());
  std::array<Byte, 8> buffer{};
  auto read = spawn(io_, port.read_some(buffer));
  run_ready(io_);
  EXPECT_FALSE(read->has_value());
  EXPECT_EQ(run(io_, port.write(as_bytes("hi"))), std::error_code{});
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(read->value(), std::make_tuple(std::error_code{}, std::size_t{2}));
  EXPECT_EQ(as_chars(ByteView(buffer).first(2)), "hi");
}

TEST_F(LoopPortTest, AWriteWaitsWhileTheBufferIsFull) {
  LoopPort port(io_.get_executor(), "loop://", LoopPortLimits{16});
  ByteBuffer data(40);
  std::iota(data.begin(), data.end(), 0);
  auto write = spawn(io_, port.write(data));
  run_ready(io_);
  EXPECT_FALSE(write->has_value());
  EXPECT_EQ(port.buffered(), 16U);

  auto read = spawn(io_, read_exactly(port, data.size()));
  ASSERT_TRUE(run_until(io_, [&] { return write->has_value() && read->has_value(); }));
  EXPECT_EQ(write->value(), std::error_code{});
  EXPECT_EQ(read->value(), data);
}

TEST_F(LoopPortTest, LoopsRtsToCtsAndDtrToDsr) {
  LoopPort port(io_.get_executor());
  EXPECT_TRUE(port.has_modem_lines());
  EXPECT_EQ(run(io_, port.modem_state())->value(), modem::cd);
  EXPECT_EQ(run(io_, port.set_control_lines(std::nullopt, true)), std::error_code{});
  EXPECT_EQ(run(io_, port.modem_state())->value(), modem::cd | modem::cts);
  EXPECT_EQ(run(io_, port.set_control_lines(true, false)), std::error_code{});
  EXPECT_EQ(run(io_, port.modem_state())->value(), modem::cd | modem::dsr);
  EXPECT_EQ(port.control_lines(), (ControlLines{true, false}));
  EXPECT_EQ(run(io_, port.set_break(true)), std::error_code{});
  EXPECT_TRUE(port.break_state());
}

TEST_F(LoopPortTest, StoresSettings) {
  LoopPort port(io_.get_executor());
  const LineSettings settings{250000, 7, Parity::mark, StopBits::one_and_half,
                              FlowControl::rts_cts};
  EXPECT_EQ(run(io_, port.apply_settings(settings)), std::error_code{});
  EXPECT_EQ(port.settings(), settings);
  EXPECT_EQ(run(io_, port.apply_settings({0, 8, Parity::none, StopBits::one, FlowControl::none})),
            errc::bad_line_settings);
  EXPECT_EQ(port.settings(), settings);
}

TEST_F(LoopPortTest, PurgeEmptiesTheBuffer) {
  LoopPort port(io_.get_executor());
  EXPECT_EQ(run(io_, port.write(as_bytes("stale"))), std::error_code{});
  EXPECT_EQ(run(io_, port.purge(Purge::receive)), std::error_code{});
  EXPECT_EQ(port.buffered(), 0U);
  EXPECT_EQ(run(io_, port.write(as_bytes("new"))), std::error_code{});
  EXPECT_EQ(run(io_, read_exactly(port, 3)), ByteBuffer({'n', 'e', 'w'}));
}

TEST_F(LoopPortTest, CloseEndsPendingOperations) {
  LoopPort port(io_.get_executor(), "loop://", LoopPortLimits{4});
  std::array<Byte, 8> buffer{};
  auto read = spawn(io_, port.read_some(buffer));
  run_ready(io_);
  port.close();
  port.close();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), errc::closed);
  EXPECT_EQ(run(io_, port.write(as_bytes("x"))), errc::closed);
  EXPECT_EQ(std::get<0>(run(io_, port.read_some(buffer)).value()), errc::closed);
}

TEST_F(LoopPortTest, CloseEndsAWriteWaitingForSpace) {
  LoopPort port(io_.get_executor(), "loop://", LoopPortLimits{4});
  auto write = spawn(io_, port.write(as_bytes("too long")));
  run_ready(io_);
  EXPECT_FALSE(write->has_value());
  port.close();
  ASSERT_TRUE(run_until(io_, [&] { return write->has_value(); }));
  EXPECT_EQ(write->value(), errc::closed);
}

TEST_F(LoopPortTest, PendingOperationsOutliveThePort) {
  auto port = std::make_unique<LoopPort>(io_.get_executor(), "loop://", LoopPortLimits{4});
  std::array<Byte, 8> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  run_ready(io_);
  port.reset();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), errc::closed);
}

// A coroutine cancelled while it waited on something else: its next read must not wait for
// data that may never come.
TEST_F(LoopPortTest, AReadAfterItsCoroutineWasCancelledEndsAtOnce) {
  LoopPort port(io_.get_executor());
  asio::steady_timer other_wait(io_, std::chrono::steady_clock::time_point::max());
  asio::cancellation_signal cancel;
  std::optional<std::error_code> result;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<std::error_code> {
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await other_wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        std::array<Byte, 8> buffer{};
        auto [ec, n] = co_await port.read_some(buffer);
        co_return ec;
      },
      asio::bind_cancellation_slot(cancel.slot(),
                                   [&](const std::exception_ptr& error, std::error_code ec) {
                                     EXPECT_FALSE(error);
                                     result = ec;
                                   }));
  run_ready(io_);
  cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(
      io_, [&] { return result.has_value(); }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(*result, asio::error::operation_aborted);
}

TEST_F(LoopPortTest, AReadCanBeCancelled) {
  LoopPort port(io_.get_executor());
  std::array<Byte, 8> buffer{};
  asio::cancellation_signal cancel;
  std::optional<std::tuple<std::error_code, std::size_t>> result;
  asio::co_spawn(io_, port.read_some(buffer),
                 asio::bind_cancellation_slot(
                     cancel.slot(),
                     [&](std::exception_ptr error, std::tuple<std::error_code, std::size_t> value) {
                       EXPECT_FALSE(error);
                       result = value;
                     }));
  run_ready(io_);
  EXPECT_FALSE(result.has_value());
  cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io_, [&] { return result.has_value(); }));
  EXPECT_EQ(std::get<0>(*result), asio::error::operation_aborted);
  // The port goes on working.
  EXPECT_EQ(run(io_, port.write(as_bytes("ok"))), std::error_code{});
  EXPECT_EQ(run(io_, read_exactly(port, 2)), ByteBuffer({'o', 'k'}));
}

}  // namespace
}  // namespace ttynet::port
