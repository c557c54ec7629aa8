#include "ttynet/http/metrics_text.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace ttynet::http {
namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes only `\` and line feeds.
std::string escape_help(std::string_view help) {
  std::string escaped;
  escaped.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Go's strconv formatting, as Prometheus parses it: integers without a fraction, +Inf/NaN.
std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void MetricsText::family(std::string_view name, MetricType type, std::string_view help) {
  family_ = name;
  text_ +=
      fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type_name(type));
}

void MetricsText::write_name(std::string_view suffix, std::span<const Label> labels,
                             std::pair<std::string_view, std::string_view> extra_label) {
  assert(!family_.empty());
  text_ += family_;
  text_ += suffix;
  if (labels.empty() && extra_label.first.empty()) return;
  char separator = '{';
  for (const auto& label : labels) {
    text_ += fmt::format("{}{}=\"{}\"", separator, label.name, escape_label_value(label.value));
    separator = ',';
  }
  if (!extra_label.first.empty()) {
    text_ += fmt::format("{}{}=\"{}\"", separator, extra_label.first, extra_label.second);
  }
  text_ += '}';
}

void MetricsText::sample(std::span<const Label> labels, std::uint64_t value) {
  write_name("", labels);
  text_ += fmt::format(" {}\n", value);
}

void MetricsText::sample(std::span<const Label> labels, double value) {
  write_name("", labels);
  text_ += fmt::format(" {}\n", format_value(value));
}

void MetricsText::histogram(std::span<const Label> labels, std::span<const double> upper_bounds,
                            std::span<const std::uint64_t> bucket_counts,
                            std::uint64_t overflow_count, double sum) {
  assert(upper_bounds.size() == bucket_counts.size());
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += bucket_counts[i];
    const std::string bound = format_value(upper_bounds[i]);
    write_name("_bucket", labels, {"le", bound});
    text_ += fmt::format(" {}\n", cumulative);
  }
  cumulative += overflow_count;
  write_name("_bucket", labels, {"le", "+Inf"});
  text_ += fmt::format(" {}\n", cumulative);
  write_name("_sum", labels);
  text_ += fmt::format(" {}\n", format_value(sum));
  write_name("_count", labels);
  text_ += fmt::format(" {}\n", cumulative);
}

}  // namespace ttynet::http
