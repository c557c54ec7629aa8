// The ser2net configuration parser (server/ser2net_yaml.cpp) on any text. Invariants: nothing
// is thrown out of it (libFuzzer stops on an uncaught exception); it returns connections that
// ttynet can serve (a TCP port, a device, 1 to 100 clients, at most 256 of them) or one error
// line naming the source; and text passed as one -Y fragment reads as the file with each '#'
// a line break.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "ttynet/server/ser2net_yaml.hpp"

namespace server = ttynet::server;
using ttynet::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string as_file = text;
  std::replace(as_file.begin(), as_file.end(), '#', '\n');

  // "ser2net -Y" is the source name the fragments' errors give.
  const auto from_file = server::parse_ser2net_yaml(as_file, "ser2net -Y");
  const auto from_fragments = server::parse_ser2net_fragments({text});
  check(from_file.has_value() == from_fragments.has_value());
  if (!from_file) {
    const auto& message = from_file.error().message;
    check(message.rfind("ser2net -Y", 0) == 0);
    check(message.find('\n') == std::string::npos);
    check(message == from_fragments.error().message);
    return 0;
  }
  check(*from_file == *from_fragments);
  check(!from_file->empty() && from_file->size() <= server::max_ser2net_connections);
  for (const auto& connection : *from_file) {
    check(connection.tcp_port > 0);
    check(!connection.device.empty());
    check(connection.max_connections >= 1 &&
          connection.max_connections <= server::max_ser2net_max_connections);
  }
  return 0;
}
