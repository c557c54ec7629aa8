// The result of a run, and its printing: one markdown table row or one JSON object.

#include "report.hpp"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace ttynet::bench {

namespace {

using Json = nlohmann::ordered_json;

// The value as printed in the table: rounded to its decimals, so a whole number without any.
Json json_value(const Figure& figure) {
  if (!figure.value) {
    return nullptr;
  }
  if (figure.precision == 0) {
    return std::llround(*figure.value);
  }
  const double scale = std::pow(10.0, figure.precision);
  return std::round(*figure.value * scale) / scale;
}

void print_json(const Result& result) {
  Json object;
  object["label"] = result.label;
  object["protocol"] = to_string(result.protocol);
  object["ports"] = result.ports;
  object["iterations"] = result.iterations;
  object["mib"] = result.mib;
  for (const Figure& figure : result.figures) {
    object[figure.key] = json_value(figure);
  }
  fmt::print("{}\n", object.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void print_table_row(const Result& result, bool header) {
  if (header) {
    std::string titles = "| server | proto | ports |";
    std::string rule = "|---|---|---:|";
    for (const Figure& figure : result.figures) {
      titles += fmt::format(" {} |", figure.key);
      rule += "---:|";
    }
    fmt::print("{}\n{}\n", titles, rule);
  }
  std::string row =
      fmt::format("| {} | {} | {} |", result.label, to_string(result.protocol), result.ports);
  for (const Figure& figure : result.figures) {
    row += figure.value ? fmt::format(" {:.{}f} |", *figure.value, figure.precision)
                        : std::string{"  |"};
  }
  fmt::print("{}\n", row);
}

}  // namespace

void print_result(const Result& result, const Options& options) {
  if (options.json) {
    print_json(result);
  } else {
    print_table_row(result, options.header);
  }
}

}  // namespace ttynet::bench
