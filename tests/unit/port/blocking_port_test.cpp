#include "ttynet/port/blocking_port.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <numeric>

#include "test_support.hpp"
#include "ttynet/port/error.hpp"

namespace ttynet::port {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<BlockingPort> open_or_fail(std::string_view url, OpenOptions options = {}) {
  auto opened = BlockingPort::open(url, std::move(options));
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

ByteBuffer bytes_of(std::string_view text) {
  const auto view = as_bytes(text);
  return {view.begin(), view.end()};
}

TEST(BlockingPort, ReadsWhatWasWrittenOnLoop) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  ByteBuffer all(256);
  std::iota(all.begin(), all.end(), 0);
  ASSERT_FALSE(port->write(all));
  ASSERT_FALSE(port->flush());
  auto got = port->read(256, 2s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, all);
}

TEST(BlockingPort, ReadSomeReturnsZeroAfterTheTimeout) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  ByteBuffer into(8);
  const auto start = std::chrono::steady_clock::now();
  auto got = port->read_some(into, 150ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 0u);
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(BlockingPort, ReadReturnsWhatCameBeforeTheTimeout) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  ASSERT_FALSE(port->write("abc"));
  auto got = port->read(10, 100ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, bytes_of("abc"));
}

TEST(BlockingPort, ReadUntilStopsAfterTheDelimiter) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  ASSERT_FALSE(port->write("first line\r\nsecond\r\nrest"));
  auto line = port->read_until(as_bytes("\r\n"), 1s);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, bytes_of("first line\r\n"));
  line = port->read_until(as_bytes("\r\n"), 1s);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, bytes_of("second\r\n"));
  // No delimiter: what is there when the time is up.
  line = port->read_until(as_bytes("\r\n"), 100ms);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, bytes_of("rest"));
  // A maximum ends the wait too.
  ASSERT_FALSE(port->write("abcdef"));
  line = port->read_until(as_bytes("\n"), 1s, 4);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, bytes_of("abcd"));
}

TEST(BlockingPort, PurgeDropsBufferedData) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  ASSERT_FALSE(port->write("stale"));
  EXPECT_EQ(port->available(), 5u);
  ASSERT_FALSE(port->purge(Purge::both));
  EXPECT_EQ(port->available(), 0u);
}

TEST(BlockingPort, SettingsAndLinesGoToThePort) {
  OpenOptions options;
  options.initial_settings = LineSettings{.baud = 921600};
  auto port = open_or_fail("loop://", options);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->settings().baud, 921600u);
  ASSERT_FALSE(port->set_baud(9600));
  EXPECT_EQ(port->settings().baud, 9600u);
  EXPECT_EQ(port->set_baud(0), errc::bad_line_settings);
  ASSERT_FALSE(port->set_control_lines(true, false));
  EXPECT_EQ(port->control_lines(), (ControlLines{.dtr = true, .rts = false}));
  auto state = port->modem_state();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state & (modem::dsr | modem::cts), modem::dsr);
  ASSERT_FALSE(port->set_break(true));
  EXPECT_TRUE(port->port().break_state());
}

TEST(BlockingPort, PauseLetsTheDeviceRun) {
  auto port = open_or_fail("sim://esp32?boot=app");
  ASSERT_TRUE(port);
  const auto start = std::chrono::steady_clock::now();
  port->pause(100ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  // The application's boot log arrived while paused.
  EXPECT_GT(port->available(), 0u);
}

TEST(BlockingPort, OpenErrorsNameTheUrl) {
  auto opened = BlockingPort::open("nosuch://x");
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().message.find("nosuch"), std::string::npos);
}

TEST(BlockingPort, DeviceGoneEndsReadsWithAnError) {
  test::Pty pty;
  auto port = open_or_fail(pty.slave_path());
  ASSERT_TRUE(port);
  ASSERT_EQ(::write(pty.master(), "bye", 3), 3);
  auto got = port->read(3, 2s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, bytes_of("bye"));
  pty.close_master();
  ByteBuffer into(8);
  auto after = port->read_some(into, 2s);
  EXPECT_FALSE(after.has_value());
}

TEST(BlockingPort, OperationsAfterCloseFail) {
  auto port = open_or_fail("loop://");
  ASSERT_TRUE(port);
  port->close();
  EXPECT_EQ(port->write("x"), errc::closed);
  ByteBuffer into(1);
  EXPECT_FALSE(port->read_some(into, 10ms).has_value());
}

}  // namespace
}  // namespace ttynet::port
