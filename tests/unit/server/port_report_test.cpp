#include "ttynet/server/port_report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace ttynet::server {
namespace {

PortStatus busy_port() {
  PortStatus port{.name = "lab \"1\"",
                  .device = "/dev/ttyUSB0",
                  .identity = "303a:1001 serial ABC",
                  .tcp_ports = {4000},
                  .monitor_port = 4001,
                  .is_esp = true,
                  .state = PortStatus::State::in_use,
                  .settings = LineSettings{},
                  .clients = {{"10.0.0.2:5000", ClientRole::controller},
                              {"browser 10.0.0.3:6000", ClientRole::read_only},
                              {"10.0.0.4:7000", ClientRole::monitor}},
                  .max_clients = 2};
  port.stats.bytes_to_device = 10;
  port.stats.bytes_from_device = 20;
  port.stats.connects = 3;
  port.stats.refusals[Refusal::in_use] = 2;
  port.stats.resets_into_bootloader = 4;
  port.stats.resets_into_application = 5;
  port.stats.device_losses = 1;
  port.stats.last_error = "device /dev/ttyUSB0 disconnected";
  port.stats.negotiation.observe(0.002);
  port.stats.negotiation.observe(7.0);
  return port;
}

TEST(PortReportTest, TheJsonHasTheStableKeysAndValues) {
  const PortStatus port = busy_port();
  const auto json = nlohmann::json::parse(
      ports_json(std::span(&port, 1), port.stats.started + std::chrono::seconds(90)));
  const auto& entry = json.at("ports").at(0);
  EXPECT_EQ(entry.size(), 19u);
  EXPECT_EQ(entry.at("name"), "lab \"1\"");
  EXPECT_EQ(entry.at("identity"), "303a:1001 serial ABC");
  EXPECT_EQ(entry.at("protocol"), "rfc2217");
  EXPECT_EQ(entry.at("tcp_ports"), nlohmann::json::array({4000}));
  EXPECT_EQ(entry.at("monitor_port"), 4001);
  EXPECT_EQ(entry.at("state"), "in use");
  EXPECT_EQ(entry.at("settings"), "115200 8N1");
  EXPECT_EQ(entry.at("clients").at(1).at("role"), "read-only");
  EXPECT_EQ(entry.at("clients").at(2).at("peer"), "10.0.0.4:7000");
  EXPECT_EQ(entry.at("refusals"), (nlohmann::json{{"in_use", 2}}));
  EXPECT_EQ(entry.at("resets"), (nlohmann::json{{"bootloader", 4}, {"application", 5}}));
  EXPECT_EQ(entry.at("last_error"), "device /dev/ttyUSB0 disconnected");
  EXPECT_DOUBLE_EQ(entry.at("uptime_seconds").get<double>(), 90.0);
}

TEST(PortReportTest, AMissingDeviceHasNullSettings) {
  PortStatus port{.name = "gone", .state = PortStatus::State::device_missing};
  const auto json = nlohmann::json::parse(ports_json(std::span(&port, 1), port.stats.started));
  EXPECT_TRUE(json.at("ports").at(0).at("settings").is_null());
  EXPECT_TRUE(json.at("ports").at(0).at("monitor_port").is_null());
  EXPECT_NE(ports_metrics(std::span(&port, 1)).find("ttynet_port_up{port=\"gone\"} 0\n"),
            std::string::npos);
}

TEST(PortReportTest, TheMetricsCarryEveryCounterWithEscapedLabels) {
  const PortStatus port = busy_port();
  const std::string text = ports_metrics(std::span(&port, 1));
  for (const char* line : {
           "ttynet_port_bytes_total{port=\"lab \\\"1\\\"\",direction=\"to_device\"} 10\n",
           "ttynet_port_bytes_total{port=\"lab \\\"1\\\"\",direction=\"from_device\"} 20\n",
           "ttynet_port_clients{port=\"lab \\\"1\\\"\",role=\"read-only\"} 1\n",
           "ttynet_port_connects_total{port=\"lab \\\"1\\\"\"} 3\n",
           "ttynet_port_refusals_total{port=\"lab \\\"1\\\"\",reason=\"in_use\"} 2\n",
           "ttynet_port_refusals_total{port=\"lab \\\"1\\\"\",reason=\"tls\"} 0\n",
           "ttynet_port_resets_total{port=\"lab \\\"1\\\"\",kind=\"bootloader\"} 4\n",
           "ttynet_port_device_losses_total{port=\"lab \\\"1\\\"\"} 1\n",
           "ttynet_port_up{port=\"lab \\\"1\\\"\"} 1\n",
           "ttynet_port_negotiation_seconds_bucket{port=\"lab \\\"1\\\"\",le=\"0.0025\"} 1\n",
           "ttynet_port_negotiation_seconds_bucket{port=\"lab \\\"1\\\"\",le=\"5\"} 1\n",
           "ttynet_port_negotiation_seconds_bucket{port=\"lab \\\"1\\\"\",le=\"+Inf\"} 2\n",
           "ttynet_port_negotiation_seconds_count{port=\"lab \\\"1\\\"\"} 2\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(NegotiationHistogramTest, CountsEachObservationInItsBucket) {
  NegotiationHistogram histogram;
  histogram.observe(0.001);  // on a bound: that bucket
  histogram.observe(0.3);
  histogram.observe(100);
  EXPECT_EQ(histogram.counts[0], 1u);
  EXPECT_EQ(histogram.counts[8], 1u);  // 1.0
  EXPECT_EQ(histogram.overflow, 1u);
  EXPECT_EQ(histogram.count(), 3u);
  EXPECT_DOUBLE_EQ(histogram.sum, 100.301);
}

}  // namespace
}  // namespace ttynet::server
