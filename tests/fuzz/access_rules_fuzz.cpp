// A port's access rules (server/access_rules.cpp) on any text. Invariants: parsing never
// throws; an error has a message; a parsed network keeps its text, has a prefix from 0 to 128
// and no host bits, contains its base address and is the same written back as address/prefix;
// an allow list of it admits its base and a deny list of it refuses it, naming it; a parsed
// address is the same printed and parsed again.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz_support.hpp"
#include "ttynet/server/access_rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ttynet;
  using ttynet::fuzz::check;
  const std::string text(reinterpret_cast<const char*>(data), size);

  if (const auto address = server::parse_ip_address(text)) {
    check(server::parse_ip_address(server::to_string(*address)) == address);
  }

  const auto network = server::parse_network(text);
  if (!network) {
    check(!network.error().empty());
    return 0;
  }
  check(network->text == text);
  check(network->prefix >= 0 && network->prefix <= 128);
  check(network->contains(network->base));
  if (network->base.is_v4_mapped() && network->prefix >= 96) {
    const std::string again =
        fmt::format("{}/{}", server::to_string(network->base), network->prefix - 96);
    const auto reparsed = server::parse_network(again);
    check(reparsed && reparsed->base == network->base && reparsed->prefix == network->prefix);
  } else if (!network->base.is_v4_mapped()) {
    const std::string again =
        fmt::format("{}/{}", server::to_string(network->base), network->prefix);
    const auto reparsed = server::parse_network(again);
    check(reparsed && reparsed->base == network->base && reparsed->prefix == network->prefix);
  }

  const std::vector<std::string> entries{text};
  const auto allow = server::AccessRules::parse(entries, {});
  check(allow && allow->has_allow_list() && !allow->refusal(network->base));
  const auto deny = server::AccessRules::parse({}, entries);
  check(deny && !deny->has_allow_list());
  check(deny->refusal(network->base) == "denied by " + text);
  return 0;
}
