// esp_connect_probe URL [--attempts N] [--sync-timeout S] [--ign-set-control-pacing]
//
// An esptool-style connect through ttynet's own client, repeated: each attempt drops what was
// received, plays esptool's classic reset on the port, then sends SYNC until the loader answers
// (up to 5 tries, each waiting --sync-timeout). An attempt succeeds when the ROM's download-mode
// boot message ("waiting for download") came after the reset and a SYNC was answered: a chip
// that was not reset cannot pass. Prints one JSON line:
//   {"url": ..., "attempts": N, "successes": K, "seconds": [per attempt]}
// Exit 0 when the port opened (whatever the success count), 1 otherwise.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/port/blocking_port.hpp"
#include "ttynet/port/reset_player.hpp"

namespace {

using namespace ttynet;
using Seconds = std::chrono::duration<double>;

constexpr int sync_tries = 5;
constexpr std::string_view download_banner = "waiting for download";

ByteBuffer sync_frame() {
  ByteBuffer packet;
  const auto data = esp::sync_data();
  esp::append_request(packet, esp::Op::sync, data);
  return esp::slip::encode_frame(packet);
}

// Reads until a SYNC response frame arrives or `timeout` passes; what arrived is appended to
// `seen` (the boot text included).
bool await_sync_reply(port::BlockingPort& port, Duration timeout, ByteBuffer& seen) {
  esp::slip::Decoder decoder;
  const auto deadline = Clock::now() + timeout;
  ByteBuffer chunk(4096);
  while (Clock::now() < deadline) {
    auto n = port.read_some(chunk, deadline - Clock::now());
    if (!n || *n == 0) return false;
    const ByteView got = ByteView(chunk).first(*n);
    seen.insert(seen.end(), got.begin(), got.end());
    decoder.receive(got);
    while (auto event = decoder.next_event()) {
      const auto* frame = std::get_if<esp::slip::FrameReceived>(&*event);
      if (!frame) continue;
      auto response = esp::decode_response(frame->payload);
      if (response && response->op == esp::Op::sync) return true;
    }
  }
  return false;
}

bool connect_once(port::BlockingPort& port, Duration sync_timeout) {
  if (port.purge(Purge::both)) return false;
  if (port.run(port::play_reset(port.port(), esp::classic_reset()))) return false;
  ByteBuffer seen;
  const ByteBuffer frame = sync_frame();
  for (int i = 0; i < sync_tries; ++i) {
    if (port.write(frame)) return false;
    const bool answered = await_sync_reply(port, sync_timeout, seen);
    const std::string text(seen.begin(), seen.end());
    const bool in_download_mode = text.find(download_banner) != std::string::npos;
    if (answered) return in_download_mode;
    // It booted something else: no SYNC will be answered.
    if (!in_download_mode && text.find("boot:") != std::string::npos) return false;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int attempts = 1;
  double sync_timeout = 1.0;
  CLI::App app{"Repeated esptool-style connects (classic reset + SYNC) through a port URL"};
  app.add_option("URL", url, "Port URL")->required();
  app.add_option("--attempts", attempts)->check(CLI::Range(1, 1000));
  app.add_option("--sync-timeout", sync_timeout, "Seconds to wait for each SYNC answer")
      ->check(CLI::Range(0.01, 60.0));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // stdout carries the one JSON line

  auto opened = port::BlockingPort::open(url);
  if (!opened) {
    std::fprintf(stderr, "esp_connect_probe: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& port = **opened;
  const auto timeout = std::chrono::duration_cast<Duration>(Seconds(sync_timeout));
  int successes = 0;
  std::vector<double> seconds;
  for (int i = 0; i < attempts; ++i) {
    const auto start = Clock::now();
    if (connect_once(port, timeout)) ++successes;
    seconds.push_back(Seconds(Clock::now() - start).count());
  }
  std::printf(
      "%s\n",
      fmt::format(R"({{"url": "{}", "attempts": {}, "successes": {}, "seconds": [{:.3f}]}})", url,
                  attempts, successes, fmt::join(seconds, ", "))
          .c_str());
  return 0;
}
