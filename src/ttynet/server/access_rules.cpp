#include "ttynet/server/access_rules.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ttynet::server {
namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
constexpr int v4_prefix_bits = 96;  // the ::ffff:0:0/96 in front of every IPv4 address

struct ParsedAddress {
  IpAddress address;
  bool written_as_v4 = false;  // "10.0.0.1", not "::ffff:10.0.0.1": prefixes count from 0 to 32
};

std::optional<ParsedAddress> parse_address(std::string_view text) {
  // inet_pton reads a C string: text with a NUL in it would be cut short and still parse.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN + 2 ||
      text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const bool bracketed = text.front() == '[';
  if (bracketed) {  // only IPv6 is written in brackets
    if (text.size() < 2 || text.back() != ']') return std::nullopt;
    text = text.substr(1, text.size() - 2);
  }
  const std::string c_text(text);
  ParsedAddress parsed;
  if (!bracketed && text.find(':') == std::string_view::npos) {
    std::array<std::uint8_t, 4> octets{};
    if (inet_pton(AF_INET, c_text.c_str(), octets.data()) != 1) return std::nullopt;
    parsed.address = IpAddress::v4(octets);
    parsed.written_as_v4 = true;
  } else if (inet_pton(AF_INET6, c_text.c_str(), parsed.address.bytes.data()) != 1) {
    return std::nullopt;
  }
  return parsed;
}

std::string format_address(const IpAddress& address, bool as_v4) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const void* source = address.bytes.data();
  int family = AF_INET6;
  if (as_v4) {
    source = address.bytes.data() + v4_mapped_prefix.size();
    family = AF_INET;
  }
  if (inet_ntop(family, source, text.data(), text.size()) == nullptr) return "?";
  return text.data();
}

// `address` with every bit after the first `prefix` cleared.
IpAddress masked(const IpAddress& address, int prefix) {
  IpAddress result = address;
  for (int bit = prefix; bit < 128; ++bit) {
    const auto index = static_cast<std::size_t>(bit / 8);
    result.bytes[index] = static_cast<std::uint8_t>(result.bytes[index] & ~(0x80u >> (bit % 8)));
  }
  return result;
}

}  // namespace

IpAddress IpAddress::v4(std::span<const std::uint8_t, 4> octets) {
  IpAddress address;
  std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), address.bytes.begin());
  std::copy(octets.begin(), octets.end(), address.bytes.begin() + v4_mapped_prefix.size());
  return address;
}

IpAddress IpAddress::v6(std::span<const std::uint8_t, 16> octets) {
  IpAddress address;
  std::copy(octets.begin(), octets.end(), address.bytes.begin());
  return address;
}

bool IpAddress::is_v4_mapped() const {
  return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes.begin());
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (auto parsed = parse_address(text)) return parsed->address;
  return std::nullopt;
}

std::string to_string(const IpAddress& address) {
  return format_address(address, address.is_v4_mapped());
}

bool Network::contains(const IpAddress& address) const {
  const auto whole_bytes = static_cast<std::size_t>(prefix / 8);
  if (std::memcmp(base.bytes.data(), address.bytes.data(), whole_bytes) != 0) return false;
  const int rest_bits = prefix % 8;
  if (rest_bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest_bits));
  return ((base.bytes[whole_bytes] ^ address.bytes[whole_bytes]) & mask) == 0;
}

Result<Network, std::string> parse_network(std::string_view text) {
  if (text.empty()) {
    return std::string("an empty network; expected an address or a network such as 192.0.2.0/24");
  }
  // "[v6]/n" or "[v6]", else "address/n" or "address".
  std::string_view address_text = text;
  std::optional<std::string_view> prefix_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fmt::format("'{}': '[' without ']'", text);
    address_text = text.substr(0, close + 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != '/')
        return fmt::format("'{}': expected '/' and a prefix after ']'", text);
      prefix_text = rest.substr(1);
    }
  } else if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    prefix_text = text.substr(slash + 1);
  }

  const auto parsed = parse_address(address_text);
  if (!parsed) {
    return fmt::format("'{}': '{}' is not an IPv4 or IPv6 address", text, address_text);
  }
  const int max_prefix = parsed->written_as_v4 ? 32 : 128;
  int written_prefix = max_prefix;
  if (prefix_text) {
    // Digits only: no sign, no spaces, nothing after.
    const bool digits = !prefix_text->empty() && prefix_text->size() <= 3 &&
                        std::all_of(prefix_text->begin(), prefix_text->end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    const char* end = prefix_text->data() + prefix_text->size();
    if (!digits || std::from_chars(prefix_text->data(), end, written_prefix).ptr != end ||
        written_prefix > max_prefix) {
      return fmt::format("'{}': the prefix length must be a number from 0 to {} for an {} network",
                         text, max_prefix, parsed->written_as_v4 ? "IPv4" : "IPv6");
    }
  }

  Network network;
  network.prefix = parsed->written_as_v4 ? v4_prefix_bits + written_prefix : written_prefix;
  network.base = masked(parsed->address, network.prefix);
  if (network.base != parsed->address) {
    return fmt::format("'{}' has host bits set; did you mean {}/{}?", text,
                       format_address(network.base, parsed->written_as_v4), written_prefix);
  }
  network.text = std::string(text);
  return network;
}

Result<AccessRules, std::string> AccessRules::parse(std::span<const std::string> allow,
                                                    std::span<const std::string> deny) {
  AccessRules rules;
  for (const auto& entry : allow) {
    auto network = parse_network(entry);
    if (!network) return fmt::format("allow: {}", network.error());
    rules.allow_.push_back(std::move(*network));
  }
  for (const auto& entry : deny) {
    auto network = parse_network(entry);
    if (!network) return fmt::format("deny: {}", network.error());
    rules.deny_.push_back(std::move(*network));
  }
  return rules;
}

std::optional<std::string> AccessRules::refusal(const IpAddress& peer) const {
  for (const auto& network : deny_) {
    if (network.contains(peer)) return fmt::format("denied by {}", network.text);
  }
  if (allow_.empty()) return std::nullopt;
  const bool allowed = std::any_of(allow_.begin(), allow_.end(),
                                   [&](const Network& network) { return network.contains(peer); });
  if (allowed) return std::nullopt;
  return std::string("not in the allow list");
}

}  // namespace ttynet::server
