#include "ttynet/port/socket_port.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <numeric>
#include <sstream>

#include "test_support.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/tcp_connect.hpp"

namespace ttynet::port {
namespace {

using tcp = asio::ip::tcp;
using test::read_exactly;
using test::run;
using test::run_ready;
using test::run_until;
using test::spawn;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// Reads exactly `n` bytes from the test's end of the connection, or what came before an error.
asio::awaitable<ByteBuffer> read_peer(tcp::socket& peer, std::size_t n) {
  ByteBuffer bytes(n);
  auto [ec, got] = co_await asio::async_read(peer, asio::buffer(bytes), as_tuple_awaitable);
  bytes.resize(got);
  co_return bytes;
}

ByteBuffer every_byte_value() {
  ByteBuffer all(256);
  std::iota(all.begin(), all.end(), 0);
  return all;
}

class SocketPortTest : public ::testing::Test {
 protected:
  // Listens on `address`, port 0; returns false if the address is not available here.
  bool listen(const char* address = "127.0.0.1", int backlog = 16) {
    std::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address(address), 0);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(backlog, ec);
    if (ec) return false;
    port_number_ = acceptor_.local_endpoint().port();
    return true;
  }

  std::unique_ptr<SocketPort> connect(std::string host = "127.0.0.1",
                                      SocketConnectOptions options = {}) {
    auto opened = run(
        io_, SocketPort::connect(io_.get_executor(), SocketTarget{std::move(host), port_number_},
                                 std::move(options)));
    if (!opened || !opened->has_value()) {
      ADD_FAILURE() << (opened ? opened->error().message : "connect did not complete");
      return nullptr;
    }
    return std::move(opened->value());
  }

  // The server side of the connection the port made (already in the accept queue).
  tcp::socket accept() {
    tcp::socket peer(io_);
    acceptor_.accept(peer);
    return peer;
  }

  std::unique_ptr<Port> open_url(const std::string& url) {
    auto opened = run(io_, open_port(io_.get_executor(), url));
    if (!opened || !opened->has_value()) {
      ADD_FAILURE() << url << ": " << (opened ? opened->error().message : "did not complete");
      return nullptr;
    }
    return std::move(opened->value());
  }

  Error open_error(const std::string& url) {
    auto opened = run(io_, open_port(io_.get_executor(), url));
    if (!opened) return Error{{}, "did not complete"};
    if (opened->has_value()) return Error{{}, "opened"};
    return opened->error();
  }

  std::string url(const char* host = "127.0.0.1") const {
    return fmt::format("socket://{}:{}", host, port_number_);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::uint16_t port_number_ = 0;
};

TEST_F(SocketPortTest, CarriesEveryByteValueBothWaysUntouched) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  EXPECT_EQ(port->info().url, url());
  EXPECT_EQ(port->remote_endpoint().port(), port_number_);

  // 0xFF is data, not a Telnet IAC: "A" FF FF "B" FF stays five bytes.
  ByteBuffer out = every_byte_value();
  append(out, ByteView(ByteBuffer{0x41, 0xFF, 0xFF, 0x42, 0xFF}));
  EXPECT_EQ(run(io_, port->write(out)), std::error_code{});
  EXPECT_EQ(run(io_, read_peer(peer, out.size())), out);

  const ByteBuffer in = every_byte_value();
  asio::write(peer, asio::buffer(in));
  EXPECT_EQ(run(io_, read_exactly(*port, in.size())), in);
}

TEST_F(SocketPortTest, AcceptsLineSettingsControlLinesAndBreakWithoutSendingAnything) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();

  auto log = logger("port.socket");
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(captured);
  const auto level = log->level();
  log->sinks().push_back(sink);
  log->set_level(spdlog::level::debug);

  const LineSettings settings{9600, 7, Parity::even, StopBits::two, FlowControl::rts_cts};
  EXPECT_EQ(run(io_, port->apply_settings(settings)), std::error_code{});
  EXPECT_EQ(port->settings(), settings);
  LineSettings out_of_range = settings;
  out_of_range.baud = 0;
  EXPECT_EQ(run(io_, port->apply_settings(out_of_range)), errc::bad_line_settings);
  EXPECT_EQ(port->settings(), settings);

  EXPECT_EQ(run(io_, port->set_control_lines(true, false)), std::error_code{});
  EXPECT_EQ(port->control_lines(), (ControlLines{true, false}));
  EXPECT_EQ(run(io_, port->set_control_lines(std::nullopt, true)), std::error_code{});
  EXPECT_EQ(port->control_lines(), (ControlLines{true, true}));
  EXPECT_EQ(run(io_, port->set_break(true)), std::error_code{});
  EXPECT_TRUE(port->break_state());
  EXPECT_EQ(run(io_, port->set_break(false)), std::error_code{});
  EXPECT_FALSE(port->break_state());
  EXPECT_EQ(run(io_, port->purge(Purge::both)), std::error_code{});
  EXPECT_EQ(run(io_, port->modem_state())->value(), modem::cts | modem::dsr | modem::cd);
  EXPECT_FALSE(port->has_modem_lines());

  log->sinks().pop_back();
  log->set_level(level);
  EXPECT_NE(captured.str().find("socket:// has no line settings; ignoring 9600 7E2 rtscts"),
            std::string::npos)
      << captured.str();
  EXPECT_NE(captured.str().find("ignoring DTR on, RTS off"), std::string::npos) << captured.str();

  // Nothing of the above reached the peer: the first bytes it sees are the data.
  EXPECT_EQ(run(io_, port->write(as_bytes("data"))), std::error_code{});
  EXPECT_EQ(run(io_, read_peer(peer, 4)), ByteBuffer({'d', 'a', 't', 'a'}));
}

TEST_F(SocketPortTest, ReceivePurgeDiscardsWhatHasArrived) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  // On loopback, the bytes are in the port's receive queue when the peer's write returns.
  asio::write(peer, asio::buffer(std::string_view("stale")));
  EXPECT_EQ(run(io_, port->purge(Purge::receive)), std::error_code{});
  asio::write(peer, asio::buffer(std::string_view("new")));
  EXPECT_EQ(run(io_, read_exactly(*port, 3)), ByteBuffer({'n', 'e', 'w'}));
}

TEST_F(SocketPortTest, EndsAReadWithEofWhenThePeerCloses) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  std::array<Byte, 16> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  run_ready(io_);
  EXPECT_FALSE(read->has_value());
  peer.close();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), asio::error::eof);
}

TEST_F(SocketPortTest, CloseEndsAPendingReadAndLaterOperations) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  std::array<Byte, 16> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  run_ready(io_);
  port->close();
  port->close();  // idempotent
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), asio::error::operation_aborted);
  EXPECT_EQ(run(io_, port->write(as_bytes("x"))), errc::closed);
  EXPECT_EQ(run(io_, port->set_break(true)), errc::closed);
  EXPECT_EQ(run(io_, port->modem_state())->error(), errc::closed);
}

TEST_F(SocketPortTest, KnowsTheRoundTripWhileConnected) {
  ASSERT_TRUE(listen());
  auto port = connect();
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  const auto round_trip = port->round_trip();
  ASSERT_TRUE(round_trip);
  EXPECT_GT(*round_trip, Duration::zero());
  EXPECT_LT(*round_trip, std::chrono::seconds(1));  // loopback
  port->close();
  EXPECT_FALSE(port->round_trip());
}

TEST_F(SocketPortTest, ReportsConnectionRefused) {
  ASSERT_TRUE(listen());
  acceptor_.close();  // the port number is now free: nothing listens there
  const Error error = open_error(url());
  EXPECT_EQ(error.code, asio::error::connection_refused);
  EXPECT_EQ(error.message, url() + ": connection refused");
}

// Linux drops SYNs to a listener whose accept queue is full, so a further connect stays pending:
// a loopback peer that never answers. Returns the sockets that fill the queue, or nothing if a
// pending connect could not be produced.
std::optional<std::vector<tcp::socket>> fill_accept_queue(asio::io_context& io,
                                                          const tcp::endpoint& listener) {
  std::vector<tcp::socket> clients;
  for (int attempt = 0; attempt < 16; ++attempt) {
    tcp::socket& client = clients.emplace_back(io, tcp::v4());
    client.native_non_blocking(true);
    // ::connect, as asio's synchronous connect waits for the outcome.
    const auto length = static_cast<socklen_t>(listener.size());
    if (::connect(client.native_handle(), listener.data(), length) == 0) continue;
    if (errno != EINPROGRESS) return std::nullopt;
    pollfd watch{client.native_handle(), POLLOUT, 0};
    if (::poll(&watch, 1, 200) == 0) return clients;  // still pending after 200 ms: queue full
  }
  return std::nullopt;
}

TEST_F(SocketPortTest, GivesUpConnectingAfterTheTimeout) {
  ASSERT_TRUE(listen("127.0.0.1", 0));
  const auto fillers = fill_accept_queue(io_, acceptor_.local_endpoint());
  if (!fillers) GTEST_SKIP() << "no pending connect on loopback (accept queue not enforced)";

  SocketConnectOptions options;
  options.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  auto opened = run(io_, SocketPort::connect(io_.get_executor(),
                                             SocketTarget{"127.0.0.1", port_number_}, options));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(opened->has_value());
  EXPECT_EQ(opened->error().code, std::errc::timed_out);
  EXPECT_EQ(opened->error().message, url() + ": no connection within 0.3 s");
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(SocketPortTest, ACancelledOpenEndsAtOnce) {
  ASSERT_TRUE(listen("127.0.0.1", 0));
  const auto fillers = fill_accept_queue(io_, acceptor_.local_endpoint());
  if (!fillers) GTEST_SKIP() << "no pending connect on loopback (accept queue not enforced)";

  asio::cancellation_signal cancel;
  std::optional<Result<std::unique_ptr<SocketPort>, Error>> result;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        result.emplace(co_await SocketPort::connect(io_.get_executor(),
                                                    SocketTarget{"127.0.0.1", port_number_}));
      },
      asio::bind_cancellation_slot(cancel.slot(),
                                   [](std::exception_ptr error) { EXPECT_FALSE(error); }));
  run_ready(io_);
  EXPECT_FALSE(result.has_value());
  const auto started = std::chrono::steady_clock::now();
  cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io_, [&] { return result.has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error().code, asio::error::operation_aborted);
}

TEST_F(SocketPortTest, OpensAnIpv6Literal) {
  if (!listen("::1")) GTEST_SKIP() << "no IPv6 loopback here";
  const std::string text = fmt::format("socket://[::1]:{}", port_number_);
  auto port = open_url(text);
  ASSERT_TRUE(port);
  tcp::socket peer = accept();
  EXPECT_EQ(port->info().url, text);
  EXPECT_EQ(run(io_, port->write(as_bytes("v6"))), std::error_code{});
  EXPECT_EQ(run(io_, read_peer(peer, 2)), ByteBuffer({'v', '6'}));
}

TEST_F(SocketPortTest, TriesEachAddressOfANameUntilOneAccepts) {
  // As for a name resolving to ::1 first, where nothing listens, then to 127.0.0.1; given the
  // addresses directly, so the test does not depend on how this machine resolves names.
  ASSERT_TRUE(listen());
  const std::vector<tcp::endpoint> addresses = {
      tcp::endpoint(asio::ip::make_address("::1"), port_number_),
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_number_)};
  auto connected = run(io_, connect_first(io_.get_executor(), addresses, std::chrono::seconds(5),
                                          "socket://name", logger("port.socket")));
  ASSERT_TRUE(connected.has_value());
  ASSERT_TRUE(connected->has_value()) << connected->error().message;
  EXPECT_EQ((*connected)->remote, addresses[1]);
  tcp::socket peer = accept();
  asio::write(peer, asio::buffer(std::string_view("hi")));
  ByteBuffer got(2);
  asio::read((*connected)->socket, asio::buffer(got));
  EXPECT_EQ(got, ByteBuffer({'h', 'i'}));
}

TEST_F(SocketPortTest, ReportsTheErrorWhenNoAddressAccepts) {
  ASSERT_TRUE(listen());
  const std::uint16_t closed = port_number_;
  acceptor_.close();
  const std::vector<tcp::endpoint> addresses = {
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), closed)};
  auto connected = run(io_, connect_first(io_.get_executor(), addresses, std::chrono::seconds(5),
                                          "socket://name", logger("port.socket")));
  ASSERT_TRUE(connected.has_value());
  ASSERT_FALSE(connected->has_value());
  EXPECT_EQ(connected->error().message, "socket://name: connection refused");
}

TEST_F(SocketPortTest, LoggingOptionSetsTheLevelOfItsLogger) {
  ASSERT_TRUE(listen());
  auto log = logger("port.socket");
  const auto level = log->level();
  for (const auto& [name, expected] :
       {std::pair{"error", spdlog::level::err}, std::pair{"warning", spdlog::level::warn},
        std::pair{"info", spdlog::level::info}, std::pair{"debug", spdlog::level::debug}}) {
    auto port = open_url(url() + "?logging=" + name);
    ASSERT_TRUE(port);
    EXPECT_EQ(log->level(), expected) << name;
    accept();
  }
  log->set_level(level);
}

TEST_F(SocketPortTest, RefusesBadUrls) {
  struct Case {
    const char* url;
    errc code;
    const char* message;
  };
  const Case cases[] = {
      {"socket://127.0.0.1:4000?baud=9600", errc::unknown_option,
       "unknown option 'baud' for socket://; valid: logging"},
      {"socket://127.0.0.1:4000?logging=verbose", errc::bad_option_value,
       "bad value 'verbose' for option 'logging' of socket://: expected one of debug, info, "
       "warning, error"},
      {"socket://127.0.0.1:99999", errc::bad_url,
       "socket://: bad port '99999' (1..65535) in 'socket://127.0.0.1:99999'; expected "
       "socket://HOST:PORT"},
      {"socket://127.0.0.1", errc::bad_url,
       "socket://: no port in 'socket://127.0.0.1'; expected socket://HOST:PORT"},
      {"socket://:4000", errc::bad_url,
       "socket://: no host in 'socket://:4000'; expected socket://HOST:PORT"},
      {"socket://::1:4000", errc::bad_url,
       "socket://: an IPv6 address needs brackets ([::1]:4000) in 'socket://::1:4000'; expected "
       "socket://HOST:PORT"},
  };
  for (const auto& c : cases) {
    const Error error = open_error(c.url);
    EXPECT_EQ(error.code, c.code) << c.url;
    EXPECT_EQ(error.message, c.message) << c.url;
  }
}

TEST_F(SocketPortTest, ParsesItsUrl) {
  const PortUrl parsed = parse_port_url("SOCKET://[::1]:4000/?logging=debug").value();
  EXPECT_EQ(parsed.scheme, "socket");
  EXPECT_EQ(parsed.host, "::1");
  EXPECT_EQ(parsed.port, 4000);
  EXPECT_EQ(parsed.option("logging"), "debug");
  EXPECT_NE(port_url_help().find("socket://HOST:PORT[?OPTIONS]"), std::string::npos);
}

}  // namespace
}  // namespace ttynet::port
