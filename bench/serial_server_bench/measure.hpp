#pragma once
// The measurements: RFC 2217 negotiation time, round-trip times, and throughput of transfers.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "connection.hpp"
#include "device.hpp"
#include "pattern.hpp"
#include "pump.hpp"

namespace ttynet::bench {

// Negotiates RFC 2217 on all connections at once, e.g. one: once the server's DO COM-PORT
// arrives, the four line settings are sent; done when all four are acknowledged.
void negotiate(std::span<Connection* const> connections);

// Connect, negotiate, close `count` times; the time from connect() to the last acknowledgement
// (with `tls`, the handshake included), in milliseconds.
std::vector<double> measure_negotiation(std::uint16_t port, const TlsContext* tls, int count);

// Sends `count` 32-byte messages one after the other; each is complete when all 32 bytes are
// back (the far side echoes). Returns the round-trip times in microseconds.
std::vector<double> measure_rtt(Connection& connection, const Pattern& pattern,
                                std::uint64_t& offset, int count);

// The value at `fraction` (0..1) of the sorted values, by nearest rank; 0 when there are none.
double percentile(std::vector<double> values, double fraction);

// `total` bytes of the pattern through one port, in the direction the far side's mode gives:
// echo (client -> device -> client, verified by the client), sink (client -> device, verified
// by the far side) or source (device -> client, verified by the client).
class Transfer {
 public:
  Transfer(Connection& connection, FarSide& far_side, const Pattern& pattern, FarMode mode,
           std::uint64_t offset, std::uint64_t total, std::uint64_t window)
      : connection_{connection},
        far_side_{far_side},
        pattern_{pattern},
        mode_{mode},
        offset_{offset},
        total_{total},
        window_{window},
        verifier_{pattern, offset, mode == FarMode::sink ? 0 : total} {}

  void start() { far_side_.start(mode_, offset_, total_); }
  Flow flow();
  std::string progress() const;

 private:
  bool is_sender() const { return mode_ != FarMode::source; }
  // Payload bytes that reached their verifier.
  std::uint64_t delivered() const {
    return mode_ == FarMode::sink ? far_side_.bytes_moved() : verifier_.position() - offset_;
  }
  void top_up();
  bool is_done() const;

  Connection& connection_;
  FarSide& far_side_;
  const Pattern& pattern_;
  FarMode mode_;
  std::uint64_t offset_;
  std::uint64_t total_;
  std::uint64_t window_;
  Verifier verifier_;
  std::uint64_t queued_ = 0;
};

struct ThroughputResult {
  double seconds = 0;
  double server_cpu_seconds = 0;
  double bench_cpu_seconds = 0;  // this process: client and far sides
};

// Runs the transfers at once, from the first start() until every byte is verified. `total` is
// the sum of their sizes; `server_cpu` reads the servers' CPU seconds so far.
ThroughputResult measure_transfers(std::span<Transfer> transfers, std::span<const int> wake_fds,
                                   std::uint64_t total, const std::function<double()>& server_cpu);

}  // namespace ttynet::bench
