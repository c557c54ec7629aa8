#include "ttynet/port/listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

namespace ttynet::port {
namespace {

constexpr std::string_view unknown = "-";
constexpr std::size_t column_count = 7;
constexpr std::array<std::string_view, column_count> column_titles = {
    "DEVICE", "VID:PID", "DRIVER", "MANUFACTURER", "PRODUCT", "SERIAL", "BY-ID"};

// Control characters (C0 and DEL) as '?'; empty as "-".
std::string printable(std::string_view text) {
  if (text.empty()) return std::string(unknown);
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(),
      [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7F;
      },
      '?');
  return out;
}

// Characters on screen, assuming UTF-8: every byte except continuation bytes starts one.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string hex4(std::uint16_t value) { return fmt::format("{:04x}", value); }

std::array<std::string, column_count> table_row(const SerialPortEntry& port) {
  const UsbIdentity none;
  const UsbIdentity& usb = port.usb ? *port.usb : none;
  return {printable(port.device),
          port.usb ? fmt::format("{}:{}", hex4(usb.vid), hex4(usb.pid)) : std::string(unknown),
          printable(port.driver),
          printable(usb.manufacturer),
          printable(usb.product),
          printable(usb.serial),
          printable(port.by_id)};
}

nlohmann::ordered_json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

}  // namespace

std::string format_port_table(std::span<const SerialPortEntry> ports) {
  if (ports.empty()) return {};
  std::vector<std::array<std::string, column_count>> rows;
  rows.reserve(ports.size() + 1);
  std::array<std::string, column_count> header;
  std::copy(column_titles.begin(), column_titles.end(), header.begin());
  rows.push_back(std::move(header));
  for (const auto& port : ports) rows.push_back(table_row(port));

  std::array<std::size_t, column_count> widths{};
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < column_count; ++column) {
      widths[column] = std::max(widths[column], display_width(row[column]));
    }
  }

  std::string text;
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < column_count; ++column) {
      text += row[column];
      if (column + 1 == column_count) break;
      text.append(widths[column] - display_width(row[column]) + 2, ' ');
    }
    text += '\n';
  }
  return text;
}

std::string format_port_json(std::span<const SerialPortEntry> ports) {
  auto array = nlohmann::ordered_json::array();
  for (const auto& port : ports) {
    nlohmann::ordered_json object;
    object[port_json_keys[0]] = port.device;
    object[port_json_keys[1]] = text_or_null(port.by_id);
    if (port.usb) {
      object[port_json_keys[2]] = hex4(port.usb->vid);
      object[port_json_keys[3]] = hex4(port.usb->pid);
      object[port_json_keys[4]] = text_or_null(port.usb->manufacturer);
      object[port_json_keys[5]] = text_or_null(port.usb->product);
      object[port_json_keys[6]] = text_or_null(port.usb->serial);
    } else {
      for (std::size_t key = 2; key <= 6; ++key) object[port_json_keys[key]] = nullptr;
    }
    object[port_json_keys[7]] = text_or_null(port.driver);
    array.push_back(std::move(object));
  }
  return array.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace ttynet::port
