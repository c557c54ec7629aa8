#pragma once
// The configuration ser2net 4 takes, as far as ttynet can serve it: the `-Y` fragments labgrid's
// exporter passes, and the ser2net.yaml of `-c FILE`. Sans-I/O: text in, plain values out.
//
//   connection: &con01                               # "version 1": the key may repeat
//     accepter: telnet(rfc2217,mode=server),tcp,4001 # or tcp,4001 (raw), tcp,ADDR,4001
//     connector: serialdev(nouucplock=true),/dev/ttyUSB0,115200n81,local
//     timeout: 0                                     # seconds without traffic; 0: never
//     enable: on
//     options:
//       max-connections: 10
//
//   connections:                                     # "version 2": NAME -> connection
//     con02: { accepter: "tcp,4002", connector: "serialdev,/dev/ttyUSB1" }
//
// What ttynet cannot honour is refused with one line naming the word and the connection,
// rather than served differently: accepters other than [telnet(rfc2217),]tcp, connectors other
// than serialdev, telnet without RFC 2217, and options outside the few read or known to be
// harmless to skip (the list is in ser2net_yaml.cpp). A `%YAML` directive and `---` are
// accepted; every other top-level key is refused, `define:` and `include:` among them, so
// aliases work only within one connection.
//
// Errors are one line, "SOURCE:LINE:COLUMN: connection con01: unknown connector 'sol' (ttynet
// serves serialdev)", with the code std::errc::invalid_argument. SOURCE is the file name given,
// or "ser2net -Y" for the fragments, whose lines count those that '#' starts. The text may be at
// most 64 KiB, with at most 256 connections.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttynet/server/options.hpp"
#include "ttynet/util/error.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

// One `connection:` of a ser2net configuration, as ttynet serves it.
struct Ser2netConnection {
  std::string name{};  // the anchor (&con01) or the key under connections:; "" if none
  Protocol protocol = Protocol::rfc2217;  // telnet(rfc2217...) accepter -> rfc2217; tcp -> raw
  std::optional<std::string> bind{};      // tcp,ADDR,PORT form; nothing = all interfaces
  std::uint16_t tcp_port = 0;
  std::string device{};               // /dev/ttyUSB0
  LineSettings settings{};            // from 115200n81 etc.; parsed as 9600n81 if not given
  std::uint32_t max_connections = 1;  // options: max-connections
  bool kick_old_user = false;         // options: kickolduser
  std::chrono::seconds timeout{0};    // connection field `timeout` (0 = never)
  bool enabled = true;                // `enable: on|off`
  std::string signature{};            // options: signature ("" = none given)
  std::string banner{};               // options: banner, kept verbatim ("" = none)

  friend bool operator==(const Ser2netConnection&, const Ser2netConnection&) = default;
};

inline constexpr std::size_t max_ser2net_text_size = std::size_t{64} * 1024;
inline constexpr std::size_t max_ser2net_connections = 256;
inline constexpr std::uint32_t max_ser2net_max_connections = max_controllers;

// Joins the -Y fragments with '\n', turns each '#' into '\n', and parses the result.
Result<std::vector<Ser2netConnection>, Error> parse_ser2net_fragments(
    const std::vector<std::string>& fragments);
// Parses the text of a ser2net.yaml (for `-c FILE`; '#' is a comment there, as in YAML).
Result<std::vector<Ser2netConnection>, Error> parse_ser2net_yaml(std::string_view text,
                                                                 std::string_view source_name);

}  // namespace ttynet::server
