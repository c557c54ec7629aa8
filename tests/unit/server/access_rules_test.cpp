#include "ttynet/server/access_rules.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ttynet::server {
namespace {

IpAddress address(std::string_view text) {
  const auto parsed = parse_ip_address(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

Network network(std::string_view text) {
  auto parsed = parse_network(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error());
  return parsed ? *parsed : Network{};
}

std::string network_error(std::string_view text) {
  const auto parsed = parse_network(text);
  EXPECT_FALSE(parsed.has_value()) << text;
  return parsed ? std::string() : parsed.error();
}

AccessRules rules(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  auto parsed = AccessRules::parse(allow, deny);
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error());
  return parsed ? *parsed : AccessRules{};
}

TEST(IpAddress, IPv4IsHeldMapped) {
  const IpAddress parsed = address("192.0.2.7");
  const std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 7};
  EXPECT_EQ(parsed.bytes, mapped);
  EXPECT_TRUE(parsed.is_v4_mapped());
  EXPECT_EQ(address("::ffff:192.0.2.7"), parsed);
  EXPECT_EQ(address("[::ffff:192.0.2.7]"), parsed);
  EXPECT_EQ(to_string(parsed), "192.0.2.7");
}

TEST(IpAddress, FromRawBytes) {
  const std::array<std::uint8_t, 4> v4{198, 51, 100, 1};
  EXPECT_EQ(IpAddress::v4(v4), address("198.51.100.1"));
  const std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(IpAddress::v6(v6), address("2001:db8::1"));
  EXPECT_FALSE(IpAddress::v6(v6).is_v4_mapped());
  EXPECT_EQ(to_string(IpAddress::v6(v6)), "2001:db8::1");
  // A dual-stack listener's view of an IPv4 peer is the IPv4 address.
  const std::array<std::uint8_t, 16> mapped{0, 0, 0,    0,    0,   0,  0,   0,
                                            0, 0, 0xFF, 0xFF, 198, 51, 100, 1};
  EXPECT_EQ(IpAddress::v6(mapped), IpAddress::v4(v4));
}

TEST(IpAddress, ParsesIPv6InAndOutOfBrackets) {
  EXPECT_EQ(address("[2001:db8::1]"), address("2001:db8::1"));
  EXPECT_EQ(to_string(address("::1")), "::1");
  EXPECT_EQ(to_string(address("::")), "::");
}

TEST(IpAddress, RefusesWhatIsNotOneAddress) {
  for (const std::string_view text :
       {"", "localhost", "192.0.2", "192.0.2.256", "192.0.2.7 ", " 192.0.2.7", "192.0.2.7:80",
        "[192.0.2.7]", "[::1", "::1]", "[]", "2001:db8::1::2", "fe80::1%eth0", "[::1]:80",
        "1.2.3.4/32", "01.2.3.4", "::g"}) {
    EXPECT_FALSE(parse_ip_address(text).has_value()) << text;
  }
  // inet_pton stops at a NUL; the text after it must not be ignored.
  EXPECT_FALSE(parse_ip_address(std::string_view("10.0.0.1\0junk", 13)).has_value());
}

TEST(Network, ParsesTheWrittenForms) {
  const Network v4 = network("192.0.2.0/24");
  EXPECT_EQ(v4.prefix, 96 + 24);
  EXPECT_EQ(v4.base, address("192.0.2.0"));
  EXPECT_EQ(v4.text, "192.0.2.0/24");
  EXPECT_EQ(network("10.1.2.3").prefix, 128);  // a host
  EXPECT_EQ(network("10.1.2.3/32").prefix, 128);
  EXPECT_EQ(network("2001:db8::/32").prefix, 32);
  EXPECT_EQ(network("::1").prefix, 128);
  EXPECT_EQ(network("[::1]/128").prefix, 128);
  EXPECT_EQ(network("[::1]").prefix, 128);
  EXPECT_EQ(network("[2001:db8::]/32").base, address("2001:db8::"));
  EXPECT_EQ(network("0.0.0.0/0").prefix, 96);
  EXPECT_EQ(network("::/0").prefix, 0);
  EXPECT_EQ(network("::ffff:10.0.0.0/104").prefix, 104);
}

TEST(Network, MatchesItsAddressesOnly) {
  const Network lab = network("192.0.2.0/24");
  EXPECT_TRUE(lab.contains(address("192.0.2.0")));
  EXPECT_TRUE(lab.contains(address("192.0.2.255")));
  EXPECT_TRUE(lab.contains(address("::ffff:192.0.2.9")));
  EXPECT_FALSE(lab.contains(address("192.0.3.0")));
  EXPECT_FALSE(lab.contains(address("192.0.1.255")));
  EXPECT_FALSE(lab.contains(address("::192.0.2.9")));  // IPv4-compatible, not mapped
  EXPECT_FALSE(lab.contains(address("2001:db8::1")));

  const Network host = network("10.1.2.3");
  EXPECT_TRUE(host.contains(address("10.1.2.3")));
  EXPECT_FALSE(host.contains(address("10.1.2.2")));
  EXPECT_FALSE(host.contains(address("10.1.2.4")));

  const Network v6 = network("2001:db8::/32");
  EXPECT_TRUE(v6.contains(address("2001:db8:ffff::1")));
  EXPECT_FALSE(v6.contains(address("2001:db9::1")));
  EXPECT_FALSE(v6.contains(address("192.0.2.1")));
}

TEST(Network, PrefixEdges) {
  // /0: all of IPv4 for an IPv4 network, everything for an IPv6 one.
  const Network all_v4 = network("0.0.0.0/0");
  EXPECT_TRUE(all_v4.contains(address("255.255.255.255")));
  EXPECT_TRUE(all_v4.contains(address("0.0.0.0")));
  EXPECT_FALSE(all_v4.contains(address("::1")));
  EXPECT_FALSE(all_v4.contains(address("2001:db8::1")));
  const Network all = network("::/0");
  EXPECT_TRUE(all.contains(address("::1")));
  EXPECT_TRUE(all.contains(address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_TRUE(all.contains(address("192.0.2.1")));

  const Network one = network("::1/128");
  EXPECT_TRUE(one.contains(address("::1")));
  EXPECT_FALSE(one.contains(address("::")));
  EXPECT_FALSE(one.contains(address("::2")));

  const Network pair = network("2001:db8::/127");
  EXPECT_TRUE(pair.contains(address("2001:db8::")));
  EXPECT_TRUE(pair.contains(address("2001:db8::1")));
  EXPECT_FALSE(pair.contains(address("2001:db8::2")));

  const Network v4_pair = network("192.0.2.6/31");
  EXPECT_TRUE(v4_pair.contains(address("192.0.2.6")));
  EXPECT_TRUE(v4_pair.contains(address("192.0.2.7")));
  EXPECT_FALSE(v4_pair.contains(address("192.0.2.5")));
  EXPECT_FALSE(v4_pair.contains(address("192.0.2.8")));

  // A prefix that ends inside a byte.
  const Network odd = network("10.128.0.0/9");
  EXPECT_TRUE(odd.contains(address("10.255.255.255")));
  EXPECT_FALSE(odd.contains(address("10.127.255.255")));
  const Network v6_odd = network("2001:db8:8000::/33");
  EXPECT_TRUE(v6_odd.contains(address("2001:db8:ffff::")));
  EXPECT_FALSE(v6_odd.contains(address("2001:db8:7fff::")));
}

TEST(Network, HostBitsAreAnErrorThatSuggestsTheNetwork) {
  EXPECT_EQ(network_error("10.0.0.1/8"),
            "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?");
  EXPECT_EQ(network_error("192.0.2.7/31"),
            "'192.0.2.7/31' has host bits set; did you mean 192.0.2.6/31?");
  EXPECT_EQ(network_error("1.2.3.4/0"), "'1.2.3.4/0' has host bits set; did you mean 0.0.0.0/0?");
  EXPECT_EQ(network_error("2001:db8::1/32"),
            "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?");
  EXPECT_EQ(network_error("[2001:db8::1]/127"),
            "'[2001:db8::1]/127' has host bits set; did you mean 2001:db8::/127?");
  EXPECT_EQ(network_error("::ffff:10.0.0.1/104"),
            "'::ffff:10.0.0.1/104' has host bits set; did you mean ::ffff:10.0.0.0/104?");
}

TEST(Network, BadPrefixesAreNamed) {
  for (const std::string_view text :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ",
        "10.0.0.0/0x8", "10.0.0.0/8/8", "10.0.0.0/0008", "10.0.0.0/a"}) {
    EXPECT_EQ(network_error(text),
              std::string("'") + std::string(text) +
                  "': the prefix length must be a number from 0 to 32 for an IPv4 network");
  }
  EXPECT_EQ(network_error("::/129"),
            "'::/129': the prefix length must be a number from 0 to 128 for an IPv6 network");
  EXPECT_EQ(network_error("[::1]/"),
            "'[::1]/': the prefix length must be a number from 0 to 128 for an IPv6 network");
}

TEST(Network, BadAddressesAreNamed) {
  EXPECT_EQ(network_error("10.0.0/8"), "'10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address");
  EXPECT_EQ(network_error("lab.example/24"),
            "'lab.example/24': 'lab.example' is not an IPv4 or IPv6 address");
  EXPECT_EQ(network_error("/8"), "'/8': '' is not an IPv4 or IPv6 address");
  EXPECT_EQ(network_error("[10.0.0.1]/32"),
            "'[10.0.0.1]/32': '[10.0.0.1]' is not an IPv4 or IPv6 address");
  EXPECT_EQ(network_error("[::1"), "'[::1': '[' without ']'");
  EXPECT_EQ(network_error("[::1]128"), "'[::1]128': expected '/' and a prefix after ']'");
  EXPECT_EQ(network_error(""),
            "an empty network; expected an address or a network such as 192.0.2.0/24");
}

TEST(AccessRules, NoRulesAllowEveryone) {
  const AccessRules none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.has_allow_list());
  EXPECT_EQ(none.refusal(address("192.0.2.1")), std::nullopt);
  EXPECT_EQ(none.refusal(address("::1")), std::nullopt);
  EXPECT_TRUE(rules({}, {}).empty());
}

TEST(AccessRules, DenyAloneRefusesOnlyWhatItNames) {
  const AccessRules deny_only = rules({}, {"10.0.0.0/8", "2001:db8::/32"});
  EXPECT_FALSE(deny_only.empty());
  EXPECT_FALSE(deny_only.has_allow_list());
  EXPECT_EQ(deny_only.refusal(address("10.9.8.7")), "denied by 10.0.0.0/8");
  EXPECT_EQ(deny_only.refusal(address("::ffff:10.9.8.7")), "denied by 10.0.0.0/8");
  EXPECT_EQ(deny_only.refusal(address("2001:db8::5")), "denied by 2001:db8::/32");
  EXPECT_EQ(deny_only.refusal(address("192.0.2.1")), std::nullopt);
  EXPECT_EQ(deny_only.refusal(address("::1")), std::nullopt);
}

TEST(AccessRules, AllowListAdmitsOnlyItsNetworks) {
  const AccessRules allow_only = rules({"192.0.2.0/24", "::1"}, {});
  EXPECT_TRUE(allow_only.has_allow_list());
  EXPECT_EQ(allow_only.refusal(address("192.0.2.200")), std::nullopt);
  EXPECT_EQ(allow_only.refusal(address("::ffff:192.0.2.200")), std::nullopt);
  EXPECT_EQ(allow_only.refusal(address("::1")), std::nullopt);
  EXPECT_EQ(allow_only.refusal(address("127.0.0.1")), "not in the allow list");
  EXPECT_EQ(allow_only.refusal(address("2001:db8::1")), "not in the allow list");
}

TEST(AccessRules, DenyWinsOverAllow) {
  const AccessRules both = rules({"10.0.0.0/8"}, {"10.66.0.0/16", "10.1.2.3"});
  EXPECT_EQ(both.refusal(address("10.1.1.1")), std::nullopt);
  EXPECT_EQ(both.refusal(address("10.66.3.4")), "denied by 10.66.0.0/16");
  EXPECT_EQ(both.refusal(address("10.1.2.3")), "denied by 10.1.2.3");
  EXPECT_EQ(both.refusal(address("11.0.0.1")), "not in the allow list");
  // The same network in both lists: denied.
  const AccessRules same = rules({"::/0"}, {"::/0"});
  EXPECT_EQ(same.refusal(address("::1")), "denied by ::/0");
}

TEST(AccessRules, ParseErrorsNameTheList) {
  const std::vector<std::string> good{"192.0.2.0/24"};
  const std::vector<std::string> bad{"192.0.2.0/24", "10.0.0.1/8"};
  const auto in_allow = AccessRules::parse(bad, good);
  ASSERT_FALSE(in_allow.has_value());
  EXPECT_EQ(in_allow.error(), "allow: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?");
  const auto in_deny = AccessRules::parse(good, bad);
  ASSERT_FALSE(in_deny.has_value());
  EXPECT_EQ(in_deny.error(), "deny: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?");
}

}  // namespace
}  // namespace ttynet::server
