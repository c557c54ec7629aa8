// `ttynet forward`: a local server whose device is a port URL, typically a remote
// `ttynet serve --esp`.

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "commands.hpp"
#include "serve_common.hpp"
#include "ttynet/forward/accelerated_port.hpp"
#include "ttynet/forward/forward_host.hpp"
#include "ttynet/server/log.hpp"

namespace ttynet::app {
namespace {

struct ForwardOptions {
  std::string url;
  std::uint16_t tcp_port = 2217;
  std::string bind = "127.0.0.1";
  bool raw = false;
  std::uint32_t keepalive = default_keepalive_seconds;
  int verbosity = 0;
};

int run_forward(const ForwardOptions& options) {
  configure_logging(options.verbosity);
  server::AsyncLog async_log;
  asio::io_context io(1);
  forward::ForwardHostConfig config;
  config.upstream_url = options.url;
  config.bind_address = options.bind;
  config.tcp_port = options.tcp_port;
  config.protocol = options.raw ? server::Protocol::raw : server::Protocol::rfc2217;
  config.clients.keepalive = std::chrono::seconds(options.keepalive);
  config.wrap_upstream = [executor = io.get_executor(),
                          raw = options.raw](std::unique_ptr<port::Port> far) {
    return forward::accelerate_if_paced(executor, std::move(far), {.raw_front = raw});
  };
  forward::ForwardHost host(io.get_executor(), std::move(config));
  const int code = serve_until_signalled(io, host);
  return finish(async_log, code);
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto options = std::make_shared<ForwardOptions>();
  auto* forward = app.add_subcommand(
      "forward", "Serve a port URL (typically a remote ttynet serve) on this machine");
  forward->footer(
      "\nA local server for a port elsewhere: local tools that want a nearby RFC 2217 (or, with "
      "--raw, raw TCP) server reach URL through it, typically a ttynet serve --esp on another "
      "machine. Nothing connects upstream until a client comes; then each client gets its own "
      "connection to URL, and a client that cannot have one (the far end refuses it or cannot be "
      "reached) is told why in one line. The settings and control lines a client asks for reach "
      "the far port and are put back when it leaves; when the far end goes away, the client is "
      "told and dropped.\n\nWhen the far end is ttynet serve --esp, an unmodified esptool.py "
      "gets ESP acceleration: SYNC and the stub's start answered here with the chip's own "
      "answers, flash blocks answered ahead while the far server paces them to the chip, every "
      "real reply still checked (docs/design/esp-forwarder.md). Point the tool at "
      "rfc2217://127.0.0.1:PORT?ign_set_control.");
  forward->add_option("URL", options->url, "Port to forward: a port URL, e.g. rfc2217://lab:4000")
      ->required();
  forward
      ->add_option("-p,--port", options->tcp_port,
                   "Local TCP port to listen on (0 = any free port)")
      ->capture_default_str();
  forward->add_option("--bind", options->bind, "Local address to listen on")->capture_default_str();
  forward->add_flag("--raw", options->raw,
                    "Serve raw TCP (socket:// clients) instead of RFC 2217 (bytes pass untouched)");
  add_keepalive_option(*forward, options->keepalive);
  forward->add_flag("-v,--verbose", options->verbosity, "More log output (repeatable)");
  forward->callback([options] { exit_code() = run_forward(*options); });
}

}  // namespace ttynet::app
