#include "ttynet/port/port.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/tty_port.hpp"

namespace ttynet::port {
namespace {

using test::run;

TEST(OpenPort, OpensLoopWithInitialSettings) {
  asio::io_context io;
  const LineSettings settings{230400, 8, Parity::even, StopBits::one, FlowControl::none};
  auto opened = run(io, open_port(io.get_executor(), "loop://", {settings}));
  ASSERT_TRUE(opened && opened->has_value()) << opened->error().message;
  Port& port = *opened->value();
  EXPECT_EQ(port.settings(), settings);
  EXPECT_EQ(port.info().url, "loop://");
  EXPECT_EQ(run(io, port.write(as_bytes("ping"))), std::error_code{});
  std::array<Byte, 4> buffer{};
  EXPECT_EQ(run(io, port.read_some(buffer)).value(),
            std::make_tuple(std::error_code{}, std::size_t{4}));
}

TEST(OpenPort, OpensADevicePathAsATty) {
  asio::io_context io;
  test::Pty pty;
  const LineSettings settings{115200, 8, Parity::none, StopBits::one, FlowControl::none};
  auto opened = run(io, open_port(io.get_executor(), pty.slave_path(), {settings}));
  ASSERT_TRUE(opened && opened->has_value()) << opened->error().message;
  EXPECT_NE(dynamic_cast<TtyPort*>(opened->value().get()), nullptr);
  EXPECT_EQ(opened->value()->settings(), settings);
}

TEST(OpenPort, ReportsUrlErrors) {
  asio::io_context io;
  auto opened = run(io, open_port(io.get_executor(), "foo://bar"));
  ASSERT_TRUE(opened && !opened->has_value());
  EXPECT_EQ(opened->error().code, errc::unknown_scheme);
  EXPECT_EQ(opened->error().message,
            "unknown URL scheme 'foo'; valid: loop://, rfc2217://, rfc2217+tls://, socket://, "
            "socket+tls://, sim://, or a device path");

  opened = run(io, open_port(io.get_executor(), "loop://?baud=9600"));
  ASSERT_TRUE(opened && !opened->has_value());
  EXPECT_EQ(opened->error().message, "unknown option 'baud' for loop://; valid: (none)");
}

TEST(OpenPort, ReportsSettingsTheDeviceRefuses) {
  asio::io_context io;
  auto opened =
      run(io, open_port(io.get_executor(), "loop://",
                        {LineSettings{0, 8, Parity::none, StopBits::one, FlowControl::none}}));
  ASSERT_TRUE(opened && !opened->has_value());
  EXPECT_EQ(opened->error().code, errc::bad_line_settings);
  EXPECT_EQ(opened->error().message, "loop://: cannot apply 0 8N1: line settings out of range");
}

}  // namespace
}  // namespace ttynet::port
