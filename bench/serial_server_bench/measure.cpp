// The measurements: RFC 2217 negotiation time, round-trip times, and throughput of transfers.

#include "measure.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/core.h>

#include "deadline.hpp"
#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

namespace {

// Negotiation answers carry no data: the far side only sends what it is asked to.
void reject_data(ByteView data) {
  if (!data.empty()) {
    fail("unexpected {} data bytes from server", data.size());
  }
}

// RFC 2217 start of one connection as a Flow.
Flow negotiation_flow(Connection& connection) {
  return Flow{
      .connection = connection,
      .top_up =
          [&connection, is_sent = false]() mutable {
            if (connection.is_com_port_refused()) {
              fail("server refused COM-PORT-OPTION (RFC 2217)");
            }
            if (connection.is_com_port_accepted() && !is_sent) {
              connection.send_line_settings();
              is_sent = true;
            }
          },
      .is_done = [&connection] { return connection.are_settings_acknowledged(); },
      .on_data = reject_data,
  };
}

double bench_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

void negotiate(std::span<Connection* const> connections) {
  std::vector<Flow> flows;
  for (Connection* connection : connections) {
    flows.push_back(negotiation_flow(*connection));
  }
  pump(flows, Deadline{negotiation_timeout}, "RFC 2217 negotiation (waiting for replies 101..104)");
}

std::vector<double> measure_negotiation(std::uint16_t port, const TlsContext* tls, int count) {
  std::vector<double> times_ms;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    Connection connection{port, Protocol::rfc2217, tls, Deadline{negotiation_timeout}};
    Connection* const one[] = {&connection};
    negotiate(one);
    times_ms.push_back(seconds_since(start) * 1e3);
    connection.close_gracefully();
  }
  return times_ms;
}

std::vector<double> measure_rtt(Connection& connection, const Pattern& pattern,
                                std::uint64_t& offset, int count) {
  std::vector<double> times_us;
  times_us.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Verifier verifier{pattern, offset, rtt_message_size};
    const Deadline deadline{message_timeout};
    const auto start = Clock::now();
    for (std::size_t queued = 0; queued < rtt_message_size;) {
      const ByteView piece = pattern.at(offset + queued, rtt_message_size - queued);
      connection.send_data(piece);
      queued += piece.size();
    }
    Flow flow{.connection = connection,
              .is_done = [&] { return verifier.is_complete(); },
              .on_data = [&](ByteView data) { verifier.check(data); }};
    pump({&flow, 1}, deadline, "a round trip");
    times_us.push_back(seconds_since(start) * 1e6);
    offset += rtt_message_size;
  }
  return times_us;
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  // Nearest rank.
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

Flow Transfer::flow() {
  return Flow{.connection = connection_,
              .top_up = [this] { top_up(); },
              .is_done = [this] { return is_done(); },
              .on_data = [this](ByteView data) { verifier_.check(data); }};
}

std::string Transfer::progress() const {
  return fmt::format("{}: queued {} of {} bytes, {} arrived", to_string(mode_), queued_, total_,
                     delivered());
}

// Echo: at most `window` payload bytes are sent and not yet back. This bounds the data parked in
// every buffer on the path, including the echo's (see FarSide). The sink reads all the time, so
// there the socket's and the server's own backpressure are the only limit.
void Transfer::top_up() {
  for (int i = 0;
       i < 64 && is_sender() && queued_ < total_ && connection_.queued_output() < max_queued_output;
       ++i) {
    const std::uint64_t room =
        mode_ == FarMode::echo ? window_ - std::min(window_, queued_ - delivered()) : io_chunk;
    if (room == 0) {
      break;
    }
    const ByteView piece = pattern_.at(
        offset_ + queued_,
        static_cast<std::size_t>(std::min<std::uint64_t>({io_chunk, total_ - queued_, room})));
    connection_.send_data(piece);
    queued_ += piece.size();
  }
}

bool Transfer::is_done() const {
  far_side_.check();
  return mode_ == FarMode::sink ? far_side_.is_done() : verifier_.is_complete();
}

ThroughputResult measure_transfers(std::span<Transfer> transfers, std::span<const int> wake_fds,
                                   std::uint64_t total, const std::function<double()>& server_cpu) {
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  const Deadline deadline{throughput_base_timeout +
                          std::chrono::duration_cast<std::chrono::seconds>(
                              throughput_timeout_per_mib * std::max(1.0, mib))};
  std::vector<Flow> flows;
  for (Transfer& transfer : transfers) {
    flows.push_back(transfer.flow());
  }
  const double cpu_before = server_cpu();
  const double bench_cpu_before = bench_cpu_seconds();
  const auto start = Clock::now();
  for (Transfer& transfer : transfers) {
    transfer.start();
  }
  try {
    pump(flows, deadline, "the throughput phase", wake_fds);
  } catch (const BenchError& error) {
    throw BenchError(fmt::format("{} ({})", error.what(), transfers.front().progress()));
  }
  ThroughputResult result;
  result.seconds = seconds_since(start);
  result.bench_cpu_seconds = bench_cpu_seconds() - bench_cpu_before;
  result.server_cpu_seconds = server_cpu() - cpu_before;
  return result;
}

}  // namespace ttynet::bench
