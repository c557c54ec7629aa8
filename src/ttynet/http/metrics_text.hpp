#pragma once
// The Prometheus text exposition format (version 0.0.4), written: families with their HELP and
// TYPE lines, samples with escaped label values, histograms as cumulative buckets. Sans-I/O;
// /metrics sends what take() returns.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ttynet::http {

enum class MetricType { counter, gauge, histogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

class MetricsText {
 public:
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  // Starts a family: its samples follow, before the next family begins. A family's name is
  // written once, whatever number of samples it has.
  void family(std::string_view name, MetricType type, std::string_view help);
  // A sample of the current counter or gauge family.
  void sample(std::span<const Label> labels, std::uint64_t value);
  void sample(std::span<const Label> labels, double value);
  // A histogram of the current family: `bucket_counts[i]` observations at most
  // `upper_bounds[i]` (not cumulative; written cumulatively, then +Inf, _sum and _count).
  void histogram(std::span<const Label> labels, std::span<const double> upper_bounds,
                 std::span<const std::uint64_t> bucket_counts, std::uint64_t overflow_count,
                 double sum);

  std::string take() { return std::exchange(text_, {}); }

 private:
  void write_name(std::string_view suffix, std::span<const Label> labels,
                  std::pair<std::string_view, std::string_view> extra_label = {});

  std::string family_;
  std::string text_;
};

// A label value with `\`, `"` and line feeds escaped, as the format wants.
std::string escape_label_value(std::string_view value);

}  // namespace ttynet::http
