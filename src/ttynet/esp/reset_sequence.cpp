#include "ttynet/esp/reset_sequence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <optional>

namespace ttynet::esp {
namespace {

using std::chrono::milliseconds;
using Kind = ResetStep::Kind;

// A wait longer than this in a custom sequence is surely a typo (and would stall a server).
constexpr double max_wait_seconds = 10.0;

ResetStep dtr(bool on) { return {.kind = Kind::dtr, .dtr = on}; }
ResetStep rts(bool on, bool repeat_dtr = false) {
  return {.kind = Kind::rts, .rts = on, .repeat_dtr = repeat_dtr};
}
ResetStep both(bool dtr_on, bool rts_on) {
  return {.kind = Kind::both, .dtr = dtr_on, .rts = rts_on};
}
ResetStep wait(Duration time) { return {.kind = Kind::wait, .wait = time}; }

// Plain decimal seconds, as the parser reads them ("0.05", "4e-05" never): up to nanoseconds,
// trailing zeros dropped.
std::string seconds_text(Duration wait) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  std::string text = fmt::format("{}.{:09d}", ns / 1'000'000'000, ns % 1'000'000'000);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<bool> parse_level(std::string_view text) {
  if (text == "0") return false;
  if (text == "1") return true;
  return std::nullopt;
}

std::optional<ResetStep> parse_step(std::string_view step) {
  if (step.size() < 2) return std::nullopt;
  const std::string_view argument = step.substr(1);
  switch (step.front()) {
    case 'D':
      if (auto level = parse_level(argument)) return dtr(*level);
      return std::nullopt;
    case 'R':
      if (auto level = parse_level(argument)) return rts(*level);
      return std::nullopt;
    case 'U': {
      const auto comma = argument.find(',');
      if (comma == std::string_view::npos) return std::nullopt;
      const auto dtr_level = parse_level(trim(argument.substr(0, comma)));
      const auto rts_level = parse_level(trim(argument.substr(comma + 1)));
      if (!dtr_level || !rts_level) return std::nullopt;
      return both(*dtr_level, *rts_level);
    }
    case 'W': {
      double seconds = 0;
      const auto* end = argument.data() + argument.size();
      const auto [stop, ec] =
          std::from_chars(argument.data(), end, seconds, std::chars_format::fixed);
      if (ec != std::errc{} || stop != end || !std::isfinite(seconds) || seconds < 0 ||
          seconds > max_wait_seconds) {
        return std::nullopt;
      }
      // Rounded, not truncated: 4.1 s is 4100000000 ns, not 4099999999.
      return wait(std::chrono::round<Duration>(std::chrono::duration<double>(seconds)));
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

ResetSequence classic_reset(Duration delay) {
  return {dtr(false),  rts(true, true), wait(milliseconds(100)), dtr(true), rts(false, true),
          wait(delay), dtr(false)};
}

ResetSequence tight_reset(Duration delay) {
  return {both(false, false), both(true, true), both(false, true),  wait(milliseconds(100)),
          both(true, false),  wait(delay),      both(false, false), dtr(false)};
}

ResetSequence usb_jtag_reset() {
  return {rts(false, true),
          dtr(false),
          wait(milliseconds(100)),
          dtr(true),
          rts(false, true),
          wait(milliseconds(100)),
          rts(true, true),
          dtr(false),
          rts(true, true),
          wait(milliseconds(100)),
          dtr(false),
          rts(false, true)};
}

ResetSequence hard_reset() { return {rts(true, true), wait(milliseconds(100)), rts(false, true)}; }

Result<ResetSequence, Error> parse_reset_sequence(std::string_view text) {
  ResetSequence sequence;
  std::size_t number = 0;
  for (;;) {
    ++number;
    const auto bar = text.find('|');
    const std::string_view step = trim(text.substr(0, bar));
    const auto parsed = parse_step(step);
    if (!parsed) {
      return make_error(
          std::errc::invalid_argument,
          fmt::format(
              "bad reset step '{}' (step {}); expected D0/D1, R0/R1, U<0|1>,<0|1> or W<seconds>",
              step, number));
    }
    sequence.push_back(*parsed);
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  return sequence;
}

std::string to_string(const ResetSequence& sequence) {
  std::string text;
  for (const auto& step : sequence) {
    if (!text.empty()) text += '|';
    switch (step.kind) {
      case Kind::dtr:
        text += step.dtr ? "D1" : "D0";
        break;
      case Kind::rts:
        text += step.rts ? "R1" : "R0";
        break;
      case Kind::both:
        text += fmt::format("U{},{}", step.dtr ? 1 : 0, step.rts ? 1 : 0);
        break;
      case Kind::wait:
        text += 'W';
        text += seconds_text(step.wait);
        break;
    }
  }
  return text;
}

Duration duration(const ResetSequence& sequence) {
  Duration total{};
  for (const auto& step : sequence) {
    if (step.kind == Kind::wait) total += step.wait;
  }
  return total;
}

ResetSequence without_waits(const ResetSequence& sequence) {
  ResetSequence out;
  std::copy_if(sequence.begin(), sequence.end(), std::back_inserter(out),
               [](const ResetStep& step) { return step.kind != Kind::wait; });
  return out;
}

}  // namespace ttynet::esp
