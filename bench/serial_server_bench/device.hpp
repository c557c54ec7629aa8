#pragma once
// The device: a pseudo-terminal, and the thread playing the device on its master side (FarSide).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "pattern.hpp"
#include "unique_fd.hpp"

namespace ttynet::bench {

struct Pty {
  UniqueFd master;
  // Kept open for the whole run: the master then never sees a hang-up when the server closes
  // the device between connections, and the raw settings stay in force.
  UniqueFd slave;
  std::string slave_path;
};

// A new pty, its slave in raw mode at 115200 baud, its master non-blocking.
Pty open_pty();

// What the far side of the pty does: the device at the other end of the serial line.
enum class FarMode {
  echo,    // writes every byte back (a UART with TX wired to RX)
  sink,    // reads and verifies a known amount of the pattern (network to device)
  source,  // writes a known amount of the pattern (device to network)
};

std::string_view to_string(FarMode mode);

// A thread on the pty master playing the device, in one FarMode at a time, until stopped (or
// far_side_lifetime passes). It starts in echo mode; start() switches it.
class FarSide {
 public:
  FarSide(int master_fd, const Pattern& pattern);
  ~FarSide();
  FarSide(const FarSide&) = delete;
  FarSide& operator=(const FarSide&) = delete;

  // Switches to `mode`; sink and source move pattern bytes [offset, offset + total). Call only
  // when nothing is in flight: the previous job is done, or the echo has returned everything.
  void start(FarMode mode, std::uint64_t offset = 0, std::uint64_t total = 0);
  // The sink or source job has moved all its bytes (and the sink verified them).
  bool is_done() const {
    return done_generation_.load(std::memory_order_acquire) ==
           generation_.load(std::memory_order_relaxed);
  }
  // Readable when a job is done or the thread failed; for the client's poll().
  int done_fd() const { return done_.get(); }
  // Bytes read (sink), written (source) or written back (echo) since the last start().
  std::uint64_t bytes_moved() const { return moved_.load(std::memory_order_relaxed); }
  std::string error() const;
  // Fails with the thread's error, if it had one.
  void check() const;

 private:
  struct Job {
    FarMode mode = FarMode::echo;
    std::uint64_t offset = 0;
    std::uint64_t total = 0;
  };

  static UniqueFd make_eventfd();
  static void signal(int fd);

  void run(int fd, const std::stop_token& stop);
  void serve(int fd, const std::stop_token& stop);
  void record(std::string_view what);

  const Pattern& pattern_;
  UniqueFd wake_;  // start() and the destructor wake the thread
  UniqueFd done_;  // the thread tells the client
  mutable std::mutex mutex_;
  Job job_;
  std::string error_;
  std::atomic<unsigned> generation_{0};
  std::atomic<std::uint64_t> moved_{0};
  std::atomic<unsigned> done_generation_{~0u};  // the last job done
  std::atomic<bool> has_failed_{false};
  std::jthread thread_;  // last: starts after the members it uses exist
};

}  // namespace ttynet::bench
