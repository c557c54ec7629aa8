#pragma once
// The options of the `+tls` port URLs (socket+tls://, rfc2217+tls://; docs/design/security.md,
// "Client side"): a +tls scheme takes its plain scheme's options and these. One table for both
// schemes; what the options ask of a connection is tls_connect.hpp's. No OpenSSL here: the
// registry (url.cpp), which the URL fuzz target builds on its own, includes this.

#include <array>
#include <cstddef>
#include <string_view>

#include "ttynet/port/url.hpp"

namespace ttynet::port {

// What a scheme's name ends with when it is the TLS twin of a plain one: "socket+tls".
inline constexpr std::string_view tls_scheme_suffix = "+tls";

// The options every +tls scheme adds to its plain scheme's.
inline constexpr std::array<OptionSpec, 5> tls_url_options{{
    {"ca", OptionType::text, "",
     "CA certificates (PEM) that sign the server's certificate (default: the system's store)"},
    {"cert", OptionType::text, "", "client certificate (PEM) to present; needs key"},
    {"key", OptionType::text, "", "the client certificate's key (PEM, mode 600); needs cert"},
    {"token_file", OptionType::text, "",
     "file with a token on one line (mode 600), presented after the handshake"},
    {"servername", OptionType::text, "",
     "name the server's certificate must carry, also sent as SNI (default: HOST)"},
}};

// The option table of a +tls scheme: its plain scheme's, then tls_url_options.
template <std::size_t plain_size>
constexpr std::array<OptionSpec, plain_size + tls_url_options.size()> with_tls_options(
    const std::array<OptionSpec, plain_size>& plain) {
  std::array<OptionSpec, plain_size + tls_url_options.size()> all{};
  std::size_t next = 0;
  for (const auto& option : plain) all[next++] = option;
  for (const auto& option : tls_url_options) all[next++] = option;
  return all;
}

}  // namespace ttynet::port
