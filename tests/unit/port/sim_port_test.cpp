#include "ttynet/port/sim_port.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/port/error.hpp"

namespace ttynet::port {
namespace {

using namespace std::chrono_literals;
using test::run;
using test::run_until;
using test::spawn;

class SimPortTest : public ::testing::Test {
 protected:
  std::unique_ptr<Port> open(std::string_view url) {
    auto opened = run(io_, open_port(io_.get_executor(), url));
    if (!opened || !*opened) {
      ADD_FAILURE() << url << ": " << (opened ? opened->error().message : "timed out");
      return nullptr;
    }
    return std::move(**opened);
  }

  // Reads whatever the port delivers until `done(bytes)` holds or `limit` passes.
  ByteBuffer read_until(Port& port, const std::function<bool(const ByteBuffer&)>& done,
                        std::chrono::milliseconds limit = 3000ms) {
    ByteBuffer got;
    auto finished = std::make_shared<bool>(false);
    asio::co_spawn(
        io_,
        [&port, &got, &done, finished]() -> asio::awaitable<void> {
          std::array<Byte, 512> buffer{};
          while (!done(got)) {
            auto [ec, n] = co_await port.read_some(buffer);
            if (ec) break;
            got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
          }
          *finished = true;
        },
        asio::detached);
    run_until(
        io_, [&] { return *finished; }, limit);
    if (!*finished) port.close();  // ends the read, so that nothing refers to `got` any more
    run_until(
        io_, [&] { return *finished; }, 1000ms);
    return got;
  }

  // Waits `delay` on a real timer, letting the port's own timer run meanwhile.
  void wait(std::chrono::milliseconds delay) {
    asio::steady_timer timer(io_, delay);
    bool done = false;
    timer.async_wait([&](std::error_code) { done = true; });
    run_until(
        io_, [&] { return done; }, delay + 1000ms);
  }

  asio::io_context io_;
};

ByteBuffer sync_request() {
  ByteBuffer packet;
  esp::append_request(packet, esp::Op::sync, esp::sync_data());
  return esp::slip::encode_frame(packet);
}

std::vector<esp::Response> responses(const ByteBuffer& bytes, std::vector<ByteBuffer>& storage) {
  esp::slip::Decoder decoder;
  decoder.receive(bytes);
  std::vector<esp::Response> out;
  while (auto event = decoder.next_event()) {
    if (const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event)) {
      storage.emplace_back(frame->payload.begin(), frame->payload.end());
    }
  }
  for (const auto& payload : storage) {
    if (auto response = esp::decode_response(payload)) out.push_back(*response);
  }
  return out;
}

std::size_t count_frames(const ByteBuffer& bytes) {
  std::vector<ByteBuffer> storage;
  return responses(bytes, storage).size();
}

bool contains(const ByteBuffer& bytes, std::string_view text) {
  return as_chars(bytes).find(text) != std::string_view::npos;
}

TEST_F(SimPortTest, AnswersSyncWithEightRomReplies) {
  auto port = open("sim://esp32");
  ASSERT_TRUE(port);
  EXPECT_TRUE(port->has_modem_lines());
  EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
  const ByteBuffer got =
      read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 8; });
  std::vector<ByteBuffer> storage;
  const auto replies = responses(got, storage);
  ASSERT_EQ(replies.size(), 8U);
  for (const auto& reply : replies) {
    EXPECT_EQ(reply.op, esp::Op::sync);
    EXPECT_EQ(reply.value, esp::rom_sync_value);
  }
}

TEST_F(SimPortTest, ReportsCtsDsrAndCd) {
  auto port = open("sim://esp32c3");
  ASSERT_TRUE(port);
  auto state = run(io_, port->modem_state());
  ASSERT_TRUE(state && *state);
  EXPECT_EQ(**state, modem::cts | modem::dsr | modem::cd);
}

TEST_F(SimPortTest, ClassicResetEntersDownloadModeFromTheApplication) {
  auto port = open("sim://esp32?boot=app");
  ASSERT_TRUE(port);
  ByteBuffer boot = read_until(*port, [](const ByteBuffer& b) { return contains(b, "\n"); });
  EXPECT_TRUE(contains(boot, "SPI_FAST_FLASH_BOOT")) << as_chars(boot);

  // esptool's ClassicReset: D0, R1, W0.1, D1, R0, W0.05, D0 (after pyserial's open: both on).
  ASSERT_TRUE(run(io_, port->set_control_lines(true, true)));
  ASSERT_TRUE(run(io_, port->set_control_lines(false, std::nullopt)));
  ASSERT_TRUE(run(io_, port->set_control_lines(std::nullopt, true)));
  wait(100ms);
  ASSERT_TRUE(run(io_, port->set_control_lines(true, std::nullopt)));
  ASSERT_TRUE(run(io_, port->set_control_lines(std::nullopt, false)));
  wait(50ms);
  ASSERT_TRUE(run(io_, port->set_control_lines(false, std::nullopt)));

  const ByteBuffer got =
      read_until(*port, [](const ByteBuffer& b) { return contains(b, "waiting for download"); });
  EXPECT_TRUE(contains(got, "DOWNLOAD_BOOT")) << as_chars(got);
  EXPECT_TRUE(contains(got, "waiting for download")) << as_chars(got);

  EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
  const ByteBuffer replies =
      read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 8; });
  EXPECT_EQ(count_frames(replies), 8U);
}

TEST_F(SimPortTest, ApplicationBootPrintsLines) {
  auto port = open("sim://esp32?boot=app");
  ASSERT_TRUE(port);
  const ByteBuffer got = read_until(
      *port, [](const ByteBuffer& b) { return std::count(b.begin(), b.end(), Byte{'\n'}) >= 6; });
  EXPECT_GE(std::count(got.begin(), got.end(), Byte{'\n'}), 6) << as_chars(got);
  EXPECT_TRUE(contains(got, "rst:0x1")) << as_chars(got);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

TEST_F(SimPortTest, FlashFileKeepsContentsAcrossOpens) {
  char pattern[] = "/tmp/ttynet-sim-flash-XXXXXX";
  const int fd = ::mkstemp(pattern);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ::unlink(pattern);  // the port creates it
  const std::string path = pattern;
  const std::string url = "sim://esp32?flash_size=1MB&flash_file=" + path;

  // SPI_ATTACH (the ROM leaves flash detached), FLASH_BEGIN (erase 4 KiB at 0x1000), FLASH_DATA one
  // block, FLASH_END (stay in the loader).
  const auto request = [](esp::Op op, ByteView data, std::uint32_t checksum = 0) {
    ByteBuffer packet;
    esp::append_request(packet, op, data, checksum);
    return esp::slip::encode_frame(packet);
  };
  ByteBuffer begin;
  for (std::uint32_t word : {0x1000u, 1u, 0x1000u, 0x1000u}) esp::append_u32(begin, word);
  ByteBuffer block(0x1000, 0xA5);
  ByteBuffer data;
  esp::append_data_block(data, 0, block);
  ByteBuffer end;
  esp::append_u32(end, 1);  // 1 = stay in the loader

  {
    auto port = open(url);
    ASSERT_TRUE(port);
    ByteBuffer all = request(esp::Op::sync, esp::sync_data());
    for (const auto& part :
         {request(esp::Op::spi_attach, ByteBuffer(8, 0)), request(esp::Op::flash_begin, begin),
          request(esp::Op::flash_data, data, esp::checksum(block)),
          request(esp::Op::flash_end, end)}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    EXPECT_EQ(run(io_, port->write(all)), std::error_code{});
    const ByteBuffer got =
        read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 12; });
    std::vector<ByteBuffer> storage;
    for (const auto& reply : responses(got, storage)) {
      if (reply.op == esp::Op::sync) continue;
      // The ESP32 ROM ends its replies with 4 status bytes: status, error, 0, 0.
      ASSERT_EQ(reply.data.size(), 4U);
      EXPECT_EQ(reply.data[0], 0) << esp::op_name(reply.op) << " error " << int{reply.data[1]};
    }
    // Written back shortly after the change, with the port still open...
    wait(400ms);
    EXPECT_EQ(read_file(path).substr(0x1000, 4), std::string(4, '\xA5'));
    port->close();
  }
  {
    // ...and complete at close.
    std::ifstream file(path, std::ios::binary);
    const std::string contents((std::istreambuf_iterator<char>(file)),
                               std::istreambuf_iterator<char>());
    ASSERT_EQ(contents.size(), std::size_t{1} << 20);
    EXPECT_EQ(static_cast<Byte>(contents[0x0FFF]), 0xFF);
    EXPECT_EQ(static_cast<Byte>(contents[0x1000]), 0xA5);
    EXPECT_EQ(static_cast<Byte>(contents[0x1FFF]), 0xA5);
    EXPECT_EQ(static_cast<Byte>(contents[0x2000]), 0xFF);
  }
  {
    auto port = open(url);
    ASSERT_TRUE(port);
    auto* sim = dynamic_cast<SimPort*>(port.get());
    ASSERT_NE(sim, nullptr);
    EXPECT_EQ(sim->chip().flash()[0x1000], 0xA5);
    EXPECT_EQ(sim->chip().flash()[0x0FFF], 0xFF);
  }
  ::unlink(path.c_str());
}

TEST_F(SimPortTest, PacedBytesTakeTheTimeTheBaudImplies) {
  auto port = open("sim://esp32?pace=1");
  ASSERT_TRUE(port);
  // 1000 bytes of noise reach the chip at 115200 baud, 10 bits each: 86.8 ms.
  const ByteBuffer noise(1000, 0x00);
  const auto started = std::chrono::steady_clock::now();
  auto written = spawn(io_, port->write(noise));
  ASSERT_TRUE(run_until(io_, [&] { return written->has_value(); }));
  // The last of them is on the RX pin once the chip counts it.
  const ByteBuffer sync = sync_request();
  EXPECT_EQ(run(io_, port->write(sync)), std::error_code{});
  const ByteBuffer got =
      read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 1; });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  // The SYNC's replies (eight; how many are in by now depends on the machine's speed).
  EXPECT_GE(count_frames(got), 1U);
  EXPECT_LE(count_frames(got), 8U);
  EXPECT_GE(elapsed, 80ms);
  EXPECT_LT(elapsed, 2000ms);
}

TEST_F(SimPortTest, UnpacedBytesArriveAtOnce) {
  auto port = open("sim://esp32");
  ASSERT_TRUE(port);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run(io_, port->write(ByteBuffer(1000, 0x00))), std::error_code{});
  EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
  read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 8; });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 80ms);
}

TEST_F(SimPortTest, UnknownOptionNamesTheValidOnes) {
  auto opened = run(io_, open_port(io_.get_executor(), "sim://esp32?speed=1"));
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().code, make_error_code(errc::unknown_option));
  EXPECT_EQ(opened->error().message,
            "unknown option 'speed' for sim://; valid: flash_size, flash_file, mac, pace, boot, "
            "en_delay, stub, fail_block, fail_always, stop_after, corrupt_read, trace");
}

TEST_F(SimPortTest, UnknownChipAndBadMacAreErrors) {
  auto chip = run(io_, open_port(io_.get_executor(), "sim://esp8266"));
  ASSERT_TRUE(chip && !*chip);
  EXPECT_NE(chip->error().message.find("valid: esp32, esp32c3, esp32s3"), std::string::npos)
      << chip->error().message;
  auto mac = run(io_, open_port(io_.get_executor(), "sim://esp32?mac=aa:bb"));
  ASSERT_TRUE(mac && !*mac);
  EXPECT_EQ(mac->error().code, make_error_code(errc::bad_option_value));
}

TEST_F(SimPortTest, FaultOptionsReachTheChip) {
  auto port = open("sim://esp32?stop_after=1&pace=1&stub=flasher&fail_block=3&fail_always=1");
  ASSERT_TRUE(port);
  const auto& sim = dynamic_cast<const SimPort&>(*port);
  EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
  read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 8; });
  EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
  run_until(
      io_, [&] { return sim.chip().counters().frames_unanswered == 1; }, 2000ms);
  EXPECT_EQ(sim.chip().counters().frames_unanswered, 1u);  // the second SYNC: no answer

  auto bad = run(io_, open_port(io_.get_executor(), "sim://esp32?fail_block=-1"));
  ASSERT_TRUE(bad && !*bad);
  EXPECT_EQ(bad->error().code, make_error_code(errc::bad_option_value));
  EXPECT_EQ(bad->error().message,
            "bad value '-1' for option 'fail_block' of sim://: expected 0 to 4294967295");
}

TEST_F(SimPortTest, TraceRecordsWhatTheChipSawAndReadsBack) {
  char pattern[] = "/tmp/ttynet-sim-trace-XXXXXX";
  const int fd = ::mkstemp(pattern);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string path = pattern;
  {
    auto port = open("sim://esp32?mac=24:6f:28:00:00:01&trace=" + path);
    ASSERT_TRUE(port);
    EXPECT_EQ(run(io_, port->set_control_lines(true, false)), std::error_code{});
    EXPECT_EQ(run(io_, port->write(sync_request())), std::error_code{});
    read_until(*port, [](const ByteBuffer& b) { return count_frames(b) >= 8; });
    port->close();
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::remove(path.c_str());
  const auto trace = parse_sim_trace(text.str());
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->url, "sim://esp32?mac=24:6f:28:00:00:01");  // without the trace option
  ByteBuffer rx;
  ByteBuffer tx;
  bool lines = false;
  for (const SimTraceEvent& event : trace->events) {
    if (event.kind == SimTraceEvent::Kind::rx) append(rx, event.bytes);
    if (event.kind == SimTraceEvent::Kind::tx) append(tx, event.bytes);
    lines = lines || (event.kind == SimTraceEvent::Kind::lines && event.dtr && !event.rts);
  }
  EXPECT_EQ(rx, sync_request());
  EXPECT_EQ(count_frames(tx), 8u);
  EXPECT_TRUE(lines);

  EXPECT_FALSE(parse_sim_trace("ttynet-sim-trace 1 sim://esp32\n5 rx 0g\n"));
  EXPECT_FALSE(parse_sim_trace("ttynet-sim-trace 1 sim://esp32\n5 baud 1\n4 baud 2\n"));
  auto unwritable = run(io_, open_port(io_.get_executor(), "sim://esp32?trace=/nonexistent/t"));
  ASSERT_TRUE(unwritable && !*unwritable);
  EXPECT_EQ(unwritable->error().message,
            "sim://: cannot create trace file /nonexistent/t: No such file or directory");
}

TEST_F(SimPortTest, CloseEndsAPendingRead) {
  auto port = open("sim://esp32s3");
  ASSERT_TRUE(port);
  std::array<Byte, 8> buffer{};
  auto read = spawn(io_, port->read_some(buffer));
  test::run_ready(io_);
  EXPECT_FALSE(read->has_value());
  port->close();
  ASSERT_TRUE(run_until(io_, [&] { return read->has_value(); }));
  EXPECT_EQ(std::get<0>(read->value()), make_error_code(errc::closed));
}

}  // namespace
}  // namespace ttynet::port
