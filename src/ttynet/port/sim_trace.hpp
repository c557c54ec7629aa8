#pragma once
// sim://CHIP?trace=FILE: every event at the simulated chip's pins written to FILE as text, so
// that a session of any client (esptool.py through `ttynet serve`, say) is kept exactly as
// the chip saw it, and can be replayed into an esp::SimChip (tests/vectors/).
//
// Format, version 1: a header line, then one event per line, times in microseconds since the
// port was opened:
//
//   ttynet-sim-trace 1 sim://esp32?boot=app
//   0 lines 0 0
//   120034 baud 115200
//   120050 rx c0000824000000000007071220...   host bytes reaching the chip (<= 64 a line)
//   120113 tx c0010804000707122000000000c0    chip output read by the host (<= 64 a line)
//   400000 purge                              the chip's unread output was discarded
//   950000 restart                            the chip restarted into download mode (and its
//                                             unread output was discarded)
//
// The header holds the port's URL without its trace option: the options that shape the
// chip. A chip loaded from a flash_file cannot be replayed from the trace alone.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/util/bytes.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::port {

struct SimTraceEvent {
  enum class Kind : std::uint8_t { rx, tx, lines, baud, purge, restart };
  std::chrono::microseconds at{};
  Kind kind = Kind::rx;
  ByteBuffer bytes;        // rx, tx
  bool dtr = false;        // lines
  bool rts = false;        // lines
  std::uint32_t baud = 0;  // baud
};

struct SimTrace {
  std::string url;  // the sim:// URL the chip was opened with, trace option removed
  std::vector<SimTraceEvent> events;
};

// Parses a whole trace; the error names the line (code std::errc::invalid_argument).
Result<SimTrace, Error> parse_sim_trace(std::string_view text);

// Appends events to a trace file as they happen. Writes are buffered by stdio and flushed
// when the writer is destroyed; a failed write is reported once by failed().
class SimTraceWriter {
 public:
  // Creates (truncates) `path` and writes the header; the error carries the system's code
  // and a one-line message.
  static Result<std::unique_ptr<SimTraceWriter>, Error> create(const std::string& path,
                                                               std::string_view url,
                                                               TimePoint start);
  ~SimTraceWriter();
  SimTraceWriter(const SimTraceWriter&) = delete;
  SimTraceWriter& operator=(const SimTraceWriter&) = delete;

  void rx(TimePoint now, ByteView bytes) { write_bytes(now, "rx", bytes); }
  void tx(TimePoint now, ByteView bytes) { write_bytes(now, "tx", bytes); }
  void lines(TimePoint now, bool dtr, bool rts);
  void baud(TimePoint now, std::uint32_t baud);
  void purge(TimePoint now);
  void restart(TimePoint now);
  // A write failed (the first error is kept): the trace is incomplete.
  bool failed() const { return failed_; }

 private:
  SimTraceWriter(std::FILE* file, TimePoint start) : file_(file), start_(start) {}
  void write_bytes(TimePoint now, std::string_view kind, ByteView bytes);
  void write_line(TimePoint now, std::string_view event);
  std::int64_t micros(TimePoint now) const;

  std::FILE* file_;
  TimePoint start_;
  bool failed_ = false;
};

// The URL to put in a trace's header: `url` without its trace option.
std::string url_without_trace(std::string_view url);

}  // namespace ttynet::port
