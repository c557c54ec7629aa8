#pragma once
// What a port has done since it started, for the dashboard, /api/ports and /metrics
// (docs/design/dashboard.md): plain counters, updated on the event loop by the port's host,
// its sessions and its gate, and read there too, so they need no locking; and the port's
// whole state as the dashboard shows it (PortStatus, made by PortHost::status()).

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/server/options.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::server {

// Why a client was turned away, as the refusals counter labels it.
enum class Refusal { access_rule, busy, tls, identity, in_use, device_missing };
std::string_view to_string(Refusal refusal);

// Seconds from a client's connection to RFC 2217's COM-PORT option agreed.
struct NegotiationHistogram {
  static constexpr std::array<double, 10> upper_bounds{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,  0.1,    0.25,  1.0,  5.0};
  std::array<std::uint64_t, upper_bounds.size()> counts{};
  std::uint64_t overflow = 0;  // above the last bound
  double sum = 0;

  void observe(double seconds);
  std::uint64_t count() const;
};

struct PortStats {
  TimePoint started = Clock::now();
  std::uint64_t bytes_to_device = 0;
  std::uint64_t bytes_from_device = 0;
  std::uint64_t connects = 0;  // clients let in, of every role
  std::map<Refusal, std::uint64_t> refusals;
  std::uint64_t resets_into_bootloader = 0;  // ESP resets played (--esp)
  std::uint64_t resets_into_application = 0;
  std::uint64_t device_losses = 0;
  NegotiationHistogram negotiation;
  std::string last_error;  // the latest device failure, one sentence; empty: none yet
};

enum class ClientRole { controller, read_only, monitor };
std::string_view to_string(ClientRole role);

// A port as the dashboard shows it: a copy, taken on the event loop.
struct PortStatus {
  enum class State { serving, in_use, device_missing };
  struct Client {
    std::string peer{};
    ClientRole role = ClientRole::controller;
  };
  std::string name{};
  std::string device{};
  std::string identity{};
  Protocol protocol = Protocol::rfc2217;
  std::vector<std::uint16_t> tcp_ports{};
  std::optional<std::uint16_t> monitor_port{};
  bool is_esp = false;
  State state = State::serving;
  std::optional<LineSettings> settings{};  // the device's, while it is up
  std::optional<ControlLines> lines{};     // likewise
  std::vector<Client> clients{};
  std::size_t max_clients = 1;
  PortStats stats{};
};
std::string_view to_string(PortStatus::State state);

}  // namespace ttynet::server
