#include "ttynet/http/metrics_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>

namespace ttynet::http {
namespace {

TEST(MetricsTextTest, ACounterFamilyHasHelpTypeAndOneLinePerSample) {
  MetricsText text;
  text.family("ttynet_port_bytes_total", MetricType::counter, "Bytes through a port.");
  const std::array to_device{Label{"port", "a"}, Label{"direction", "to_device"}};
  const std::array from_device{Label{"port", "a"}, Label{"direction", "from_device"}};
  text.sample(to_device, std::uint64_t{12});
  text.sample(from_device, std::uint64_t{18446744073709551615U});
  EXPECT_EQ(text.take(),
            "# HELP ttynet_port_bytes_total Bytes through a port.\n"
            "# TYPE ttynet_port_bytes_total counter\n"
            "ttynet_port_bytes_total{port=\"a\",direction=\"to_device\"} 12\n"
            "ttynet_port_bytes_total{port=\"a\",direction=\"from_device\"} "
            "18446744073709551615\n");
  EXPECT_EQ(text.take(), "");
}

TEST(MetricsTextTest, ASampleWithoutLabelsHasNoBraces) {
  MetricsText text;
  text.family("ttynet_up", MetricType::gauge, "1");
  text.sample({}, 1.5);
  EXPECT_EQ(text.take(), "# HELP ttynet_up 1\n# TYPE ttynet_up gauge\nttynet_up 1.5\n");
}

TEST(MetricsTextTest, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  MetricsText text;
  text.family("m", MetricType::gauge, "line\\one\nline \"two\"");
  const std::array labels{Label{"port", "x\"y"}};
  text.sample(labels, std::numeric_limits<double>::infinity());
  EXPECT_EQ(text.take(),
            "# HELP m line\\\\one\\nline \"two\"\n# TYPE m gauge\nm{port=\"x\\\"y\"} +Inf\n");
}

TEST(MetricsTextTest, AHistogramIsWrittenCumulativelyWithInfSumAndCount) {
  MetricsText text;
  text.family("ttynet_port_negotiation_seconds", MetricType::histogram, "Time to agree.");
  const std::array labels{Label{"port", "a"}};
  const std::array bounds{0.01, 0.1, 1.0};
  const std::array<std::uint64_t, 3> counts{2, 0, 3};
  text.histogram(labels, bounds, counts, 1, 4.25);
  EXPECT_EQ(text.take(),
            "# HELP ttynet_port_negotiation_seconds Time to agree.\n"
            "# TYPE ttynet_port_negotiation_seconds histogram\n"
            "ttynet_port_negotiation_seconds_bucket{port=\"a\",le=\"0.01\"} 2\n"
            "ttynet_port_negotiation_seconds_bucket{port=\"a\",le=\"0.1\"} 2\n"
            "ttynet_port_negotiation_seconds_bucket{port=\"a\",le=\"1\"} 5\n"
            "ttynet_port_negotiation_seconds_bucket{port=\"a\",le=\"+Inf\"} 6\n"
            "ttynet_port_negotiation_seconds_sum{port=\"a\"} 4.25\n"
            "ttynet_port_negotiation_seconds_count{port=\"a\"} 6\n");
}

}  // namespace
}  // namespace ttynet::http
