// The multi-port config parser (server/config.cpp) on any text. Invariants: it returns a
// configuration or one error line that names the source; never a crash, never a second line;
// an accepted entry has a baud rate and sharing settings within their bounds.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.hpp"
#include "ttynet/server/config.hpp"

using ttynet::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ttynet::server::parse_config(text, "fuzz.toml");
  if (!parsed) {
    check(parsed.error().message.rfind("fuzz.toml", 0) == 0);
    check(parsed.error().message.find('\n') == std::string::npos);
    return 0;
  }
  for (const auto& entry : parsed->ports) {
    check(entry.initial_settings.baud > 0);
    check(entry.sharing.max_clients >= 1 &&
          entry.sharing.max_clients <= ttynet::server::max_controllers);
    check(entry.sharing.for_monitors() <= ttynet::server::max_scrollback);
    check(!entry.is_multi_device() || entry.device.find('*') != std::string::npos ||
          entry.source == ttynet::server::PortEntry::Source::match ||
          entry.device.find_first_of("?[") != std::string::npos);
  }
  return 0;
}
