#pragma once
// The result of a run, and its printing: one markdown table row or one JSON object.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"
#include "protocol.hpp"

namespace ttynet::bench {

// One measured figure: its key (JSON key and column title) and its value with the number of
// decimals it is printed with (nothing when not measured in this run).
struct Figure {
  std::string_view key;
  std::optional<double> value;
  int precision;
};

struct Result {
  std::string label;
  Protocol protocol = Protocol::raw;
  int ports = 1;
  int iterations = 0;
  double mib = 0;
  std::vector<Figure> figures;

  void set(std::string_view key, double value, int precision) {
    figures.push_back(Figure{key, value, precision});
  }
};

// To stdout: a JSON object with --json, else a table row (after its header unless --no-header).
void print_result(const Result& result, const Options& options);

}  // namespace ttynet::bench
