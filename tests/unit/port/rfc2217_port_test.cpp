#include "ttynet/port/rfc2217_port.hpp"

#include <gtest/gtest.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <numeric>
#include <random>

#include "test_support.hpp"
#include "ttynet/port/loop_port.hpp"
#include "ttynet/rfc2217/error.hpp"
#include "ttynet/server/session.hpp"
#include "ttynet/telnet/codec.hpp"
#include "wire_bytes.hpp"

namespace ttynet::port {
namespace {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
namespace paced_esp = rfc2217::paced_esp;
using test::read_exactly;
using test::run;
using test::run_until;
using test::spawn;

ByteBuffer random_bytes(std::size_t n) {
  std::mt19937 generator(2217);
  std::uniform_int_distribution<int> byte(0, 255);
  ByteBuffer bytes(n);
  for (auto& b : bytes) b = static_cast<Byte>(byte(generator));
  // Every value at least once, 0xFF runs included.
  std::iota(bytes.begin(), bytes.begin() + 256, 0);
  std::fill_n(bytes.begin() + 256, 16, Byte{0xFF});
  return bytes;
}

// ttynet's own server session on loop://, on one end of a loopback TCP connection; the port
// under test connects to it.
class Rfc2217PortTest : public ::testing::Test {
 protected:
  Rfc2217PortTest()
      : device_(io_.get_executor()), acceptor_(io_, {asio::ip::address_v4::loopback(), 0}) {}
  ~Rfc2217PortTest() override {
    if (port_) port_->close();
    if (session_) session_->close();
    device_.close();
    io_.run_for(200ms);
  }

  // Serves the next connection with a session on device_.
  void serve() {
    asio::co_spawn(
        io_,
        [this]() -> asio::awaitable<void> {
          auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
          session_ = std::make_shared<server::Session>(
              std::move(socket), device_, server::SessionConfig{.signature = "ttynet test"});
          asio::co_spawn(io_, session_->run(), asio::detached);
          ByteBuffer buffer(4096);
          for (;;) {
            auto [ec, n] = co_await device_.read_some(buffer);
            if (ec) co_return;
            co_await session_->from_device({buffer.data(), n});
          }
        },
        asio::detached);
  }

  Result<std::unique_ptr<Rfc2217Port>, Error> open(Rfc2217ConnectOptions options = {}) {
    auto opened =
        run(io_,
            Rfc2217Port::connect(io_.get_executor(),
                                 TcpTarget{"127.0.0.1", acceptor_.local_endpoint().port()},
                                 std::move(options)),
            10s);
    if (!opened) return Error{std::make_error_code(std::errc::timed_out), "open hung"};
    return std::move(*opened);
  }

  void open_served(Rfc2217ConnectOptions options = {}) {
    serve();
    auto opened = open(std::move(options));
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    port_ = std::move(*opened);
  }

  asio::io_context io_;
  LoopPort device_;
  tcp::acceptor acceptor_;
  std::shared_ptr<server::Session> session_;
  std::unique_ptr<Rfc2217Port> port_;
};

TEST_F(Rfc2217PortTest, OpensWithPyserialDefaultsAndTheServerAppliesThem) {
  open_served();
  EXPECT_EQ(port_->settings(), LineSettings{});
  EXPECT_EQ(port_->control_lines(), (ControlLines{.dtr = true, .rts = true}));
  EXPECT_EQ(device_.control_lines(), (ControlLines{.dtr = true, .rts = true}));
  EXPECT_TRUE(port_->has_modem_lines());
  EXPECT_EQ(port_->info().url,
            fmt::format("rfc2217://127.0.0.1:{}", acceptor_.local_endpoint().port()));
}

TEST_F(Rfc2217PortTest, KnowsTheRoundTripOnceOpenAndALocalPortHasNone) {
  open_served();
  const auto round_trip = port_->round_trip();
  ASSERT_TRUE(round_trip);
  EXPECT_GE(*round_trip, Duration::zero());
  EXPECT_LT(*round_trip, std::chrono::seconds(3));  // below the open timeout it was measured in
  EXPECT_FALSE(device_.round_trip());
}

TEST_F(Rfc2217PortTest, SettingsAreConfirmedAndReachTheDevice) {
  open_served();
  LineSettings wanted{
      .baud = 250000, .data_bits = 7, .parity = Parity::even, .stop_bits = StopBits::two};
  auto ec = run(io_, port_->apply_settings(wanted));
  ASSERT_TRUE(ec.has_value());
  EXPECT_FALSE(*ec) << ec->message();
  EXPECT_EQ(port_->settings(), wanted);
  EXPECT_EQ(device_.settings(), wanted);
}

TEST_F(Rfc2217PortTest, ControlLinesBreakAndModemState) {
  open_served();
  auto ec = run(io_, port_->set_control_lines(false, true));
  ASSERT_TRUE(ec && !*ec);
  EXPECT_EQ(device_.control_lines(), (ControlLines{.dtr = false, .rts = true}));
  EXPECT_EQ(port_->control_lines(), (ControlLines{.dtr = false, .rts = true}));

  ec = run(io_, port_->set_break(true));
  ASSERT_TRUE(ec && !*ec);
  EXPECT_TRUE(device_.break_state());
  ec = run(io_, port_->set_break(false));
  ASSERT_TRUE(ec && !*ec);
  EXPECT_FALSE(device_.break_state());

  // loop:// loops RTS to CTS and DTR to DSR; the server notifies the change.
  ASSERT_TRUE(run_until(io_, [&] {
    auto state = run(io_, port_->modem_state(), 100ms);
    return state && state->has_value() && (**state & (modem::cts | modem::dsr)) == modem::cts;
  }));
}

TEST_F(Rfc2217PortTest, ModemStateByPolling) {
  Rfc2217ConnectOptions options;
  options.client.poll_modem = true;
  open_served(options);
  auto state = run(io_, port_->modem_state());
  ASSERT_TRUE(state && state->has_value());
  EXPECT_EQ(**state, modem::cd | modem::cts | modem::dsr);
}

TEST_F(Rfc2217PortTest, OneMebibyteRoundTripsBitExact) {
  open_served();
  const ByteBuffer sent = random_bytes(1024 * 1024);
  auto written = spawn(io_, port_->write(sent));
  auto received = run(io_, read_exactly(*port_, sent.size()), 20s);
  ASSERT_TRUE(received.has_value());
  ASSERT_TRUE(written->has_value());
  EXPECT_FALSE(**written);
  ASSERT_EQ(received->size(), sent.size());
  EXPECT_TRUE(*received == sent);
  auto drained = run(io_, port_->drain());
  ASSERT_TRUE(drained && !*drained);
}

TEST_F(Rfc2217PortTest, ReceivePurgeDropsBufferedData) {
  open_served();
  const ByteBuffer hello = {'h', 'i'};
  ASSERT_TRUE(run(io_, port_->write(hello)).has_value());
  auto echoed = run(io_, read_exactly(*port_, 1));
  ASSERT_TRUE(echoed && echoed->size() == 1);
  // The second byte may be buffered by now: the purge drops it.
  auto ec = run(io_, port_->purge(Purge::both));
  ASSERT_TRUE(ec && !*ec) << ec->message();
  const ByteBuffer after = {'x'};
  ASSERT_TRUE(run(io_, port_->write(after)).has_value());
  auto next = run(io_, read_exactly(*port_, 1));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, after);
}

TEST_F(Rfc2217PortTest, SilentServerFailsTheOpenWithinTheTimeout) {
  tcp::socket silent(io_);
  acceptor_.async_accept(silent, [](std::error_code) {});
  Rfc2217ConnectOptions options;
  options.client.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto opened = open(options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, rfc2217::errc::negotiation_timeout);
  EXPECT_NE(opened.error().message.find("rfc2217://127.0.0.1:"), std::string::npos);
  EXPECT_NE(opened.error().message.find("COM-PORT"), std::string::npos) << opened.error().message;
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 2s);
}

// A Telnet server that refuses COM-PORT both ways (a plain Telnet service).
TEST_F(Rfc2217PortTest, RefusedComPortIsAClearOpenError) {
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
        const ByteBuffer refusal = {0xFF, 0xFC, 44, 0xFF, 0xFE, 44};
        co_await asio::async_write(socket, asio::buffer(refusal), asio::use_awaitable);
        ByteBuffer sink(1024);
        for (;;) co_await socket.async_read_some(asio::buffer(sink), asio::use_awaitable);
      },
      asio::detached);
  auto opened = open();
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, rfc2217::errc::com_port_refused) << opened.error().message;
}

TEST_F(Rfc2217PortTest, ConnectionRefusedNamesTheUrl) {
  const auto port_number = acceptor_.local_endpoint().port();
  acceptor_.close();
  auto opened =
      run(io_, Rfc2217Port::connect(io_.get_executor(), TcpTarget{"127.0.0.1", port_number}));
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(opened->has_value());
  EXPECT_EQ(opened->error().message,
            fmt::format("rfc2217://127.0.0.1:{}: connection refused", port_number));
}

TEST_F(Rfc2217PortTest, ServerClosingEndsReadsWithEofAndFailsOperations) {
  open_served();
  const ByteBuffer last = {'z'};
  ASSERT_TRUE(run(io_, port_->write(last)).has_value());
  auto got = run(io_, read_exactly(*port_, 1));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, last);
  session_->close();
  ByteBuffer more(16);
  auto after = run(io_, port_->read_some(more));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(std::get<0>(*after), asio::error::eof);
  auto ec = run(io_, port_->set_control_lines(true, std::nullopt));
  ASSERT_TRUE(ec.has_value());
  EXPECT_EQ(*ec, asio::error::eof);
}

TEST_F(Rfc2217PortTest, CloseEndsAPendingRead) {
  open_served();
  ByteBuffer buffer(16);
  auto pending = spawn(io_, port_->read_some(buffer));
  test::run_ready(io_);
  port_->close();
  ASSERT_TRUE(run_until(io_, [&] { return pending->has_value(); }));
  EXPECT_EQ(std::get<0>(**pending), errc::closed);
}

TEST_F(Rfc2217PortTest, ServerWithoutPacedEspLeavesItOff) {
  open_served();  // ttynet's server core without the extension refuses it
  EXPECT_FALSE(port_->paces_esp_frames());
  auto sent = run(io_, port_->send_paced_esp(paced_esp::BatchBegin{1}));
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(*sent, std::make_error_code(std::errc::operation_not_supported));
  EXPECT_FALSE(port_->take_paced_esp_report());
  // Nothing was queued: the data stream goes on untouched.
  const ByteBuffer data = {0xC0, 0xFF, 0xC0};
  ASSERT_TRUE(run(io_, port_->write(data)).has_value());
  EXPECT_EQ(run(io_, read_exactly(*port_, data.size())), data);
}

using PortInput = std::variant<paced_esp::Message, ByteBuffer>;

// Hands each input to the port in order: messages to send_paced_esp(), data to write().
asio::awaitable<std::error_code> send_in_order(Port& port, std::vector<PortInput> inputs) {
  for (const PortInput& input : inputs) {
    std::error_code ec;
    if (const auto* message = std::get_if<paced_esp::Message>(&input)) {
      ec = co_await port.send_paced_esp(*message);
    } else {
      ec = co_await port.write(std::get<ByteBuffer>(input));
    }
    if (ec) co_return ec;
  }
  co_return std::error_code{};
}

// An RFC 2217 server that agrees to pace ESP frames, for the client's side of the extension:
// it confirms every COM-PORT request with the value asked, records what reaches it in order
// (data runs merged), and answers each BATCH-END with a BATCH-DONE.
class PacingServer {
 public:
  asio::awaitable<void> serve(tcp::acceptor& acceptor) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    ByteBuffer buffer(4096);
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(
          asio::buffer(buffer), asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      codec_.receive(ByteView(buffer).first(n));
      while (auto event = codec_.next_event()) std::visit([this](auto& e) { on(e); }, *event);
      for (ByteView out; !(out = codec_.pending_output()).empty();) {
        co_await asio::async_write(socket, asio::buffer(out.data(), out.size()),
                                   asio::use_awaitable);
        codec_.consume_output(out.size());
      }
    }
  }

  std::vector<std::string> seen;

 private:
  static constexpr std::array<telnet::OptionSupport, 2> supported{{
      {telnet::option::com_port, true, true},
      {paced_esp::option, true, false},
  }};

  void on(const telnet::DataReceived& e) {
    codec_.send_data(e.data);  // a loop device: the echo comes after every earlier answer
    const std::string text = ttynet::test::hex(e.data);
    if (!seen.empty() && seen.back().starts_with("data")) {
      seen.back() += " " + text;
    } else {
      seen.push_back("data " + text);
    }
  }
  void on(const telnet::SubnegotiationReceived& e) {
    if (e.option == telnet::option::com_port && !e.payload.empty()) {
      ByteBuffer reply(e.payload.begin(), e.payload.end());
      reply.front() = static_cast<Byte>(reply.front() + rfc2217::server_offset);
      codec_.send_subnegotiation(telnet::option::com_port, reply);
      return;
    }
    if (e.option != paced_esp::option) return;
    auto message = paced_esp::decode_message(e.payload);
    if (!message) {
      seen.push_back("bad message");
    } else if (const auto* begin = std::get_if<paced_esp::BatchBegin>(&*message)) {
      seen.push_back(fmt::format("begin {}", begin->id));
      frames_ = 0;
    } else if (const auto* info = std::get_if<paced_esp::FrameInfo>(&*message)) {
      seen.push_back(fmt::format("frame {:02x}", info->opcode));
      ++frames_;
    } else if (const auto* end = std::get_if<paced_esp::BatchEnd>(&*message)) {
      seen.push_back(fmt::format("end {}", end->id));
      ByteBuffer done;
      paced_esp::append_message(done, paced_esp::BatchDone{end->id, frames_});
      codec_.send_subnegotiation(paced_esp::option, done);
    }
  }
  template <typename Other>
  void on(const Other& /*event*/) {}

  telnet::Codec codec_{supported};
  std::uint16_t frames_ = 0;
};

TEST_F(Rfc2217PortTest, SendsPacedEspMessagesInOrderWithDataAndKeepsTheReports) {
  PacingServer server;
  asio::co_spawn(io_, server.serve(acceptor_), asio::detached);
  auto opened = open();
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  port_ = std::move(*opened);
  EXPECT_TRUE(port_->paces_esp_frames());

  const ByteBuffer frame = {0xC0, 0x00, 0x08, 0xFF, 0xC0};
  const auto sent =
      run(io_, send_in_order(
                   *port_, {paced_esp::BatchBegin{0x00FF},
                            paced_esp::FrameInfo{
                                .opcode = 0x08, .status_length = 2, .timeout = 100ms, .replies = 8},
                            frame, paced_esp::BatchEnd{0x00FF}}));
  ASSERT_TRUE(sent.has_value());
  EXPECT_FALSE(*sent) << sent->message();

  std::optional<paced_esp::Message> report;
  // run_until() asks once more after the loop: take the report only once.
  ASSERT_TRUE(run_until(io_, [&] {
    if (!report) report = port_->take_paced_esp_report();
    return report.has_value();
  }));
  EXPECT_EQ(*report, paced_esp::Message{(paced_esp::BatchDone{0x00FF, 1})});
  EXPECT_FALSE(port_->take_paced_esp_report());
  EXPECT_EQ(server.seen,
            (std::vector<std::string>{"begin 255", "frame 08", "data c0 00 08 ff c0", "end 255"}));
}

TEST_F(Rfc2217PortTest, KeepsOnlyTheNewestPacedEspReports) {
  PacingServer server;
  asio::co_spawn(io_, server.serve(acceptor_), asio::detached);
  auto opened = open();
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  port_ = std::move(*opened);
  constexpr std::uint16_t batches = Rfc2217Port::max_paced_esp_reports + 6;
  std::vector<PortInput> batch_ends;
  for (std::uint16_t id = 1; id <= batches; ++id) batch_ends.emplace_back(paced_esp::BatchEnd{id});
  const auto sent = run(io_, send_in_order(*port_, std::move(batch_ends)));
  ASSERT_TRUE(sent.has_value());
  EXPECT_FALSE(*sent) << sent->message();
  // The server answers in order: once this byte is echoed, every report is in.
  const ByteBuffer marker = {0x5A};
  const auto written = run(io_, port_->write(marker));
  ASSERT_TRUE(written.has_value());
  EXPECT_FALSE(*written) << written->message();
  ByteBuffer echoed(1);
  const auto read = run(io_, port_->read_some(echoed));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(std::get<1>(*read), 1u);
  EXPECT_EQ(echoed, marker);
  std::vector<paced_esp::BatchId> ids;
  while (const auto report = port_->take_paced_esp_report()) {
    ids.push_back(std::get<paced_esp::BatchDone>(*report).id);
  }
  ASSERT_EQ(ids.size(), Rfc2217Port::max_paced_esp_reports);
  EXPECT_EQ(ids.front(), batches - Rfc2217Port::max_paced_esp_reports + 1);  // oldest first
  EXPECT_EQ(ids.back(), batches);
}

TEST(Rfc2217Url, OptionsReachTheClient) {
  auto parsed =
      parse_port_url("rfc2217://[::1]:4000?ign_set_control&poll_modem&timeout=0.5&logging=debug");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->host, "::1");
  EXPECT_EQ(parsed->port, 4000);
  EXPECT_TRUE(parsed->flag("ign_set_control"));
  EXPECT_TRUE(parsed->flag("poll_modem"));
  EXPECT_EQ(parsed->seconds("timeout"), 500ms);
  auto defaults = parse_port_url("rfc2217://host:4000");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_FALSE(defaults->flag("ign_set_control"));
  EXPECT_EQ(defaults->seconds("timeout"), 3s);
  auto bad = parse_port_url("rfc2217://host:4000?timout=1");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("ign_set_control, poll_modem, timeout, logging"),
            std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace ttynet::port
