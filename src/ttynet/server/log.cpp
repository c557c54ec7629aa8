#include "ttynet/server/log.hpp"

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/spdlog.h>
#include <asio/error.hpp>

#include <memory>
#include <utility>

#include "ttynet/port/log.hpp"
#include "ttynet/server/peer_log_limit.hpp"

namespace ttynet::server {

spdlog::logger& log() {
  static const auto logger = port::logger("server");
  return *logger;
}

void log_about_peer(spdlog::level::level_enum level, std::string_view peer, std::string_view text) {
  static PeerLogLimit limit;
  if (!log().should_log(level) || !limit.allow(peer, Clock::now())) return;
  if (const std::size_t held_back = limit.take_suppressed(); held_back > 0) {
    log().log(level, "{} ({} lines about clients held back: too many)", text, held_back);
  } else {
    log().log(level, "{}", text);
  }
}

PeerReporter::PeerReporter(std::string_view port_name, std::string_view role, std::string peer)
    : peer_(std::move(peer)),
      prefix_(fmt::format("port {}: {}{}{}", port_name, role, role.empty() ? "" : " ", peer_)) {}

void PeerReporter::operator()(spdlog::level::level_enum level, std::string_view text) const {
  log_about_peer(level, peer_, fmt::format("{}{}", prefix_, text));
}

void PeerReporter::connection_lost(std::error_code ec, bool socket_open) const {
  if (!socket_open || ec == asio::error::operation_aborted) return;
  (*this)(spdlog::level::info, fmt::format(": connection lost: {}", ec.message()));
}

AsyncLog::AsyncLog() {
  const auto synchronous = spdlog::default_logger();
  spdlog::init_thread_pool(queue_lines, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      synchronous->name(), synchronous->sinks().begin(), synchronous->sinks().end(),
      spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(synchronous->level());
  spdlog::set_default_logger(logger);
  reporter_ = std::thread([this] { report_drops(); });
}

AsyncLog::~AsyncLog() { stop_reporter(); }

void AsyncLog::stop_reporter() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_requested_.notify_all();
  reporter_.join();
}

// Once a second: lines lost since the last report, logged when a whole second lost none (the
// sink caught up), so the report itself is not lost with the rest.
void AsyncLog::report_drops() {
  std::size_t reported = 0;
  std::size_t seen = 0;
  std::unique_lock lock(mutex_);
  while (!stop_requested_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    const auto pool = spdlog::thread_pool();
    if (!pool) continue;
    const std::size_t lost = pool->overrun_counter();
    if (lost == seen && lost > reported) {
      spdlog::default_logger()->warn(
          "{} log lines dropped: the log output was too slow (the server went on)",
          lost - reported);
      reported = lost;
    }
    seen = lost;
  }
}

bool AsyncLog::close(std::chrono::milliseconds limit) {
  stop_reporter();
  spdlog::default_logger()->flush();  // queued behind the lines: taken once they are written
  const auto pool = spdlog::thread_pool();
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (pool && pool->queue_size() > 0) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace ttynet::server
