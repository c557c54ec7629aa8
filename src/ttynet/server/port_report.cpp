#include "ttynet/server/port_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>

#include "ttynet/http/metrics_text.hpp"

namespace ttynet::server {
namespace {

constexpr std::array all_refusals{Refusal::access_rule, Refusal::busy,   Refusal::tls,
                                  Refusal::identity,    Refusal::in_use, Refusal::device_missing};
constexpr std::array all_roles{ClientRole::controller, ClientRole::read_only, ClientRole::monitor};

std::uint64_t refusals_of(const PortStats& stats, Refusal refusal) {
  const auto found = stats.refusals.find(refusal);
  return found == stats.refusals.end() ? 0 : found->second;
}

std::uint64_t clients_of(const PortStatus& port, ClientRole role) {
  return static_cast<std::uint64_t>(
      std::count_if(port.clients.begin(), port.clients.end(),
                    [role](const PortStatus::Client& client) { return client.role == role; }));
}

}  // namespace

std::string ports_json(std::span<const PortStatus> ports, TimePoint now) {
  auto list = nlohmann::json::array();
  for (const auto& port : ports) {
    auto clients = nlohmann::json::array();
    for (const auto& client : port.clients) {
      clients.push_back({{"peer", client.peer}, {"role", to_string(client.role)}});
    }
    auto refusals = nlohmann::json::object();
    for (const auto& [refusal, count] : port.stats.refusals) refusals[to_string(refusal)] = count;
    list.push_back({
        {"name", port.name},
        {"device", port.device},
        {"identity", port.identity},
        {"protocol", port.protocol == Protocol::raw ? "raw" : "rfc2217"},
        {"tcp_ports", port.tcp_ports},
        {"monitor_port", port.monitor_port ? nlohmann::json(*port.monitor_port) : nullptr},
        {"esp", port.is_esp},
        {"state", to_string(port.state)},
        {"settings", port.settings ? nlohmann::json(to_string(*port.settings)) : nullptr},
        {"max_clients", port.max_clients},
        {"clients", std::move(clients)},
        {"bytes_to_device", port.stats.bytes_to_device},
        {"bytes_from_device", port.stats.bytes_from_device},
        {"connects", port.stats.connects},
        {"refusals", std::move(refusals)},
        {"resets",
         {{"bootloader", port.stats.resets_into_bootloader},
          {"application", port.stats.resets_into_application}}},
        {"device_losses", port.stats.device_losses},
        {"last_error", port.stats.last_error},
        {"uptime_seconds", std::chrono::duration<double>(now - port.stats.started).count()},
    });
  }
  return nlohmann::json{{"ports", std::move(list)}}.dump();
}

std::string ports_metrics(std::span<const PortStatus> ports) {
  using http::Label;
  using http::MetricType;
  http::MetricsText text;
  text.family("ttynet_port_bytes_total", MetricType::counter,
              "Bytes written to the device and read from it.");
  for (const auto& port : ports) {
    text.sample(std::array{Label{"port", port.name}, Label{"direction", "to_device"}},
                port.stats.bytes_to_device);
    text.sample(std::array{Label{"port", port.name}, Label{"direction", "from_device"}},
                port.stats.bytes_from_device);
  }
  text.family("ttynet_port_clients", MetricType::gauge, "Clients connected now, by role.");
  for (const auto& port : ports) {
    for (const auto role : all_roles) {
      text.sample(std::array{Label{"port", port.name}, Label{"role", to_string(role)}},
                  clients_of(port, role));
    }
  }
  text.family("ttynet_port_connects_total", MetricType::counter, "Clients let in, every role.");
  for (const auto& port : ports) {
    text.sample(std::array{Label{"port", port.name}}, port.stats.connects);
  }
  text.family("ttynet_port_refusals_total", MetricType::counter, "Clients turned away, by reason.");
  for (const auto& port : ports) {
    for (const auto refusal : all_refusals) {
      text.sample(std::array{Label{"port", port.name}, Label{"reason", to_string(refusal)}},
                  refusals_of(port.stats, refusal));
    }
  }
  text.family("ttynet_port_resets_total", MetricType::counter, "ESP resets played, by kind.");
  for (const auto& port : ports) {
    text.sample(std::array{Label{"port", port.name}, Label{"kind", "bootloader"}},
                port.stats.resets_into_bootloader);
    text.sample(std::array{Label{"port", port.name}, Label{"kind", "application"}},
                port.stats.resets_into_application);
  }
  text.family("ttynet_port_device_losses_total", MetricType::counter,
              "Times the device went away while served.");
  for (const auto& port : ports) {
    text.sample(std::array{Label{"port", port.name}}, port.stats.device_losses);
  }
  text.family("ttynet_port_up", MetricType::gauge, "1 while the device is open, else 0.");
  for (const auto& port : ports) {
    text.sample(std::array{Label{"port", port.name}},
                std::uint64_t{port.state == PortStatus::State::device_missing ? 0U : 1U});
  }
  text.family("ttynet_port_negotiation_seconds", MetricType::histogram,
              "Time from a client's connection to RFC 2217's COM-PORT option agreed.");
  for (const auto& port : ports) {
    const auto& histogram = port.stats.negotiation;
    text.histogram(std::array{Label{"port", port.name}}, NegotiationHistogram::upper_bounds,
                   histogram.counts, histogram.overflow, histogram.sum);
  }
  return text.take();
}

}  // namespace ttynet::server
