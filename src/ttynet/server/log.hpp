#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include <spdlog/logger.h>

namespace ttynet::server {

// The "server" logger (sessions, listeners, device hosting).
spdlog::logger& log();

// Logs a line that any peer can cause (connects, refusals, disconnects, protocol errors) about
// `peer`, within the rate limits of one PeerLogLimit for the process (the server's event loop
// is its one thread); a line let through after some were held back says how many.
void log_about_peer(spdlog::level::level_enum level, std::string_view peer, std::string_view text);

// What a port's server says about one of its peers: "port NAME: ROLE PEER TEXT" (ROLE is empty
// for the controlling client), within the limits of log_about_peer().
class PeerReporter {
 public:
  PeerReporter(std::string_view port_name, std::string_view role, std::string peer);
  const std::string& peer() const { return peer_; }
  void operator()(spdlog::level::level_enum level, std::string_view text) const;
  // A failed connection is reported once, by whichever direction fails first: the other one
  // then finds its operation aborted or the socket closed and says nothing.
  void connection_lost(std::error_code ec, bool socket_open) const;

 private:
  std::string peer_;
  std::string prefix_;
};

// The log of a long-running server: from construction on, every logger writes through one
// bounded queue that a background thread drains to the default logger's sinks (same level and
// format), so a slow or stalled consumer (an undrained pipe, a stuck journald) never blocks
// the event loop. When the queue is full the oldest lines give way and are counted; once no
// line has been lost for a second, the count is logged ("N log lines dropped ...").
class AsyncLog {
 public:
  static constexpr std::size_t queue_lines = 8192;

  AsyncLog();
  ~AsyncLog();
  AsyncLog(const AsyncLog&) = delete;
  AsyncLog& operator=(const AsyncLog&) = delete;

  // Waits at most `limit` until every line so far is written. False when the sink stayed
  // blocked: the writer thread cannot be joined then, so the caller must end the process
  // without running destructors (std::_Exit) instead of returning.
  bool close(std::chrono::milliseconds limit);

 private:
  void report_drops();
  void stop_reporter();

  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread reporter_;
};

}  // namespace ttynet::server
