#include "ttynet/port/sim_trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "ttynet/util/parse.hpp"

namespace ttynet::port {
namespace {

constexpr std::string_view magic = "ttynet-sim-trace";
constexpr std::string_view version = "1";
constexpr std::size_t bytes_per_line = 64;

std::optional<ByteBuffer> parse_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  ByteBuffer out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto byte = parse_whole<Byte>(text.substr(2 * i, 2), 16);
    if (!byte) return std::nullopt;
    out[i] = *byte;
  }
  return out;
}

// The next space-separated word of `line`, taken off its front.
std::string_view next_word(std::string_view& line) {
  const auto start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  const auto end = std::min(line.find(' '), line.size());
  const std::string_view word = line.substr(0, end);
  line.remove_prefix(end);
  return word;
}

std::optional<SimTraceEvent> parse_event(std::string_view line) {
  SimTraceEvent event;
  const auto at = parse_whole<std::int64_t>(next_word(line));
  if (!at || *at < 0) return std::nullopt;
  event.at = std::chrono::microseconds(*at);
  const std::string_view kind = next_word(line);
  const std::string_view first = next_word(line);
  const std::string_view second = next_word(line);
  if (!next_word(line).empty()) return std::nullopt;
  if (kind == "rx" || kind == "tx") {
    auto bytes = parse_hex(first);
    if (!bytes || bytes->empty() || !second.empty()) return std::nullopt;
    event.kind = kind == "rx" ? SimTraceEvent::Kind::rx : SimTraceEvent::Kind::tx;
    event.bytes = std::move(*bytes);
  } else if (kind == "lines") {
    if ((first != "0" && first != "1") || (second != "0" && second != "1")) return std::nullopt;
    event.kind = SimTraceEvent::Kind::lines;
    event.dtr = first == "1";
    event.rts = second == "1";
  } else if (kind == "baud") {
    const auto baud = parse_whole<std::int64_t>(first);
    if (!baud || *baud <= 0 || *baud > 0xFFFFFFFF || !second.empty()) return std::nullopt;
    event.kind = SimTraceEvent::Kind::baud;
    event.baud = static_cast<std::uint32_t>(*baud);
  } else if (kind == "purge" && first.empty()) {
    event.kind = SimTraceEvent::Kind::purge;
  } else if (kind == "restart" && first.empty()) {
    event.kind = SimTraceEvent::Kind::restart;
  } else {
    return std::nullopt;
  }
  return event;
}

}  // namespace

Result<SimTrace, Error> parse_sim_trace(std::string_view text) {
  const auto invalid = [](std::string message) {
    return make_error(std::errc::invalid_argument, std::move(message));
  };
  SimTrace trace;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++number;
    if (number == 1) {
      if (next_word(line) != magic || next_word(line) != version) {
        return invalid(fmt::format("line 1: not a version {} {} header", version, magic));
      }
      trace.url = std::string(next_word(line));
      if (trace.url.empty() || !next_word(line).empty()) {
        return invalid("line 1: expected one sim:// URL after the version");
      }
      continue;
    }
    if (line.empty()) continue;
    auto event = parse_event(line);
    if (!event) {
      return invalid(fmt::format("line {}: not an event: '{}'", number, line.substr(0, 80)));
    }
    if (!trace.events.empty() && event->at < trace.events.back().at) {
      return invalid(fmt::format("line {}: time goes backwards", number));
    }
    trace.events.push_back(std::move(*event));
  }
  if (number == 0) return invalid("empty trace");
  return trace;
}

std::string url_without_trace(std::string_view url) {
  const auto query = url.find('?');
  if (query == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, query));
  char separator = '?';
  std::string_view options = url.substr(query + 1);
  while (!options.empty()) {
    const auto end = std::min(options.find('&'), options.size());
    const std::string_view option = options.substr(0, end);
    options.remove_prefix(std::min(end + 1, options.size()));
    if (option == "trace" || option.starts_with("trace=")) continue;
    out += separator;
    out += option;
    separator = '&';
  }
  return out;
}

Result<std::unique_ptr<SimTraceWriter>, Error> SimTraceWriter::create(const std::string& path,
                                                                      std::string_view url,
                                                                      TimePoint start) {
  std::FILE* file = std::fopen(path.c_str(), "we");
  if (file == nullptr) {
    const int error = errno;
    return Error{std::error_code(error, std::generic_category()),
                 fmt::format("cannot create trace file {}: {}", path, std::strerror(error))};
  }
  std::unique_ptr<SimTraceWriter> writer(new SimTraceWriter(file, start));
  fmt::print(file, "{} {} {}\n", magic, version, url_without_trace(url));
  if (std::ferror(file) != 0) {
    const int error = errno;
    return Error{std::error_code(error, std::generic_category()),
                 fmt::format("cannot write trace file {}: {}", path, std::strerror(error))};
  }
  return writer;
}

SimTraceWriter::~SimTraceWriter() { std::fclose(file_); }

std::int64_t SimTraceWriter::micros(TimePoint now) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(now - start_).count();
}

void SimTraceWriter::write_line(TimePoint now, std::string_view event) {
  fmt::print(file_, "{} {}\n", micros(now), event);
  failed_ = failed_ || std::ferror(file_) != 0;
}

void SimTraceWriter::write_bytes(TimePoint now, std::string_view kind, ByteView bytes) {
  for (std::size_t at = 0; at < bytes.size(); at += bytes_per_line) {
    const ByteView chunk = bytes.subspan(at, std::min(bytes_per_line, bytes.size() - at));
    write_line(now, fmt::format("{} {:02x}", kind, fmt::join(chunk, "")));
  }
}

void SimTraceWriter::lines(TimePoint now, bool dtr, bool rts) {
  write_line(now, fmt::format("lines {:d} {:d}", dtr, rts));
}

void SimTraceWriter::baud(TimePoint now, std::uint32_t baud) {
  write_line(now, fmt::format("baud {}", baud));
}

void SimTraceWriter::purge(TimePoint now) { write_line(now, "purge"); }

void SimTraceWriter::restart(TimePoint now) { write_line(now, "restart"); }

}  // namespace ttynet::port
