// serial_server_bench: measures a serial-over-TCP server (ttynet, ser2net, socat, ...) on ptys.
//
// The server exports pseudo-terminals whose other ends play the device: echo, sink or source
// (FarSide).
//
//   this process                       server under test
//   +-------------------+   TCP 127.0.0.1  +-------------------+  pty slave
//   | client: raw or    | <--------------> | e.g. ttynet serve | <-----------+
//   | Telnet + RFC 2217 |  (or TLS on it)  +-------------------+             |
//   +-------------------+                                        pty master  |
//   | far-side thread   | <--------------------------------------------------+
//   +-------------------+
//
// Figures for one port: round-trip time of 32-byte messages, throughput network -> device
// (sink), device -> network (source) and echo, all verified bit-exact, server CPU seconds per
// MiB in each, server peak RSS, and for RFC 2217 the time from connect until the four line
// settings are acknowledged. With --ports N: N ports served at once, negotiated and echoing
// together. Every wait has a deadline; any failure ends the run with one error line and exit
// status 1.

#include <csignal>
#include <exception>
#include <optional>

#include <fmt/core.h>

#include "options.hpp"
#include "report.hpp"
#include "run.hpp"

int main(int argc, char** argv) {
  using namespace ttynet::bench;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const std::optional<Options> options = parse_options(argc, argv);
    if (!options) {
      fmt::print("{}", usage_text());
      return 0;
    }
    print_result(run(*options), *options);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "serial_server_bench: error: {}\n", error.what());
    return 1;
  }
}
