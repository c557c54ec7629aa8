#pragma once
// Test helpers for the port layer: drive coroutines on an io_context for a bounded time, and
// real pseudo-terminals.

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "ttynet/port/port.hpp"

namespace ttynet::port::test {

inline constexpr std::chrono::milliseconds default_limit{5000};

// Starts `op` on `io`; the returned slot is filled when it completes.
template <typename T>
std::shared_ptr<std::optional<T>> spawn(asio::io_context& io, asio::awaitable<T> op) {
  auto slot = std::make_shared<std::optional<T>>();
  asio::co_spawn(
      io,
      [slot, op = std::move(op)]() mutable -> asio::awaitable<void> {
        slot->emplace(co_await std::move(op));
      },
      asio::detached);
  return slot;
}

// Runs `io` until `done()` holds or `limit` passes; returns done().
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = default_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.run_one_until(deadline) == 0 && io.stopped()) break;
  }
  return done();
}

// Runs what is ready to run now, without waiting (e.g. to get a spawned read pending).
inline void run_ready(asio::io_context& io) {
  io.restart();
  io.poll();
}

// Runs `op` to completion, or gives up after `limit` (then the result is empty).
template <typename T>
std::optional<T> run(asio::io_context& io, asio::awaitable<T> op,
                     std::chrono::milliseconds limit = default_limit) {
  auto slot = spawn(io, std::move(op));
  run_until(
      io, [&] { return slot->has_value(); }, limit);
  return std::move(*slot);
}

// A pseudo-terminal pair: the port under test opens the slave path; the test plays the device
// on the master, where (on Linux) TCGETS2 reads the slave's termios.
class Pty {
 public:
  Pty() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) {
      throw std::runtime_error("cannot create a pseudo-terminal");
    }
    char name[128] = {};
    if (::ptsname_r(master_, name, sizeof name) != 0) {
      throw std::runtime_error("cannot name the pseudo-terminal");
    }
    slave_path_ = name;
  }
  ~Pty() { close_master(); }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;

  int master() const { return master_; }
  const std::string& slave_path() const { return slave_path_; }
  // A descriptor of the master for an asio stream (which closes it).
  int dup_master() const { return ::fcntl(master_, F_DUPFD_CLOEXEC, 0); }
  // What unplugging is to a USB adapter: the slave's reads end.
  void close_master() {
    if (master_ >= 0) ::close(master_);
    master_ = -1;
  }

 private:
  int master_ = -1;
  std::string slave_path_;
};

// Reads until `n` bytes arrived or the port reports an error; returns what arrived.
inline asio::awaitable<ByteBuffer> read_exactly(Port& port, std::size_t n) {
  ByteBuffer bytes(n);
  std::size_t got = 0;
  while (got < n) {
    auto [ec, count] = co_await port.read_some(MutableByteView(bytes).subspan(got));
    if (ec) break;
    got += count;
  }
  bytes.resize(got);
  co_return bytes;
}

}  // namespace ttynet::port::test
