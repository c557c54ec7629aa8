// The device: a pseudo-terminal, and the thread playing the device on its master side (FarSide).

#include "device.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/core.h>

#include "deadline.hpp"
#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

Pty open_pty() {
  Pty pty;
  pty.master = UniqueFd{::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (pty.master.get() < 0) {
    fail_errno("posix_openpt");
  }
  if (::grantpt(pty.master.get()) != 0) {
    fail_errno("grantpt");
  }
  if (::unlockpt(pty.master.get()) != 0) {
    fail_errno("unlockpt");
  }
  std::array<char, 128> name{};
  if (::ptsname_r(pty.master.get(), name.data(), name.size()) != 0) {
    fail_errno("ptsname_r");
  }
  pty.slave_path = name.data();
  pty.slave = UniqueFd{::open(pty.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (pty.slave.get() < 0) {
    fail_errno(fmt::format("open {}", pty.slave_path));
  }

  // Raw: no echo, no line editing, no CR/NL mapping, no XON/XOFF, 8 bits. A server that opens
  // the device without configuring it still gets a transparent line.
  termios settings{};
  if (::tcgetattr(pty.slave.get(), &settings) != 0) {
    fail_errno("tcgetattr");
  }
  ::cfmakeraw(&settings);
  settings.c_cflag |= CLOCAL | CREAD;
  ::cfsetispeed(&settings, B115200);
  ::cfsetospeed(&settings, B115200);
  if (::tcsetattr(pty.slave.get(), TCSANOW, &settings) != 0) {
    fail_errno("tcsetattr");
  }

  const int flags = ::fcntl(pty.master.get(), F_GETFL);
  if (flags < 0 || ::fcntl(pty.master.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    fail_errno("fcntl O_NONBLOCK on pty master");
  }
  return pty;
}

std::string_view to_string(FarMode mode) {
  switch (mode) {
    case FarMode::echo:
      return "echo";
    case FarMode::sink:
      return "sink";
    case FarMode::source:
      return "source";
  }
  return "?";
}

FarSide::FarSide(int master_fd, const Pattern& pattern)
    : pattern_{pattern},
      wake_{make_eventfd()},
      done_{make_eventfd()},
      thread_{[this, master_fd](const std::stop_token& stop) { run(master_fd, stop); }} {}

FarSide::~FarSide() {
  thread_.request_stop();
  signal(wake_.get());
  thread_.join();
}

void FarSide::start(FarMode mode, std::uint64_t offset, std::uint64_t total) {
  {
    const std::lock_guard lock{mutex_};
    job_ = Job{mode, offset, total};
  }
  moved_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  signal(wake_.get());
}

std::string FarSide::error() const {
  const std::lock_guard lock{mutex_};
  return error_;
}

void FarSide::check() const {
  if (has_failed_.load(std::memory_order_acquire)) {
    fail("{}", error());
  }
}

UniqueFd FarSide::make_eventfd() {
  UniqueFd fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  if (fd.get() < 0) {
    fail_errno("eventfd");
  }
  return fd;
}

void FarSide::signal(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}

void FarSide::run(int fd, const std::stop_token& stop) {
  try {
    serve(fd, stop);
  } catch (const BenchError& error) {
    record(error.what());
  }
}

// Echo: reads and writes at the same time. A server may write the device faster than it reads it
// back (socat moves 8 KiB one way, the 4 KiB that n_tty holds the other), and then blocks in
// write() while the echo waits for it to read: so the echo keeps reading into a buffer, and the
// client's window keeps that buffer from filling.
void FarSide::serve(int fd, const std::stop_token& stop) {
  const Deadline lifetime{far_side_lifetime};
  constexpr std::size_t capacity = echo_capacity;
  constexpr int tick_ms = 50;  // bounds each wait; start() and stop wake it at once
  std::vector<Byte> pending(capacity);
  std::size_t begin = 0;  // echo: pending[begin, end) not yet written back
  std::size_t end = 0;
  Job job;
  std::optional<Verifier> verifier;  // sink
  std::uint64_t written = 0;         // source
  bool finished = false;             // sink or source job complete
  unsigned seen_generation = 0;
  while (!stop.stop_requested() && !lifetime.passed()) {
    if (const unsigned now = generation_.load(std::memory_order_acquire); now != seen_generation) {
      seen_generation = now;
      const std::lock_guard lock{mutex_};
      job = job_;
      verifier.emplace(pattern_, job.offset, job.total);
      written = 0;
      finished = false;
    }
    if (begin == end) {
      begin = end = 0;
    }
    if (end == capacity && begin > 0) {
      std::memmove(pending.data(), pending.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    const bool wants_read =
        job.mode == FarMode::echo ? end < capacity : job.mode == FarMode::sink && !finished;
    const bool wants_write =
        job.mode == FarMode::echo ? begin < end : job.mode == FarMode::source && !finished;
    std::array<pollfd, 2> ready{{
        {fd, static_cast<short>((wants_read ? POLLIN : 0) | (wants_write ? POLLOUT : 0)), 0},
        {wake_.get(), POLLIN, 0},
    }};
    if (::poll(ready.data(), ready.size(), tick_ms) < 0 && errno != EINTR) {
      fail_errno("poll on pty master");
    }
    if ((ready[1].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_.get(), &count, sizeof count);
    }
    // A new job's bytes may be waiting already: they belong to it, so take it on first.
    if (generation_.load(std::memory_order_acquire) != seen_generation) {
      continue;
    }
    if (wants_read && (ready[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(fd, pending.data() + end, capacity - end);
      if (n == 0) {
        errno = EPIPE;  // a pty master does not normally see end of file: treat as broken
      }
      if (n <= 0 && (n == 0 || (errno != EAGAIN && errno != EINTR))) {
        fail_errno("read on pty master");
      }
      if (n > 0 && job.mode == FarMode::sink) {
        verifier->check(ByteView{pending.data() + end, static_cast<std::size_t>(n)});
        moved_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        finished = verifier->is_complete();
      } else if (n > 0) {
        end += static_cast<std::size_t>(n);
      }
    }
    if (wants_write && (ready[0].revents & POLLOUT) != 0) {
      const ByteView out =
          job.mode == FarMode::echo
              ? ByteView{pending.data() + begin, end - begin}
              : pattern_.at(job.offset + written, static_cast<std::size_t>(std::min<std::uint64_t>(
                                                      io_chunk, job.total - written)));
      const ssize_t n = ::write(fd, out.data(), out.size());
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        fail_errno("write on pty master");
      }
      if (n > 0 && job.mode == FarMode::echo) {
        begin += static_cast<std::size_t>(n);
      } else if (n > 0) {
        written += static_cast<std::uint64_t>(n);
        finished = written == job.total;
      }
      if (n > 0) {
        moved_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      }
    }
    // Marked with the job's generation: a job started meanwhile is not done by this.
    if (finished && done_generation_.load(std::memory_order_relaxed) != seen_generation) {
      done_generation_.store(seen_generation, std::memory_order_release);
      signal(done_.get());
    }
  }
}

void FarSide::record(std::string_view what) {
  {
    const std::lock_guard lock{mutex_};
    error_ = fmt::format("pty far side ({}): {}", to_string(job_.mode), what);
  }
  has_failed_.store(true, std::memory_order_release);
  signal(done_.get());
}

}  // namespace ttynet::bench
