// port_probe: opens one port URL through ttynet's blocking facade and runs the steps given on
// the command line, in order, for the interop tests (tests/interop). Every step prints one JSON
// line on stdout; the first failing step also prints a one-line error on stderr and ends the
// program with exit status 1. Log output of the port layer goes to stderr.
//
//   port_probe URL [OPTIONS] [STEPS...]
//
// Options (anywhere on the line):
//   --timeout SECONDS     bound of each waiting step (the round trip's reads), default 30
//   -v                    debug logs of the port layer on stderr (-vv: trace)
//   --open-only           open, print the open step, close (no other step may be given)
//   --expect-open-error   the open must fail: prints its error and the time it took, exit 0;
//                         an open that succeeds is the failure (exit 1)
// Steps:
//   --baud N              set the baud rate; "confirmed" is what the port reports in force
//   --dtr 0|1, --rts 0|1  set one control line
//   --break 0|1           set BREAK
//   --purge               purge both buffers
//   --modem               read the modem state (CTS/DSR/RI/CD)
//   --roundtrip N         write N pseudo-random bytes (every byte value among them) to an echo
//                         device while reading the echo; the echo must be bit-exact
//   --pause SECONDS       let time pass with the port open
//   --sync                print {"step":"sync"} and wait for a line on stdin (lets a test look
//                         at the device between steps); end of input fails the step

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ttynet/port/blocking_port.hpp"
#include "ttynet/port/rfc2217_port.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/time.hpp"

namespace {

using json = nlohmann::ordered_json;
using ttynet::Byte;
using ttynet::ByteBuffer;
using ttynet::Clock;
using ttynet::Duration;
using ttynet::port::BlockingPort;

constexpr std::string_view usage =
    "usage: port_probe URL [--timeout S] [-v] [--open-only | --expect-open-error] "
    "[--baud N] [--dtr 0|1] [--rts 0|1] [--break 0|1] [--purge] [--modem] [--roundtrip N] "
    "[--pause S] [--sync]...";

enum class StepKind : std::uint8_t { baud, dtr, rts, brk, purge, modem, roundtrip, pause, sync };

struct Step {
  StepKind kind;
  std::string name;          // as printed in "step"
  std::uint64_t number = 0;  // baud, byte count, 0/1
  double seconds = 0;        // pause
};

struct Arguments {
  std::string url;
  double timeout = 30;
  int verbosity = 0;
  bool open_only = false;
  bool expect_open_error = false;
  std::vector<Step> steps;
};

struct UsageError {
  std::string message;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Duration to_duration(double seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

void print(const json& line) {
  std::fputs(line.dump().c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::uint64_t parse_count(std::string_view option, std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) {
    throw UsageError{std::string(option) + ": expected a non-negative integer, got '" +
                     std::string(text) + "'"};
  }
  return value;
}

double parse_seconds(std::string_view option, std::string_view text) {
  char* end = nullptr;
  const std::string copy(text);
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !(value >= 0)) {
    throw UsageError{std::string(option) + ": expected a number of seconds, got '" + copy + "'"};
  }
  return value;
}

bool parse_bool(std::string_view option, std::string_view text) {
  if (text == "1") return true;
  if (text == "0") return false;
  throw UsageError{std::string(option) + ": expected 0 or 1, got '" + std::string(text) + "'"};
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments args;
  std::vector<std::string_view> words(argv + 1, argv + argc);
  std::size_t i = 0;
  const auto value_of = [&](std::string_view option) -> std::string_view {
    if (i + 1 >= words.size()) throw UsageError{std::string(option) + " needs a value"};
    return words[++i];
  };
  for (; i < words.size(); ++i) {
    const std::string_view word = words[i];
    if (word == "--timeout") {
      args.timeout = parse_seconds(word, value_of(word));
    } else if (word == "-v") {
      args.verbosity += 1;
    } else if (word == "-vv") {
      args.verbosity += 2;
    } else if (word == "--open-only") {
      args.open_only = true;
    } else if (word == "--expect-open-error") {
      args.expect_open_error = true;
    } else if (word == "--baud") {
      const auto baud = parse_count(word, value_of(word));
      if (baud == 0 || baud > UINT32_MAX) throw UsageError{"--baud: out of range"};
      args.steps.push_back({StepKind::baud, "baud", baud});
    } else if (word == "--dtr") {
      args.steps.push_back({StepKind::dtr, "dtr", parse_bool(word, value_of(word)) ? 1U : 0U});
    } else if (word == "--rts") {
      args.steps.push_back({StepKind::rts, "rts", parse_bool(word, value_of(word)) ? 1U : 0U});
    } else if (word == "--break") {
      args.steps.push_back({StepKind::brk, "break", parse_bool(word, value_of(word)) ? 1U : 0U});
    } else if (word == "--purge") {
      args.steps.push_back({StepKind::purge, "purge"});
    } else if (word == "--modem") {
      args.steps.push_back({StepKind::modem, "modem"});
    } else if (word == "--roundtrip") {
      args.steps.push_back({StepKind::roundtrip, "roundtrip", parse_count(word, value_of(word))});
    } else if (word == "--pause") {
      args.steps.push_back({StepKind::pause, "pause", 0, parse_seconds(word, value_of(word))});
    } else if (word == "--sync") {
      args.steps.push_back({StepKind::sync, "sync"});
    } else if (word.starts_with("-")) {
      throw UsageError{"unknown option '" + std::string(word) + "'"};
    } else if (args.url.empty()) {
      args.url = std::string(word);
    } else {
      throw UsageError{"more than one URL: '" + args.url + "' and '" + std::string(word) + "'"};
    }
  }
  if (args.url.empty()) throw UsageError{"no URL given"};
  if (args.open_only && args.expect_open_error) {
    throw UsageError{"--open-only and --expect-open-error exclude each other"};
  }
  if ((args.open_only || args.expect_open_error) && !args.steps.empty()) {
    throw UsageError{"--open-only and --expect-open-error take no steps"};
  }
  return args;
}

// Test data: every byte value once (in order), then bytes from a seeded generator
// (splitmix64), so runs are reproducible and every value crosses the link.
ByteBuffer make_payload(std::size_t size, std::uint64_t seed) {
  ByteBuffer data(size);
  std::uint64_t state = seed;
  std::size_t i = 0;
  for (; i < size && i < 256; ++i) data[i] = static_cast<Byte>(i);
  while (i < size) {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    z ^= z >> 31U;
    for (int b = 0; b < 8 && i < size; ++b, ++i) data[i] = static_cast<Byte>(z >> (8U * b));
  }
  return data;
}

class StepFailed {
 public:
  StepFailed(json line, std::string message)
      : line_(std::move(line)), message_(std::move(message)) {}
  const json& line() const { return line_; }
  const std::string& message() const { return message_; }

 private:
  json line_;
  std::string message_;
};

// Fails the step when `ec` is set.
void check(json& line, std::error_code ec, std::string_view what) {
  if (!ec) return;
  line["ok"] = false;
  line["error"] = ec.message();
  throw StepFailed(line, std::string(what) + ": " + ec.message());
}

json lines_json(const ttynet::ControlLines& lines) {
  return json{{"dtr", lines.dtr}, {"rts", lines.rts}};
}

json run_roundtrip(BlockingPort& port, std::size_t size, double timeout) {
  // At most this much is written ahead of what came back, so neither side's buffers (nor the
  // facade's 1 MiB read buffer) fill up while the echo is read.
  constexpr std::size_t window = 256 * 1024;
  constexpr std::size_t write_piece = 16 * 1024;
  const ByteBuffer payload = make_payload(size, 2217);
  std::array<bool, 256> seen{};
  for (const Byte b : payload) seen[b] = true;
  const auto distinct = std::count(seen.begin(), seen.end(), true);

  json line{{"step", "roundtrip"}, {"bytes", size}, {"distinct_values", distinct}};
  ByteBuffer chunk(64 * 1024);
  std::size_t written = 0;
  std::size_t received = 0;
  const auto started = Clock::now();
  const auto deadline = started + to_duration(timeout);
  while (received < size) {
    while (written < size && written - received < window) {
      const std::size_t n = std::min({write_piece, size - written, window - (written - received)});
      check(line, port.write(ttynet::ByteView(payload).subspan(written, n)), "roundtrip: write");
      written += n;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      line["ok"] = false;
      line["received"] = received;
      line["error"] = "timeout";
      throw StepFailed(line, "roundtrip: only " + std::to_string(received) + " of " +
                                 std::to_string(size) + " bytes came back within " +
                                 std::to_string(timeout) + " s");
    }
    // Short reads while there is more to write, so writing goes on as the echo comes back.
    const Duration wait = written < size ? std::chrono::milliseconds(1) : deadline - now;
    auto got = port.read_some(ttynet::MutableByteView(chunk), std::min(wait, deadline - now));
    if (!got) check(line, got.error(), "roundtrip: read");
    const std::size_t n = *got;
    if (received + n > size) {
      line["ok"] = false;
      line["error"] = "more bytes than written";
      throw StepFailed(line, "roundtrip: more bytes came back than were written");
    }
    const auto expected = payload.begin() + static_cast<std::ptrdiff_t>(received);
    const auto [mine, theirs] =
        std::mismatch(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n), expected);
    if (mine != chunk.begin() + static_cast<std::ptrdiff_t>(n)) {
      const auto offset = received + static_cast<std::size_t>(mine - chunk.begin());
      line["ok"] = false;
      line["mismatch_offset"] = offset;
      line["expected"] = *theirs;
      line["got"] = *mine;
      throw StepFailed(line, "roundtrip: byte " + std::to_string(offset) + " came back as " +
                                 std::to_string(*mine) + ", sent " + std::to_string(*theirs));
    }
    received += n;
  }
  const double elapsed = seconds_since(started);
  line["ok"] = true;
  line["seconds"] = elapsed;
  line["mb_per_s"] = elapsed > 0 ? static_cast<double>(size) / 1e6 / elapsed : 0.0;
  return line;
}

json run_step(BlockingPort& port, const Step& step, double timeout) {
  json line{{"step", step.name}};
  switch (step.kind) {
    case StepKind::baud: {
      const auto baud = static_cast<std::uint32_t>(step.number);
      line["value"] = baud;
      const auto ec = port.set_baud(baud);
      line["confirmed"] = port.settings().baud;
      check(line, ec, "baud " + std::to_string(baud));
      if (port.settings().baud != baud) {
        line["ok"] = false;
        throw StepFailed(line, "baud " + std::to_string(baud) + ": the port reports " +
                                   std::to_string(port.settings().baud));
      }
      line["settings"] = ttynet::to_string(port.settings());
      break;
    }
    case StepKind::dtr:
    case StepKind::rts: {
      const bool on = step.number != 0;
      line["value"] = on;
      const bool is_dtr = step.kind == StepKind::dtr;
      const auto ec = is_dtr ? port.set_control_lines(on, std::nullopt)
                             : port.set_control_lines(std::nullopt, on);
      line["lines"] = lines_json(port.control_lines());
      check(line, ec, step.name + (on ? " on" : " off"));
      const auto lines = port.control_lines();
      if ((is_dtr ? lines.dtr : lines.rts) != on) {
        line["ok"] = false;
        throw StepFailed(line, step.name + ": the port reports the line unchanged");
      }
      break;
    }
    case StepKind::brk: {
      const bool on = step.number != 0;
      line["value"] = on;
      check(line, port.set_break(on), on ? "break on" : "break off");
      line["break"] = port.port().break_state();
      break;
    }
    case StepKind::purge:
      check(line, port.purge(ttynet::Purge::both), "purge");
      break;
    case StepKind::modem: {
      auto state = port.modem_state();
      if (!state) check(line, state.error(), "modem state");
      line["value"] = *state;
      line["cts"] = (*state & ttynet::modem::cts) != 0;
      line["dsr"] = (*state & ttynet::modem::dsr) != 0;
      line["ri"] = (*state & ttynet::modem::ri) != 0;
      line["cd"] = (*state & ttynet::modem::cd) != 0;
      break;
    }
    case StepKind::roundtrip:
      return run_roundtrip(port, static_cast<std::size_t>(step.number), timeout);
    case StepKind::pause:
      port.pause(to_duration(step.seconds));
      line["seconds"] = step.seconds;
      break;
    case StepKind::sync:  // main() handles it: it prints before it waits
      break;
  }
  line["ok"] = true;
  return line;
}

void configure_logging(int verbosity) {
  // The port layer's loggers clone the default one: keep them off stdout, which is for JSON.
  auto logger = spdlog::stderr_color_mt("port_probe");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%L %H:%M:%S.%e %n: %v");
  spdlog::set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::warn);
}

int fail(std::string_view message) {
  std::fprintf(stderr, "port_probe: error: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  try {
    args = parse_arguments(argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "port_probe: %s\n%.*s\n", error.message.c_str(),
                 static_cast<int>(usage.size()), usage.data());
    return 2;
  }
  configure_logging(args.verbosity);

  const auto started = Clock::now();
  auto opened = BlockingPort::open(args.url);
  const double open_seconds = seconds_since(started);
  json open_line{{"step", "open"}, {"url", args.url}, {"elapsed", open_seconds}};
  if (!opened) {
    open_line["ok"] = false;
    open_line["error"] = opened.error().message;
    open_line["code"] = opened.error().code.message();
    print(open_line);
    if (args.expect_open_error) return 0;
    return fail("open: " + opened.error().message);
  }
  std::unique_ptr<BlockingPort> port = std::move(*opened);
  open_line["ok"] = true;
  open_line["settings"] = ttynet::to_string(port->settings());
  open_line["lines"] = lines_json(port->control_lines());
  if (const auto* rfc2217 = dynamic_cast<const ttynet::port::Rfc2217Port*>(&port->port())) {
    if (const auto signature = rfc2217->signature()) open_line["signature"] = *signature;
  }
  print(open_line);
  if (args.expect_open_error) {
    port->close();
    return fail("open: succeeded, but an error was expected");
  }

  for (const Step& step : args.steps) {
    if (step.kind == StepKind::sync) {
      print(json{{"step", "sync"}, {"ok", true}});
      std::string reply;
      if (!std::getline(std::cin, reply)) {
        port->close();
        return fail("sync: stdin closed");
      }
      continue;
    }
    try {
      print(run_step(*port, step, args.timeout));
    } catch (const StepFailed& failed) {
      print(failed.line());
      port->close();
      return fail(failed.message());
    }
  }
  port->close();
  return 0;
}
