// Recorded sessions of real esptool.py clients (tests/vectors/*.trace, see its README)
// replayed into the simulated chip: every reply must pass the checks esptool itself makes,
// and the chip must answer byte for byte as it did when the session was recorded.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "esp_test_support.hpp"
#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/sim_chip.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/port/sim_port.hpp"
#include "ttynet/port/sim_trace.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::esp {
namespace {

using port::SimTrace;
using port::SimTraceEvent;
using test::Bytes;
using Kind = SimTraceEvent::Kind;

// esptool's two ways of finding the status bytes (docs/reference/esp-loader-protocol.md §2).
enum class Dialect : std::uint8_t {
  v4,  // the last STATUS_BYTES_LENGTH bytes (4 from ESP32-family ROMs, 2 from a stub)
  v5,  // the two bytes right after the data the command returns
};

// What a replay found: the first problem, or nothing.
struct Findings {
  std::vector<std::string> problems;
  std::size_t requests = 0;
  std::size_t unanswered_syncs = 0;  // connect attempts while the chip was not listening
  void add(std::string problem) {
    if (problems.size() < 10) problems.push_back(std::move(problem));
  }
};

std::string hex(ByteView bytes, std::size_t limit = 48) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    out += fmt::format("{:02x}", bytes[i]);
  }
  return bytes.size() > limit ? out + "..." : out;
}

// Checks the chip's answers the way esptool's command() and check_command() do.
class EsptoolChecker {
 public:
  EsptoolChecker(const ChipInfo& chip, Dialect dialect) : chip_(chip), dialect_(dialect) {}

  void host_bytes(ByteView bytes) {
    host_.receive(bytes);
    while (auto event = host_.next_event()) {
      if (const auto* frame = std::get_if<slip::FrameReceived>(&*event)) {
        host_frame(frame->payload);
      }
    }
  }
  void chip_bytes(ByteView bytes) {
    chip_decoder_.receive(bytes);
    while (auto event = chip_decoder_.next_event()) {
      if (const auto* frame = std::get_if<slip::FrameReceived>(&*event)) {
        chip_frame(frame->payload);
      } else if (const auto* noise = std::get_if<slip::NoiseReceived>(&*event)) {
        if (as_chars(noise->bytes).find("waiting for download") != std::string_view::npos) {
          stub_ = false;  // the ROM loader again, after a reset
        }
      }
    }
  }
  void chip_restarted() {
    close_request();
    stub_ = false;
  }
  Findings finish() {
    close_request();
    return std::move(findings_);
  }

 private:
  struct Open {
    Bytes request;  // the whole packet
    bool stub = false;
    std::vector<Bytes> frames;  // chip frames that came after it
  };

  void host_frame(ByteView frame) {
    const auto request = decode_request(frame);
    if (!request || frame.size() < header_size) {
      return;  // a READ_FLASH acknowledgement, not a command
    }
    close_request();
    open_ = Open{Bytes(frame.begin(), frame.end()), stub_, {}};
    ++findings_.requests;
  }
  void chip_frame(ByteView frame) {
    if (frame.size() == 4 && as_chars(frame) == "OHAI") {
      stub_ = true;
      return;
    }
    if (open_) {
      open_->frames.emplace_back(frame.begin(), frame.end());
    }
  }

  // The bytes of data a command returns before its status, as esptool expects them.
  std::size_t reply_data_length(Op op, bool stub) const {
    switch (op) {
      case Op::spi_flash_md5:
        return stub ? 16 : 32;
      case Op::read_flash_slow:
        return read_flash_slow_block;
      case Op::get_security_info:
        return chip_.security_info == SecurityInfoSupport::without_chip_id ? 12 : 20;
      default:
        return 0;
    }
  }

  void close_request() {
    if (!open_) return;
    const Open open = std::move(*open_);
    open_.reset();
    const auto request = decode_request(open.request);
    const Op op = request->op;
    const std::string what = fmt::format("request {} ({} {})", findings_.requests,
                                         op_name(op).empty() ? "?" : op_name(op),
                                         open.stub ? "to the stub" : "to the ROM");
    const OpInfo* info = find_op(op);
    if (info != nullptr && !info->has_reply) return;
    // esptool reads frames until one has its opcode; an "invalid message" reply with another
    // opcode means the command is unsupported (GET_SECURITY_INFO on an ESP32 ROM).
    std::size_t match = open.frames.size();
    for (std::size_t i = 0; i < open.frames.size(); ++i) {
      const auto response = decode_response(open.frames[i]);
      if (!response) continue;
      if (response->op == op) {
        match = i;
        break;
      }
      if (response->data.size() >= 2 && response->data[0] != 0 && response->data[1] == 0x05) {
        if (op != Op::get_security_info) {
          findings_.add(fmt::format("{}: answered as unsupported: {}", what, hex(open.frames[i])));
        }
        return;
      }
    }
    if (match == open.frames.size()) {
      if (op == Op::sync && open.frames.empty()) {
        ++findings_.unanswered_syncs;  // esptool tries again
        return;
      }
      findings_.add(fmt::format("{}: no reply", what));
      return;
    }
    const Response response = *decode_response(open.frames[match]);
    if (response.size != response.data.size()) {
      findings_.add(
          fmt::format("{}: size field {} for {} bytes", what, response.size, response.data.size()));
    }
    check_status(what, op, open.stub, response);
    if (op == Op::sync) {
      check_sync(what, open, match);
    } else if (op == Op::read_flash) {
      check_read_flash(what, *request, open, match);
    }
  }

  void check_status(const std::string& what, Op op, bool stub, const Response& response) {
    const std::size_t status_length = stub ? stub_status_length : chip_.rom_status_length;
    const std::size_t data_length = reply_data_length(op, stub);
    ByteView data;
    ByteView status;
    if (dialect_ == Dialect::v4 || op == Op::read_reg) {
      // v4's check_command, and read_reg in v4 (only the first byte counts there).
      if (response.data.size() < status_length) {
        findings_.add(
            fmt::format("{}: {} bytes, fewer than the status", what, response.data.size()));
        return;
      }
      status = response.data.last(status_length);
      data = response.data.first(response.data.size() - status_length);
    } else {
      if (response.data.size() < data_length + 2) {
        findings_.add(fmt::format("{}: {} bytes where esptool v5 wants {} and the status", what,
                                  response.data.size(), data_length));
        return;
      }
      status = response.data.subspan(data_length, 2);
      data = response.data.first(data_length);
    }
    if (status[0] != 0) {
      findings_.add(fmt::format("{}: failed with status {}", what, hex(status)));
      return;
    }
    if (data.size() < data_length) {
      findings_.add(fmt::format("{}: {} data bytes, expected {}", what, data.size(), data_length));
      return;
    }
    if (op == Op::spi_flash_md5 && !stub) {
      const auto digits = as_chars(data.first(32));
      if (digits.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
        findings_.add(fmt::format("{}: MD5 is not 32 lower-case hex digits: {}", what, digits));
      }
    }
    if (op == Op::read_reg && response.value == 0 && status[1] != 0) {
      findings_.add(fmt::format("{}: READ_REG error byte {}", what, status[1]));
    }
  }

  void check_sync(const std::string& what, const Open& open, std::size_t match) {
    std::size_t syncs = 0;
    for (std::size_t i = match; i < open.frames.size(); ++i) {
      const auto response = decode_response(open.frames[i]);
      if (!response || response->op != Op::sync) continue;
      ++syncs;
      if ((response->value == 0) != open.stub) {
        findings_.add(fmt::format("{}: value {:#x} says {}", what, response->value,
                                  response->value == 0 ? "stub" : "ROM"));
      }
    }
    if (syncs != 8) {
      findings_.add(fmt::format("{}: {} SYNC replies, esptool reads 8", what, syncs));
    }
  }

  // The frames after the stub's READ_FLASH acknowledgement: data, then the MD5 digest.
  void check_read_flash(const std::string& what, const Request& request, const Open& open,
                        std::size_t match) {
    const std::uint32_t length = load_u32(request.data, 4);
    const std::uint32_t packet = load_u32(request.data, 8);
    Bytes data;
    std::size_t i = match + 1;
    for (; i < open.frames.size() && data.size() < length; ++i) {
      const Bytes& frame = open.frames[i];
      if (data.size() + frame.size() < length && frame.size() != packet) {
        findings_.add(
            fmt::format("{}: data frame of {} bytes, expected {}", what, frame.size(), packet));
      }
      data.insert(data.end(), frame.begin(), frame.end());
    }
    if (data.size() != length || i >= open.frames.size()) {
      findings_.add(fmt::format("{}: {} of {} bytes and no digest", what, data.size(), length));
      return;
    }
    const Md5Digest digest = md5(data);
    if (open.frames[i] != Bytes(digest.begin(), digest.end())) {
      findings_.add(fmt::format("{}: digest {} for data whose MD5 is {}", what, hex(open.frames[i]),
                                to_hex(digest)));
    }
  }

  const ChipInfo& chip_;
  Dialect dialect_;
  slip::Decoder host_{slip::Limits{1 << 20}};
  slip::Decoder chip_decoder_{slip::Limits{1 << 20}};
  bool stub_ = false;
  std::optional<Open> open_;
  Findings findings_;
};

// Feeds a trace's events into a chip made from its URL, at the recorded times, and checks
// every reply (EsptoolChecker) and that the chip sends what it sent when recorded.
Findings replay(const SimTrace& trace, Dialect dialect) {
  Findings failed;
  auto url = port::parse_port_url(trace.url);
  if (!url || url->scheme != "sim") {
    failed.add("the trace's URL is no sim:// URL: " + trace.url);
    return failed;
  }
  auto config = port::sim_config(*url);
  auto info = find_chip(url->path);
  if (!config || !info) {
    failed.add("cannot make the trace's chip: " + trace.url);
    return failed;
  }
  SimChip chip(**info, std::move(*config));
  EsptoolChecker checker(**info, dialect);
  const TimePoint start = TimePoint{} + std::chrono::hours(1);
  chip.on_timer(start);  // the port steps the chip once when it opens
  auto run_until = [&](TimePoint at) {
    for (int i = 0; i < 100'000; ++i) {
      const auto due = chip.deadline();
      if (!due || *due > at) return;
      chip.on_timer(std::max(*due, start));
    }
  };
  std::size_t tx_bytes = 0;
  for (const SimTraceEvent& event : trace.events) {
    const TimePoint at = start + event.at;
    run_until(at);
    switch (event.kind) {
      case Kind::rx:
        chip.receive(event.bytes, at);
        checker.host_bytes(event.bytes);
        break;
      case Kind::tx: {
        const ByteView pending = chip.pending_output();
        const std::size_t n = std::min(pending.size(), event.bytes.size());
        if (!std::equal(event.bytes.begin(), event.bytes.begin() + static_cast<std::ptrdiff_t>(n),
                        pending.begin()) ||
            n < event.bytes.size()) {
          failed.add(fmt::format("output byte {} on: the chip sent {}, the recording has {}",
                                 tx_bytes, hex(pending.first(n)), hex(event.bytes)));
          return failed;
        }
        checker.chip_bytes(event.bytes);
        chip.consume_output(n);
        tx_bytes += n;
        break;
      }
      case Kind::lines:
        chip.set_lines(event.dtr, event.rts, at);
        break;
      case Kind::baud:
        chip.set_host_baud(event.baud);
        break;
      case Kind::purge:
        chip.consume_output(chip.pending_output().size());
        break;
      case Kind::restart:
        chip.restart(PowerOn::in_download_mode, at);
        chip.consume_output(chip.pending_output().size());
        checker.chip_restarted();
        break;
    }
  }
  return checker.finish();
}

std::string text_of(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// ---------------------------------------------------------------------------------------
// The checker on hand-made traces: it passes a good session and catches bad replies.

std::string line(int at_us, std::string_view kind, ByteView bytes) {
  return fmt::format("{} {} {}\n", at_us, kind, hex(bytes, bytes.size()));
}

Bytes framed_request(Op op, ByteView data) { return test::request(op, data); }
Bytes framed_reply(Op op, std::uint32_t value, ByteView data) {
  Bytes packet;
  append_response(packet, op, value, data);
  return slip::encode_frame(packet);
}

// SYNC and READ_REG to the ESP32 ROM, with the replies as given.
std::string rom_session(ByteView read_reg_reply) {
  std::string trace = "ttynet-sim-trace 1 sim://esp32\n";
  trace += line(1000, "rx", framed_request(Op::sync, sync_data()));
  Bytes replies;
  for (int i = 0; i < 8; ++i) {
    const Bytes one = framed_reply(Op::sync, rom_sync_value, Bytes{0, 0, 0, 0});
    replies.insert(replies.end(), one.begin(), one.end());
  }
  trace += line(2000, "tx", replies);
  trace += line(3000, "rx", framed_request(Op::read_reg, test::words({0x40001000})));
  trace += line(4000, "tx", read_reg_reply);
  return trace;
}

TEST(EsptoolVectors, AGoodSessionPasses) {
  const auto trace =
      port::parse_sim_trace(rom_session(framed_reply(Op::read_reg, 0x00F01D83, Bytes{0, 0, 0, 0})));
  ASSERT_TRUE(trace) << trace.error().message;
  for (const Dialect dialect : {Dialect::v4, Dialect::v5}) {
    const Findings findings = replay(*trace, dialect);
    EXPECT_TRUE(findings.problems.empty()) << findings.problems.front();
    EXPECT_EQ(findings.requests, 2u);
  }
}

TEST(EsptoolVectors, ARecordingTheChipDoesNotReproduceFails) {
  const auto trace =
      port::parse_sim_trace(rom_session(framed_reply(Op::read_reg, 0x12345678, Bytes{0, 0, 0, 0})));
  ASSERT_TRUE(trace);
  const Findings findings = replay(*trace, Dialect::v5);
  ASSERT_EQ(findings.problems.size(), 1u);
  EXPECT_NE(findings.problems[0].find("the recording has"), std::string::npos)
      << findings.problems[0];
}

// The checker alone, fed replies no simulated chip would send.
Findings check(Dialect dialect, const std::vector<std::pair<Bytes, Bytes>>& exchanges,
               bool stub = false) {
  EsptoolChecker checker(**find_chip("esp32"), dialect);
  if (stub) checker.chip_bytes(slip::encode_frame(as_bytes(std::string_view("OHAI"))));
  for (const auto& [request, reply] : exchanges) {
    checker.host_bytes(request);
    checker.chip_bytes(reply);
  }
  return checker.finish();
}

bool mentions(const Findings& findings, std::string_view text) {
  return findings.problems.size() == 1 && findings.problems[0].find(text) != std::string::npos;
}

TEST(EsptoolVectors, TheCheckerFindsBadReplies) {
  // The ROM's MD5 must be lower-case hex.
  const Bytes md5_request = framed_request(Op::spi_flash_md5, test::words({0, 16, 0, 0}));
  const Bytes upper = test::concat(as_bytes(std::string_view("0123456789ABCDEF0123456789ABCDEF")),
                                   Bytes{0, 0, 0, 0});
  EXPECT_TRUE(
      mentions(check(Dialect::v5, {{md5_request, framed_reply(Op::spi_flash_md5, 0, upper)}}),
               "lower-case hex"));

  // The status where each esptool looks for it: four status bytes from a stub fail under v4
  // (the last two) and pass under v5 (the first two).
  const Bytes begin = framed_request(Op::flash_begin, test::words({0, 0, 0x4000, 0}));
  const Bytes four = framed_reply(Op::flash_begin, 0, Bytes{0, 0, 0xC0, 0});
  EXPECT_TRUE(mentions(check(Dialect::v4, {{begin, four}}, true), "status c000"));
  EXPECT_TRUE(check(Dialect::v5, {{begin, four}}, true).problems.empty());

  // No reply, and a SYNC answered once.
  EXPECT_TRUE(mentions(check(Dialect::v5, {{begin, {}}}), "no reply"));
  EXPECT_TRUE(mentions(check(Dialect::v4, {{framed_request(Op::sync, sync_data()),
                                            framed_reply(Op::sync, rom_sync_value, Bytes(4, 0))}}),
                       "1 SYNC replies"));

  // A stub READ_FLASH whose digest does not match its data.
  const Bytes read = framed_request(Op::read_flash, test::words({0, 16, 0x1000, 64}));
  Bytes answer = framed_reply(Op::read_flash, 0, Bytes{0, 0});
  const Bytes data = test::pattern(16);
  const Bytes data_frame = slip::encode_frame(data);
  const Bytes wrong_digest = slip::encode_frame(Bytes(16, 0xAA));
  answer.insert(answer.end(), data_frame.begin(), data_frame.end());
  answer.insert(answer.end(), wrong_digest.begin(), wrong_digest.end());
  EXPECT_TRUE(mentions(check(Dialect::v5, {{read, answer}}, true), "digest"));
}

// Every recorded session: esptool would accept every reply, and the chip answers as it did.
class RecordedSession : public testing::TestWithParam<std::filesystem::path> {};

TEST_P(RecordedSession, RepliesPassEsptoolsChecksAndMatchTheRecording) {
  const auto trace = port::parse_sim_trace(text_of(GetParam()));
  ASSERT_TRUE(trace) << trace.error().message;
  const std::string name = GetParam().filename().string();
  const Dialect dialect = name.starts_with("v4") ? Dialect::v4 : Dialect::v5;
  const Findings findings = replay(*trace, dialect);
  for (const std::string& problem : findings.problems) {
    ADD_FAILURE() << name << ": " << problem;
  }
  EXPECT_GT(findings.requests, 10u) << name;
}

std::vector<std::filesystem::path> recorded_sessions() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(TTYNET_VECTORS_DIR)) {
    if (entry.path().extension() == ".trace") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

INSTANTIATE_TEST_SUITE_P(Vectors, RecordedSession, testing::ValuesIn(recorded_sessions()),
                         [](const testing::TestParamInfo<std::filesystem::path>& param_info) {
                           std::string name = param_info.param.stem().string();
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) {
                                 return std::isalnum(static_cast<unsigned char>(c)) == 0;
                               },
                               '_');
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RecordedSession);

}  // namespace
}  // namespace ttynet::esp
