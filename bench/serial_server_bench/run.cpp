// One run of the bench: starts the servers on fresh ptys and measures every figure.

#include "run.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "connection.hpp"
#include "deadline.hpp"
#include "error.hpp"
#include "limits.hpp"
#include "measure.hpp"
#include "setup.hpp"

namespace ttynet::bench {

namespace {

// Every figure for one port: negotiation, RTT, throughput echo / sink / source, RSS.
void measure_one_port(Setup& setup, const Options& options, Result& result) {
  const Protocol protocol = *options.protocol;
  Device& device = setup.devices.front();
  ServerProcess& server = *setup.servers.front();
  if (protocol == Protocol::rfc2217) {
    const std::vector<double> times =
        measure_negotiation(device.port, setup.tls_context(), options.connects);
    result.set("negotiation_ms", percentile(times, 0.5), 3);
  }

  Connection connection{device.port, protocol, setup.tls_context(), Deadline{server_start_timeout}};
  if (protocol == Protocol::rfc2217) {
    Connection* const one[] = {&connection};
    negotiate(one);
  }
  std::uint64_t offset = 0;
  measure_rtt(connection, setup.pattern, offset, options.warmup);
  const std::vector<double> rtt =
      measure_rtt(connection, setup.pattern, offset, options.iterations);
  result.set("rtt_p50_us", percentile(rtt, 0.50), 1);
  result.set("rtt_p99_us", percentile(rtt, 0.99), 1);
  result.set("rtt_max_us", *std::max_element(rtt.begin(), rtt.end()), 1);

  const auto total = static_cast<std::uint64_t>(options.mib * 1024.0 * 1024.0);
  const std::vector<int> wake = setup.done_fds();
  // The JSON keys of each direction; echo keeps the names it had before sink and source.
  struct Direction {
    FarMode mode;
    std::string_view mb_s, cpu, bench_cpu;
  };
  constexpr std::array<Direction, 3> directions{{
      {FarMode::echo, "throughput_mb_s", "cpu_s_per_mib", "bench_cpu_s_per_mib"},
      {FarMode::sink, "net_to_dev_mb_s", "net_to_dev_cpu_s_per_mib",
       "net_to_dev_bench_cpu_s_per_mib"},
      {FarMode::source, "dev_to_net_mb_s", "dev_to_net_cpu_s_per_mib",
       "dev_to_net_bench_cpu_s_per_mib"},
  }};
  for (const Direction& direction : directions) {
    Transfer transfer{connection, *device.far_side,         setup.pattern, direction.mode, offset,
                      total,      options.window_kib * 1024};
    const ThroughputResult measured =
        measure_transfers({&transfer, 1}, wake, total, [&] { return setup.server_cpu_seconds(); });
    offset += total;
    result.set(direction.mb_s, static_cast<double>(total) / measured.seconds / 1e6, 2);
    result.set(direction.cpu, measured.server_cpu_seconds / options.mib, 4);
    result.set(direction.bench_cpu, measured.bench_cpu_seconds / options.mib, 4);
  }
  result.set("peak_rss_kib", static_cast<double>(setup.peak_rss_kib()), 0);
  // Checked before closing: a server that serves one connection (socat) ends with it.
  if (server.exit_status()) {
    fail("server ended during the run");
  }
  connection.close_gracefully();
}

// All ports at once: connect (and negotiate) all, then echo on all together.
void measure_many_ports(Setup& setup, const Options& options, Result& result) {
  const Protocol protocol = *options.protocol;
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<Connection*> pointers;
  const auto start = Clock::now();
  for (const Device& device : setup.devices) {
    connections.push_back(std::make_unique<Connection>(device.port, protocol, setup.tls_context(),
                                                       Deadline{server_start_timeout}));
    pointers.push_back(connections.back().get());
  }
  if (protocol == Protocol::rfc2217) {
    negotiate(pointers);
    result.set("negotiation_ms", seconds_since(start) * 1e3, 3);
  }

  const auto per_port = static_cast<std::uint64_t>(options.mib * 1024.0 * 1024.0 /
                                                   static_cast<double>(options.ports));
  std::vector<Transfer> transfers;
  transfers.reserve(setup.devices.size());
  for (std::size_t i = 0; i < setup.devices.size(); ++i) {
    transfers.emplace_back(*connections[i], *setup.devices[i].far_side, setup.pattern,
                           FarMode::echo, 0, per_port, options.window_kib * 1024);
  }
  const std::uint64_t total = per_port * setup.devices.size();
  const ThroughputResult measured =
      measure_transfers(transfers, {}, total, [&] { return setup.server_cpu_seconds(); });
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  result.set("throughput_mb_s", static_cast<double>(total) / measured.seconds / 1e6, 2);
  result.set("cpu_s_per_mib", measured.server_cpu_seconds / mib, 4);
  result.set("bench_cpu_s_per_mib", measured.bench_cpu_seconds / mib, 4);
  result.set("peak_rss_kib", static_cast<double>(setup.peak_rss_kib()), 0);
  for (const auto& server : setup.servers) {
    if (server->exit_status()) {
      fail("a server ended during the run");
    }
  }
  for (auto& connection : connections) {
    connection->close_gracefully();
  }
}

}  // namespace

Result run(const Options& options) {
  // Before Setup: an unusable --tls-ca then leaves no temporary directory behind.
  std::optional<TlsContext> tls;
  if (!options.tls_ca.empty()) {
    tls.emplace(options.tls_ca);
  }
  Setup setup;
  setup.tls = std::move(tls);
  open_devices(setup, options.ports);
  start_servers(setup, options);

  Result result;
  result.label = options.label;
  result.protocol = *options.protocol;
  result.ports = options.ports;
  result.iterations = options.iterations;
  result.mib = options.mib;
  try {
    for (const Device& device : setup.devices) {
      wait_until_listening(*setup.servers[device.server], device.port);
    }
    if (options.ports == 1) {
      measure_one_port(setup, options, result);
    } else {
      measure_many_ports(setup, options, result);
    }
  } catch (const BenchError& error) {
    std::string message = error.what();
    for (std::size_t i = 0; i < setup.servers.size(); ++i) {
      if (auto status = setup.servers[i]->exit_status()) {
        message += fmt::format(" (server {} {}, log: {})", i, *status, setup.logs[i].string());
      }
    }
    const Device& first = setup.devices.front();
    message += fmt::format("; pty far side moved {} bytes", first.far_side->bytes_moved());
    for (const Device& device : setup.devices) {
      if (const std::string far_error = device.far_side->error(); !far_error.empty()) {
        message += "; " + far_error;
        break;
      }
    }
    message += fmt::format("; server log: {}", setup.logs.front().string());
    throw BenchError(message);
  }
  return result;
}

}  // namespace ttynet::bench
