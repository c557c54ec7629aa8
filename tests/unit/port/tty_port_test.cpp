#include "ttynet/port/tty_port.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <termios.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <filesystem>
#include <numeric>

#include "test_support.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/termios2.hpp"

namespace ttynet::port {
namespace {

using test::Pty;
using test::read_exactly;
using test::run;
using test::run_until;
using test::spawn;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

class TtyPortTest : public ::testing::Test {
 protected:
  std::unique_ptr<TtyPort> open_port(ModemIo& modem_io = system_modem_io()) {
    auto opened = TtyPort::open(io_.get_executor(), pty_.slave_path(), modem_io);
    EXPECT_TRUE(opened.has_value()) << (opened ? "" : opened.error().message);
    return opened ? std::move(*opened) : nullptr;
  }

  // What the device holds, read on the master side.
  detail::Termios2 device_termios2() const {
    detail::Termios2 termios;
    EXPECT_FALSE(detail::read_termios2(pty_.master(), termios));
    return termios;
  }
  termios device_termios() const {
    termios tio{};
    EXPECT_EQ(::tcgetattr(pty_.master(), &tio), 0);
    return tio;
  }

  std::error_code apply(Port& port, const LineSettings& settings) {
    return run(io_, port.apply_settings(settings)).value();
  }

  asio::io_context io_;
  Pty pty_;
};

// Linux 6.x pseudo-terminals keep 8 data bits and no parity whatever is set (they never produce
// framing or parity errors); older kernels store what is asked. Tests accept either, as long as
// the port reports what the device holds.
bool pty_keeps_data_bits_and_parity(const Pty& pty) {
  const int fd = ::open(pty.slave_path().c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  termios tio{};
  ::tcgetattr(fd, &tio);
  tio.c_cflag = (tio.c_cflag & ~CSIZE) | CS7 | PARENB;
  ::tcsetattr(fd, TCSANOW, &tio);
  ::tcgetattr(fd, &tio);
  ::close(fd);
  return (tio.c_cflag & CSIZE) == CS7 && (tio.c_cflag & PARENB) != 0;
}

TEST_F(TtyPortTest, OpensAPseudoTerminalRawAndExclusive) {
  auto port = open_port();
  ASSERT_TRUE(port);
  EXPECT_EQ(port->info().url, pty_.slave_path());
  EXPECT_EQ(port->info().path, std::filesystem::canonical(pty_.slave_path()).string());
  EXPECT_FALSE(port->info().usb);
  EXPECT_EQ(describe(port->info()), port->info().path);

  const termios tio = device_termios();
  EXPECT_EQ(tio.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0U);
  EXPECT_EQ(tio.c_oflag & OPOST, 0U);
  EXPECT_EQ(tio.c_iflag & (ICRNL | IXON | IXOFF | ISTRIP), 0U);
  EXPECT_EQ(tio.c_cflag & (CLOCAL | CREAD), static_cast<tcflag_t>(CLOCAL | CREAD));
  EXPECT_EQ(tio.c_cflag & CRTSCTS, 0U);
  EXPECT_EQ(tio.c_cc[VMIN], 1);
  EXPECT_EQ(tio.c_cc[VTIME], 0);
}

TEST_F(TtyPortTest, AppliesStandardAndCustomBaudRates) {
  auto port = open_port();
  ASSERT_TRUE(port);
  for (const std::uint32_t baud : {9600U, 115200U, 250000U, 3000000U}) {
    const LineSettings wanted{baud, 8, Parity::none, StopBits::one, FlowControl::none};
    EXPECT_FALSE(apply(*port, wanted)) << baud;
    const detail::Termios2 held = device_termios2();
    EXPECT_EQ(held.ospeed, baud);
    EXPECT_EQ(held.ispeed, baud);
    EXPECT_EQ(port->settings(), wanted);
  }
}

// A pty holds no data size of its own (Linux forces CS8 on it): the port reports the size
// last asked, so a client is not told its accepted request was refused.
TEST_F(TtyPortTest, SetsDataBitsAndReportsThemEvenWhereAPtyForcesEight) {
  const bool exact = pty_keeps_data_bits_and_parity(pty_);
  auto port = open_port();
  ASSERT_TRUE(port);
  for (std::uint8_t data_bits = 5; data_bits <= 8; ++data_bits) {
    EXPECT_FALSE(apply(*port, {19200, data_bits, Parity::none, StopBits::one, FlowControl::none}));
    const LineSettings held = detail::decode_line_settings(device_termios2());
    EXPECT_EQ(held.data_bits, exact ? data_bits : 8);
    EXPECT_EQ(held.baud, 19200U);
    EXPECT_EQ(port->settings().data_bits, data_bits);
    EXPECT_EQ(port->settings().baud, 19200U);
  }
}

TEST_F(TtyPortTest, SetsEachParity) {
  const bool exact = pty_keeps_data_bits_and_parity(pty_);
  auto port = open_port();
  ASSERT_TRUE(port);
  struct Case {
    Parity parity;
    tcflag_t flags;  // PARODD and CMSPAR, which every kernel stores
  };
  const Case cases[] = {{Parity::none, 0},
                        {Parity::odd, PARODD},
                        {Parity::even, 0},
                        {Parity::mark, PARODD | CMSPAR},
                        {Parity::space, CMSPAR}};
  for (const auto& c : cases) {
    EXPECT_FALSE(apply(*port, {9600, 8, c.parity, StopBits::one, FlowControl::none}));
    const termios tio = device_termios();
    EXPECT_EQ(tio.c_cflag & (PARODD | CMSPAR), c.flags) << to_string(c.parity);
    const LineSettings held = detail::decode_line_settings(device_termios2());
    if (exact) {
      EXPECT_EQ(held.parity, c.parity);
    }
    EXPECT_EQ(port->settings().parity, c.parity);  // a pty keeps no PARENB: reported as asked
  }
}

TEST_F(TtyPortTest, SetsStopBits) {
  auto port = open_port();
  ASSERT_TRUE(port);
  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::two, FlowControl::none}));
  EXPECT_NE(device_termios().c_cflag & CSTOPB, 0U);
  EXPECT_EQ(port->settings().stop_bits, StopBits::two);

  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::one, FlowControl::none}));
  EXPECT_EQ(device_termios().c_cflag & CSTOPB, 0U);
  EXPECT_EQ(port->settings().stop_bits, StopBits::one);

  // 1.5 stop bits exist only with 5 data bits; with 8 the device holds 2, and says so.
  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::one_and_half, FlowControl::none}));
  EXPECT_NE(device_termios().c_cflag & CSTOPB, 0U);
  EXPECT_EQ(port->settings().stop_bits, StopBits::two);
}

TEST_F(TtyPortTest, SetsFlowControl) {
  auto port = open_port();
  ASSERT_TRUE(port);
  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::one, FlowControl::rts_cts}));
  termios tio = device_termios();
  EXPECT_NE(tio.c_cflag & CRTSCTS, 0U);
  EXPECT_EQ(tio.c_iflag & (IXON | IXOFF), 0U);
  EXPECT_EQ(port->settings().flow, FlowControl::rts_cts);

  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::one, FlowControl::xon_xoff}));
  tio = device_termios();
  EXPECT_EQ(tio.c_cflag & CRTSCTS, 0U);
  EXPECT_EQ(tio.c_iflag & (IXON | IXOFF), static_cast<tcflag_t>(IXON | IXOFF));
  EXPECT_EQ(port->settings().flow, FlowControl::xon_xoff);

  EXPECT_FALSE(apply(*port, {9600, 8, Parity::none, StopBits::one, FlowControl::none}));
  tio = device_termios();
  EXPECT_EQ(tio.c_cflag & CRTSCTS, 0U);
  EXPECT_EQ(tio.c_iflag & (IXON | IXOFF), 0U);
  EXPECT_EQ(port->settings().flow, FlowControl::none);
}

TEST_F(TtyPortTest, AppliesAllSettingsAtOnce) {
  auto port = open_port();
  ASSERT_TRUE(port);
  EXPECT_FALSE(apply(*port, {250000, 8, Parity::space, StopBits::two, FlowControl::rts_cts}));
  const detail::Termios2 held = device_termios2();
  EXPECT_EQ(held.ospeed, 250000U);
  const termios tio = device_termios();
  EXPECT_EQ(tio.c_cflag & (CSTOPB | CRTSCTS | CMSPAR | PARODD),
            static_cast<tcflag_t>(CSTOPB | CRTSCTS | CMSPAR));
}

TEST_F(TtyPortTest, RefusesOutOfRangeSettingsAndKeepsWhatHolds) {
  auto port = open_port();
  ASSERT_TRUE(port);
  const LineSettings good{57600, 8, Parity::none, StopBits::one, FlowControl::none};
  ASSERT_FALSE(apply(*port, good));
  EXPECT_EQ(apply(*port, {0, 8, Parity::none, StopBits::one, FlowControl::none}),
            errc::bad_line_settings);
  EXPECT_EQ(apply(*port, {9600, 9, Parity::none, StopBits::one, FlowControl::none}),
            errc::bad_line_settings);
  EXPECT_EQ(apply(*port, {9600, 4, Parity::none, StopBits::one, FlowControl::none}),
            errc::bad_line_settings);
  EXPECT_EQ(port->settings(), good);
  EXPECT_EQ(device_termios2().ospeed, 57600U);
}

asio::awaitable<ByteBuffer> read_exactly(asio::posix::stream_descriptor& stream, std::size_t n) {
  ByteBuffer bytes(n);
  auto [ec, got] = co_await asio::async_read(stream, asio::buffer(bytes), as_tuple_awaitable);
  bytes.resize(got);
  co_return bytes;
}

TEST_F(TtyPortTest, CarriesEveryByteValueBothWays) {
  auto port = open_port();
  ASSERT_TRUE(port);
  asio::posix::stream_descriptor master(io_, pty_.dup_master());
  ByteBuffer all(256);
  std::iota(all.begin(), all.end(), 0);

  // port -> device
  auto received = spawn(io_, read_exactly(master, all.size()));
  EXPECT_EQ(run(io_, port->write(all)), std::error_code{});
  ASSERT_TRUE(run_until(io_, [&] { return received->has_value(); }));
  EXPECT_EQ(**received, all);

  // device -> port, with some repetitions so the pattern is not all in one read
  ByteBuffer many;
  for (int i = 0; i < 8; ++i) append(many, all);
  auto read_back = spawn(io_, read_exactly(*port, many.size()));
  auto [ec, written] =
      run(io_, asio::async_write(master, asio::buffer(many), as_tuple_awaitable)).value();
  EXPECT_FALSE(ec);
  EXPECT_EQ(written, many.size());
  ASSERT_TRUE(run_until(io_, [&] { return read_back->has_value(); }));
  EXPECT_EQ(**read_back, many);
}

TEST_F(TtyPortTest, ModemRequestsOnAPseudoTerminalSucceedWithoutEffect) {
  auto port = open_port();
  ASSERT_TRUE(port);
  EXPECT_FALSE(port->has_modem_lines());
  EXPECT_EQ(run(io_, port->set_control_lines(true, true)), std::error_code{});
  EXPECT_EQ(port->control_lines(), (ControlLines{true, true}));
  EXPECT_EQ(run(io_, port->set_control_lines(std::nullopt, false)), std::error_code{});
  EXPECT_EQ(port->control_lines(), (ControlLines{true, false}));
  EXPECT_EQ(run(io_, port->set_break(true)), std::error_code{});
  EXPECT_TRUE(port->break_state());
  EXPECT_EQ(run(io_, port->set_break(false)), std::error_code{});
  EXPECT_FALSE(port->break_state());
  const auto state = run(io_, port->modem_state());
  ASSERT_TRUE(state && state->has_value());
  EXPECT_EQ(state->value(), modem::cts | modem::dsr | modem::cd);
  EXPECT_EQ(state->value(), TtyPort::modem_state_without_lines);
}

TEST_F(TtyPortTest, WarnsOnceAboutMissingModemLines) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto log = logger("port.tty");
  log->sinks().push_back(sink);
  auto port = open_port();
  ASSERT_TRUE(port);
  run(io_, port->set_control_lines(true, false));
  run(io_, port->set_control_lines(false, true));
  run(io_, port->modem_state());
  run(io_, port->set_break(true));
  log->sinks().pop_back();
  const auto lines = sink->last_formatted();
  const auto warnings = std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find("modem control lines") != std::string::npos;
  });
  EXPECT_EQ(warnings, 1);
}

TEST_F(TtyPortTest, EndsAPendingReadWhenTheDeviceGoesAway) {
  auto port = open_port();
  ASSERT_TRUE(port);
  std::array<Byte, 16> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  test::run_ready(io_);  // the read is now pending
  EXPECT_FALSE(read->has_value());
  pty_.close_master();
  ASSERT_TRUE(run_until(
      io_, [&] { return read->has_value(); }, std::chrono::seconds(2)));
  const auto [ec, n] = read->value();
  EXPECT_TRUE(ec) << "read ended without an error";
  EXPECT_EQ(n, 0U);
}

TEST_F(TtyPortTest, ReportsErrorsOnceTheDeviceIsGoneAndKeepsTheLastSettings) {
  auto port = open_port();
  ASSERT_TRUE(port);
  const LineSettings before{38400, 8, Parity::none, StopBits::one, FlowControl::none};
  ASSERT_FALSE(apply(*port, before));
  pty_.close_master();
  EXPECT_TRUE(apply(*port, {9600, 8, Parity::none, StopBits::one, FlowControl::none}));
  EXPECT_EQ(port->settings(), before);
  EXPECT_TRUE(run(io_, port->write(as_bytes("lost"))).value());
  EXPECT_TRUE(run(io_, port->purge(Purge::both)).value());
}

TEST_F(TtyPortTest, FollowsSymlinksToTheDevice) {
  const auto link =
      std::filesystem::temp_directory_path() / ("ttynet-by-id-" + std::to_string(::getpid()));
  std::filesystem::remove(link);
  std::filesystem::create_symlink(pty_.slave_path(), link);
  auto opened = TtyPort::open(io_.get_executor(), link.string());
  std::filesystem::remove(link);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(opened.value()->info().url, link.string());
  EXPECT_EQ(opened.value()->info().path, std::filesystem::canonical(pty_.slave_path()).string());
}

TEST_F(TtyPortTest, RefusesASecondOpenAsBusy) {
  auto port = open_port();
  ASSERT_TRUE(port);
  auto second = TtyPort::open(io_.get_executor(), pty_.slave_path());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, std::errc::device_or_resource_busy);
  EXPECT_EQ(second.error().message,
            pty_.slave_path() + ": device busy (another program has it open)");

  port->close();
  auto third = TtyPort::open(io_.get_executor(), pty_.slave_path());
  EXPECT_TRUE(third.has_value()) << "the lock is released on close";
}

TEST_F(TtyPortTest, ExplainsWhyAPathCannotBeOpened) {
  auto missing = TtyPort::open(io_.get_executor(), "/nonexistent/ttyUSB9");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(missing.error().message, "/nonexistent/ttyUSB9: No such file or directory");

  auto not_a_tty = TtyPort::open(io_.get_executor(), "/dev/null");
  ASSERT_FALSE(not_a_tty.has_value());
  EXPECT_EQ(not_a_tty.error().code, errc::not_a_tty);
  EXPECT_EQ(not_a_tty.error().message, "/dev/null: not a serial device");
}

TEST_F(TtyPortTest, PurgeReceiveDropsPendingInput) {
  auto port = open_port();
  ASSERT_TRUE(port);
  ASSERT_EQ(::write(pty_.master(), "stale", 5), 5);
  EXPECT_EQ(run(io_, port->purge(Purge::receive)), std::error_code{});
  EXPECT_EQ(run(io_, port->purge(Purge::transmit)), std::error_code{});
  EXPECT_EQ(run(io_, port->purge(Purge::both)), std::error_code{});
  ASSERT_EQ(::write(pty_.master(), "X", 1), 1);
  std::array<Byte, 16> buffer{};
  const auto [ec, n] = run(io_, port->read_some(buffer)).value();
  EXPECT_FALSE(ec);
  ASSERT_EQ(n, 1U);
  EXPECT_EQ(buffer[0], 'X');
}

TEST_F(TtyPortTest, CloseAbortsAPendingReadAndIsIdempotent) {
  auto port = open_port();
  ASSERT_TRUE(port);
  std::array<Byte, 16> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  test::run_ready(io_);
  port->close();
  port->close();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), asio::error::operation_aborted);
  EXPECT_EQ(std::get<0>(run(io_, port->read_some(buffer)).value()), errc::closed);
  EXPECT_EQ(run(io_, port->write(as_bytes("x"))), errc::closed);
  EXPECT_EQ(run(io_, port->set_control_lines(true, true)), errc::closed);
}

TEST_F(TtyPortTest, APendingReadOutlivesThePort) {
  auto port = open_port();
  ASSERT_TRUE(port);
  std::array<Byte, 16> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  test::run_ready(io_);
  port.reset();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), asio::error::operation_aborted);
}

// A device with modem lines, standing in where only pseudo-terminals exist.
class FakeModemIo final : public ModemIo {
 public:
  struct Write {
    std::optional<bool> dtr;
    std::optional<bool> rts;
  };

  Result<ModemLines> read_lines(int /*fd*/) override {
    if (read_error) return read_error;
    return lines;
  }
  std::error_code write_lines(int /*fd*/, std::optional<bool> dtr,
                              std::optional<bool> rts) override {
    writes.push_back({dtr, rts});
    if (write_error) return write_error;
    if (dtr) lines.output.dtr = *dtr;
    if (rts) lines.output.rts = *rts;
    return {};
  }
  std::error_code set_break(int /*fd*/, bool on) override {
    breaks.push_back(on);
    return break_error;
  }

  ModemLines lines{{true, false}, modem::cts | modem::ri};
  std::error_code read_error;
  std::error_code write_error;
  std::error_code break_error;
  std::vector<Write> writes;
  std::vector<bool> breaks;
};

TEST_F(TtyPortTest, ChangesBothLinesInOneRequestWhereTheDeviceHasThem) {
  FakeModemIo modem_io;
  auto port = open_port(modem_io);
  ASSERT_TRUE(port);
  EXPECT_TRUE(port->has_modem_lines());
  EXPECT_EQ(port->control_lines(), (ControlLines{true, false}));  // as found

  EXPECT_EQ(run(io_, port->set_control_lines(false, true)), std::error_code{});
  ASSERT_EQ(modem_io.writes.size(), 1U);
  EXPECT_EQ(modem_io.writes[0].dtr, false);
  EXPECT_EQ(modem_io.writes[0].rts, true);
  EXPECT_EQ(port->control_lines(), (ControlLines{false, true}));

  EXPECT_EQ(run(io_, port->set_control_lines(true, std::nullopt)), std::error_code{});
  ASSERT_EQ(modem_io.writes.size(), 2U);
  EXPECT_EQ(modem_io.writes[1].dtr, true);
  EXPECT_FALSE(modem_io.writes[1].rts.has_value());

  EXPECT_EQ(run(io_, port->set_break(true)), std::error_code{});
  EXPECT_EQ(modem_io.breaks, std::vector<bool>{true});

  const auto state = run(io_, port->modem_state());
  ASSERT_TRUE(state && state->has_value());
  EXPECT_EQ(state->value(), modem::cts | modem::ri);
}

TEST_F(TtyPortTest, AcknowledgesBreakOnADeviceThatRefusesIt) {
  FakeModemIo modem_io;
  modem_io.break_error = std::make_error_code(std::errc::inappropriate_io_control_operation);
  auto port = open_port(modem_io);
  ASSERT_TRUE(port);
  EXPECT_EQ(run(io_, port->set_break(true)), std::error_code{});
  EXPECT_TRUE(port->break_state());
  EXPECT_EQ(run(io_, port->set_break(false)), std::error_code{});
  EXPECT_FALSE(port->break_state());
  EXPECT_EQ(modem_io.breaks.size(), 1U) << "not asked again after a refusal";
  EXPECT_TRUE(port->has_modem_lines());
}

TEST_F(TtyPortTest, ReportsDeviceFailuresOfModemRequests) {
  FakeModemIo modem_io;
  auto port = open_port(modem_io);
  ASSERT_TRUE(port);
  const auto eio = std::make_error_code(std::errc::io_error);
  modem_io.write_error = eio;
  modem_io.read_error = eio;
  modem_io.break_error = eio;
  EXPECT_EQ(run(io_, port->set_control_lines(true, true)), eio);
  EXPECT_EQ(port->control_lines(), (ControlLines{true, false}));
  EXPECT_EQ(run(io_, port->set_break(true)), eio);
  EXPECT_FALSE(port->break_state());
  const auto state = run(io_, port->modem_state());
  ASSERT_TRUE(state && !state->has_value());
  EXPECT_EQ(state->error(), eio);
  EXPECT_TRUE(port->has_modem_lines());
}

TEST_F(TtyPortTest, FallsBackToLocalLinesWhenTheDeviceRefusesThemLater) {
  FakeModemIo modem_io;
  auto port = open_port(modem_io);
  ASSERT_TRUE(port);
  modem_io.write_error = std::make_error_code(std::errc::invalid_argument);
  EXPECT_EQ(run(io_, port->set_control_lines(false, true)), std::error_code{});
  EXPECT_FALSE(port->has_modem_lines());
  EXPECT_EQ(port->control_lines(), (ControlLines{false, true}));
  const auto state = run(io_, port->modem_state());
  ASSERT_TRUE(state && state->has_value());
  EXPECT_EQ(state->value(), TtyPort::modem_state_without_lines);
}

TEST_F(TtyPortTest, TreatsARefusalAtOpenAsNoModemLines) {
  FakeModemIo modem_io;
  modem_io.read_error = std::make_error_code(std::errc::inappropriate_io_control_operation);
  auto port = open_port(modem_io);
  ASSERT_TRUE(port);
  EXPECT_FALSE(port->has_modem_lines());
  EXPECT_EQ(run(io_, port->set_control_lines(true, true)), std::error_code{});
  EXPECT_TRUE(modem_io.writes.empty());
}

TEST_F(TtyPortTest, OpensThroughTheUrlRegistry) {
  auto url = parse_port_url(pty_.slave_path());
  ASSERT_TRUE(url);
  auto opened = run(io_, url->spec->open(io_.get_executor(), *url));
  ASSERT_TRUE(opened && opened->has_value());
  EXPECT_EQ(opened->value()->info().url, pty_.slave_path());
}

}  // namespace
}  // namespace ttynet::port
