#pragma once
// A port's access rules: the allow and deny lists of addresses and networks that a peer is
// matched against at accept, before any byte is read (docs/design/security.md, "What a
// connection goes through", step 1). A peer in `deny` is refused; with a non-empty `allow`, a
// peer must be in it. Sans-I/O: the caller passes the peer's address as bytes.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/util/result.hpp"

namespace ttynet::server {

// An IPv4 or IPv6 address, always as 16 bytes: IPv4 is held IPv4-mapped (::ffff:a.b.c.d), so a
// dual-stack listener's IPv4-mapped peer and a plain IPv4 peer are the same address, and both
// match IPv4 rules.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  // From asio::ip::address_v4::to_bytes() and address_v6::to_bytes().
  static IpAddress v4(std::span<const std::uint8_t, 4> octets);
  static IpAddress v6(std::span<const std::uint8_t, 16> octets);

  bool is_v4_mapped() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// "192.0.2.7", "2001:db8::1" or "[2001:db8::1]"; nothing for anything else (no port, no zone
// "%eth0", no surrounding spaces).
std::optional<IpAddress> parse_ip_address(std::string_view text);

// "192.0.2.7" for an IPv4(-mapped) address, "2001:db8::1" for the others.
std::string to_string(const IpAddress& address);

struct Network {
  IpAddress base;
  // How many leading bits of an address must equal `base`'s, counted in the 16-byte form:
  // IPv4 /n is 96 + n, and a host is 128.
  int prefix = 128;
  std::string text;  // as written, for the log line of a peer it refuses

  bool contains(const IpAddress& address) const;
};

// "192.0.2.0/24", "10.1.2.3" (one host), "2001:db8::/32", "::1", "[::1]/128". A network with
// host bits set below its prefix ("10.0.0.1/8") is an error, as it is most likely a typo. The
// error is a sentence that quotes the text.
Result<Network, std::string> parse_network(std::string_view text);

class AccessRules {
 public:
  AccessRules() = default;  // no rules: every peer may connect

  // From the `allow` and `deny` entries of a port (flags or the config file). The error names
  // the list and the entry: "deny: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?".
  static Result<AccessRules, std::string> parse(std::span<const std::string> allow,
                                                std::span<const std::string> deny);

  bool empty() const { return allow_.empty() && deny_.empty(); }
  bool has_allow_list() const { return !allow_.empty(); }

  // Nothing when `peer` may connect; otherwise why not, for the log: "denied by 10.0.0.0/8"
  // or "not in the allow list". Deny wins over allow.
  std::optional<std::string> refusal(const IpAddress& peer) const;

 private:
  std::vector<Network> allow_;
  std::vector<Network> deny_;
};

}  // namespace ttynet::server
