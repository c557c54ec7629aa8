#pragma once
// The protocol the client speaks: raw bytes, or Telnet with COM-PORT-OPTION (RFC 2217).

#include <string_view>

namespace ttynet::bench {

enum class Protocol { raw, rfc2217 };

inline std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::raw ? "raw" : "rfc2217";
}

}  // namespace ttynet::bench
