#include "ttynet/server/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <string_view>

#include "byte_search.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/port/loop_port.hpp"
#include "ttynet/rfc2217/paced_esp.hpp"

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;
using test::contains;
using test::count;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Byte iac = 0xFF, sb = 0xFA, se = 0xF0, com_port = 44;

// Counts the calls that touch the device, around a loop:// port.
class CountingPort final : public port::Port {
 public:
  explicit CountingPort(asio::any_io_executor executor) : inner_(std::move(executor)) {}
  int settings_applied = 0;
  int lines_set = 0;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override {
    return inner_.read_some(into);
  }
  asio::awaitable<std::error_code> write(ByteView data) override { return inner_.write(data); }
  asio::awaitable<std::error_code> apply_settings(const LineSettings& settings) override {
    ++settings_applied;
    return inner_.apply_settings(settings);
  }
  LineSettings settings() const override { return inner_.settings(); }
  asio::awaitable<std::error_code> set_control_lines(std::optional<bool> dtr,
                                                     std::optional<bool> rts) override {
    ++lines_set;
    return inner_.set_control_lines(dtr, rts);
  }
  ControlLines control_lines() const override { return inner_.control_lines(); }
  asio::awaitable<std::error_code> set_break(bool on) override { return inner_.set_break(on); }
  bool break_state() const override { return inner_.break_state(); }
  asio::awaitable<std::error_code> purge(Purge which) override { return inner_.purge(which); }
  asio::awaitable<Result<std::uint8_t>> modem_state() override { return inner_.modem_state(); }
  bool has_modem_lines() const override { return inner_.has_modem_lines(); }
  const port::PortInfo& info() const override { return inner_.info(); }
  void close() override { inner_.close(); }

 private:
  port::LoopPort inner_;
};

ByteBuffer com_port_request(Byte command, const ByteBuffer& value) {
  ByteBuffer bytes{iac, sb, com_port, command};
  for (const Byte byte : value) bytes.push_back(byte);
  bytes.push_back(iac);
  bytes.push_back(se);
  return bytes;
}

// A session on one end of a loopback TCP connection, the test's client on the other, and
// the session's device data pumped from the port as PortHost does.
class SessionTest : public ::testing::Test {
 protected:
  // `earlier_output`: the scroll-back the session starts with.
  explicit SessionTest(SessionConfig config = {.signature = "ttynet test"},
                       std::string_view earlier_output = {})
      : port_(io_.get_executor()), client_(io_) {
    asio::ip::tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
    client_.connect(acceptor.local_endpoint());
    session_ = std::make_shared<Session>(acceptor.accept(), port_, std::move(config));
    session_->start_with(as_bytes(earlier_output));
    asio::co_spawn(io_, session_->run(), asio::detached);
    asio::co_spawn(io_, pump(), asio::detached);
  }
  ~SessionTest() override {
    session_->close();
    port_.close();
    io_.run_for(1s);
  }

  asio::awaitable<void> pump() {
    ByteBuffer buffer(4096);
    for (;;) {
      auto [ec, n] = co_await port_.read_some(buffer);
      if (ec) co_return;
      co_await session_->from_device({buffer.data(), n});
    }
  }

  void send(const ByteBuffer& bytes) { asio::write(client_, asio::buffer(bytes)); }

  // Runs the loop until the client has received `needle` `occurrences` times or `limit` passed;
  // returns everything received so far.
  ByteBuffer receive_until(const ByteBuffer& needle, std::size_t occurrences = 1,
                           std::chrono::milliseconds limit = 2s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    client_.non_blocking(true);
    while (count(received_, needle) < occurrences && std::chrono::steady_clock::now() < end) {
      io_.run_for(10ms);
      Byte chunk[4096];
      std::error_code ec;
      const std::size_t n = client_.read_some(asio::buffer(chunk), ec);
      if (!ec) received_.insert(received_.end(), chunk, chunk + n);
    }
    return received_;
  }

  asio::io_context io_{1};
  CountingPort port_;
  asio::ip::tcp::socket client_;
  std::shared_ptr<Session> session_;
  ByteBuffer received_;
};

TEST_F(SessionTest, OffersComPortAndNotifiesModemStateOnAgreement) {
  send({iac, 0xFB, com_port});  // WILL COM-PORT
  const auto bytes = receive_until({iac, sb, com_port, 107});
  EXPECT_TRUE(contains(bytes, {iac, 0xFD, com_port}));  // our DO COM-PORT
  EXPECT_TRUE(contains(bytes, {iac, sb, com_port, 107}));
}

TEST_F(SessionTest, AnswersARepeatedSettingWithoutTouchingTheDevice) {
  send({iac, 0xFB, com_port});
  const ByteBuffer baud_9600 = com_port_request(1, {0x00, 0x00, 0x25, 0x80});
  send(baud_9600);
  send(baud_9600);
  const auto bytes = receive_until(com_port_request(101, {0x00, 0x00, 0x25, 0x80}), 2);
  EXPECT_EQ(count(bytes, com_port_request(101, {0x00, 0x00, 0x25, 0x80})), 2u);
  EXPECT_EQ(port_.settings_applied, 1);
  EXPECT_EQ(port_.settings().baud, 9600u);
}

TEST_F(SessionTest, AnswersQueriesWithTheValueInForce) {
  send({iac, 0xFB, com_port});
  send(com_port_request(1, {0, 0, 0, 0}));  // baud query
  send(com_port_request(2, {0}));           // data size query
  send(com_port_request(3, {9}));           // reserved parity: value in force
  const auto bytes = receive_until(com_port_request(103, {1}));
  EXPECT_TRUE(contains(bytes, com_port_request(101, {0x00, 0x01, 0xC2, 0x00})));
  EXPECT_TRUE(contains(bytes, com_port_request(102, {8})));
  EXPECT_EQ(port_.settings_applied, 0);
}

TEST_F(SessionTest, ChangesDtrOnlyWhenAskedAndOnlyOnce) {
  send({iac, 0xFB, com_port});
  send(com_port_request(5, {8}));  // DTR on
  send(com_port_request(5, {8}));  // again: no change
  send(com_port_request(5, {7}));  // query
  receive_until(com_port_request(105, {8}), 3);
  EXPECT_EQ(port_.lines_set, 1);
  EXPECT_TRUE(port_.control_lines().dtr);
  EXPECT_FALSE(port_.control_lines().rts);
}

TEST_F(SessionTest, SuspendHoldsDeviceDataUntilResume) {
  send({iac, 0xFB, com_port});
  receive_until({iac, sb, com_port, 107});
  send(com_port_request(8, {}));             // FLOWCONTROL-SUSPEND
  send({'a', 'b', 'c'});                     // loop:// echoes it back
  receive_until({'a', 'b', 'c'}, 1, 300ms);  // proving an absence needs a bound
  EXPECT_FALSE(contains(received_, {'a', 'b', 'c'}));
  send(com_port_request(9, {}));  // FLOWCONTROL-RESUME
  EXPECT_TRUE(contains(receive_until({'a', 'b', 'c'}), {'a', 'b', 'c'}));
}

TEST_F(SessionTest, DoublesIacInDeviceDataAndUndoesItFromTheClient) {
  send({'x', iac, iac, 'y'});  // one 0xFF for the device, echoed back doubled
  EXPECT_TRUE(contains(receive_until({'x', iac, iac, 'y'}), {'x', iac, iac, 'y'}));
}

// --- Shared ports -----------------------------------------------------------------------------

class ScrollbackSessionTest : public SessionTest {
 protected:
  ScrollbackSessionTest() : SessionTest({.signature = "ttynet test"}, "earlier\xff") {}
};

TEST_F(ScrollbackSessionTest, TheClientGetsTheScrollBackBeforeLiveOutput) {
  send({'n', 'o', 'w'});  // loop:// echoes it: live output
  const auto bytes = receive_until({'n', 'o', 'w'});
  const ByteBuffer earlier{'e', 'a', 'r', 'l', 'i', 'e', 'r', iac, iac};  // IAC doubled
  const auto at = std::search(bytes.begin(), bytes.end(), earlier.begin(), earlier.end());
  const ByteBuffer live{'n', 'o', 'w'};
  const auto live_at = std::search(bytes.begin(), bytes.end(), live.begin(), live.end());
  ASSERT_NE(at, bytes.end());
  ASSERT_NE(live_at, bytes.end());
  EXPECT_LT(at, live_at);
}

class RawScrollbackSessionTest : public SessionTest {
 protected:
  RawScrollbackSessionTest()
      : SessionTest({.protocol = Protocol::raw, .signature = "ttynet test"}, "earlier\xff") {}
};

TEST_F(RawScrollbackSessionTest, TheScrollBackComesFirstAndUntouched) {
  send({'n', 'o', 'w'});
  const ByteBuffer expected{'e', 'a', 'r', 'l', 'i', 'e', 'r', iac, 'n', 'o', 'w'};
  EXPECT_EQ(receive_until(expected), expected);
}

// --- Paced ESP frames -----------------------------------------------------------------------

namespace pe = rfc2217::paced_esp;

ByteBuffer paced_sb(const pe::Message& message) {  // the messages used here carry no 0xFF
  ByteBuffer bytes{iac, sb, pe::option};
  pe::append_message(bytes, message);
  bytes.push_back(iac);
  bytes.push_back(se);
  return bytes;
}
ByteBuffer slip_packet(Byte direction, Byte op) {  // a request, or a reply with status 00 00
  ByteBuffer packet{direction, op, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  return esp::slip::encode_frame(packet);
}
ByteBuffer concat(std::initializer_list<ByteBuffer> parts) {
  ByteBuffer all;
  for (const ByteBuffer& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// Served with --esp, paced frames agreed. The loop device echoes what is written to it, so a
// reply sent by the client outside the batch comes back as the device's reply.
class PacedSessionTest : public SessionTest {
 protected:
  PacedSessionTest() : SessionTest({.signature = "ttynet test", .esp_reset = EspResetConfig{}}) {
    send({iac, 0xFD, pe::option});
    EXPECT_TRUE(contains(receive_until({iac, 0xFB, pe::option}), {iac, 0xFB, pe::option}));
  }
  static pe::FrameInfo info(Byte op, std::chrono::milliseconds timeout) {
    return {.opcode = op, .status_length = 2, .timeout = timeout, .replies = 1};
  }

  const ByteBuffer first_ = slip_packet(0x00, 0x03);   // FLASH_DATA
  const ByteBuffer second_ = slip_packet(0x00, 0x04);  // FLASH_END
};

TEST_F(PacedSessionTest, ReleasesEachFrameWhenTheDeviceAnsweredTheOneBefore) {
  send(concat({paced_sb(pe::BatchBegin{4}), paced_sb(info(0x03, 3000ms)), first_,
               paced_sb(info(0x04, 3000ms)), second_, paced_sb(pe::BatchEnd{4})}));
  EXPECT_TRUE(contains(receive_until(first_), first_));  // the echo of its write
  EXPECT_FALSE(contains(received_, second_));

  send(slip_packet(0x01, 0x03));  // FLASH_DATA's reply, echoed by the device
  EXPECT_TRUE(contains(receive_until(second_), second_));
  const ByteBuffer done = paced_sb(pe::BatchDone{.id = 4, .frames = 2});
  EXPECT_FALSE(contains(received_, done));

  send(slip_packet(0x01, 0x04));
  EXPECT_TRUE(contains(receive_until(done), done));
}

TEST_F(PacedSessionTest, AbortsAFrameThatDrawsNoReplyInTime) {
  send(concat({paced_sb(pe::BatchBegin{5}), paced_sb(info(0x03, 20ms)), first_,
               paced_sb(info(0x04, 3000ms)), second_, paced_sb(pe::BatchEnd{5})}));
  const ByteBuffer aborted =
      paced_sb(pe::BatchAborted{.id = 5, .index = 0, .reason = pe::AbortReason::timeout});
  const ByteBuffer received = receive_until(aborted);
  EXPECT_TRUE(contains(received, aborted));
  EXPECT_TRUE(contains(received, first_));
  EXPECT_FALSE(contains(received, second_));  // never written
}

}  // namespace
}  // namespace ttynet::server
