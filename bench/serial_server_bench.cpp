// serial_server_bench: measures a serial-over-TCP server (ttynet, ser2net, socat, ...) that
// exports pseudo-terminals whose other ends play the device: echo, sink or source (FarSide).
//
//   this process                       server under test
//   +-------------------+   TCP 127.0.0.1  +-------------------+  pty slave
//   | client: raw or    | <--------------> | e.g. ttynet serve | <-----------+
//   | Telnet + RFC 2217 |                  +-------------------+             |
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

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "ttynet/telnet/codec.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Limits and defaults

constexpr std::chrono::seconds server_start_timeout{10};
constexpr std::chrono::seconds server_stop_grace{2};  // SIGTERM, then SIGKILL
constexpr std::chrono::seconds message_timeout{2};    // one RTT message
constexpr std::chrono::seconds negotiation_timeout{5};
constexpr std::chrono::seconds close_timeout{2};  // waiting for the server's FIN
// The throughput phase fails below ~0.25 MB/s: 30 s plus 4 s per MiB.
constexpr std::chrono::seconds throughput_base_timeout{30};
constexpr std::chrono::seconds throughput_timeout_per_mib{4};
// Hard stop for the pty far-side threads, whatever happens to the main thread.
constexpr std::chrono::minutes far_side_lifetime{30};
// Safety net on every event loop, on top of its deadline.
constexpr std::uint64_t max_loop_rounds = 100'000'000;

constexpr std::size_t rtt_message_size = 32;
constexpr std::size_t io_chunk = std::size_t{64} * 1024;
// Client output encoded and ready for the socket, at most.
constexpr std::size_t max_queued_output = std::size_t{256} * 1024;
constexpr std::uint32_t line_baud = 115200;
// The echo buffers up to this much; the client's window stays below it (see FarSide).
constexpr std::size_t echo_capacity = std::size_t{1024} * 1024;
constexpr std::uint64_t max_window_kib = echo_capacity / 1024 / 2;

// ---------------------------------------------------------------------------------------------
// Errors and small helpers

class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw BenchError(fmt::format(format, std::forward<Args>(args)...));
}

// Call right after the failing call: reads errno.
[[noreturn]] void fail_errno(std::string_view what) {
  const int error = errno;
  throw BenchError(fmt::format("{}: {}", what, std::strerror(error)));
}

class Deadline {
 public:
  explicit Deadline(Clock::duration budget) : at_{Clock::now() + budget} {}
  bool passed() const { return Clock::now() >= at_; }
  // Milliseconds to pass to poll(), rounded up so a wait never ends just short of the deadline.
  int poll_ms() const {
    const auto left = at_ - Clock::now();
    if (left <= Clock::duration::zero()) {
      return 0;
    }
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

 private:
  Clock::time_point at_;
};

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_{fd} {}
  UniqueFd(UniqueFd&& other) noexcept : fd_{std::exchange(other.fd_, -1)} {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The test payload: a fixed pseudo-random block holding every byte value, repeated. Its length
// is prime so that chunk boundaries and the repetition never line up, and a lost, doubled or
// reordered chunk shows as a mismatch.
class Pattern {
 public:
  Pattern() : block_(65521) {
    for (std::size_t i = 0; i < 256; ++i) {
      block_[i] = static_cast<Byte>(i);
    }
    std::uint32_t state = 0x9E3779B9u;
    for (std::size_t i = 256; i < block_.size(); ++i) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      block_[i] = static_cast<Byte>(state >> 24);
    }
  }
  // The longest run of the endless pattern starting at `offset`, at most `limit` bytes.
  ByteView at(std::uint64_t offset, std::size_t limit) const {
    const std::size_t start = static_cast<std::size_t>(offset % block_.size());
    return ByteView{block_}.subspan(start, std::min(limit, block_.size() - start));
  }

 private:
  ByteBuffer block_;
};

// Checks received bytes against the pattern from a given offset on.
class Verifier {
 public:
  Verifier(const Pattern& pattern, std::uint64_t start, std::uint64_t expected)
      : pattern_{pattern}, next_{start}, end_{start + expected} {}

  void check(ByteView data) {
    while (!data.empty()) {
      if (next_ >= end_) {
        fail("received more bytes than were sent (unexpected data from server)");
      }
      const ByteView want = pattern_.at(
          next_, static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), end_ - next_)));
      const ByteView got = data.first(want.size());
      const auto [want_it, got_it] = std::mismatch(want.begin(), want.end(), got.begin());
      if (want_it != want.end()) {
        const auto index = static_cast<std::uint64_t>(want_it - want.begin());
        fail("received data differs at payload byte {}: sent 0x{:02X}, got 0x{:02X}", next_ + index,
             *want_it, *got_it);
      }
      next_ += want.size();
      data = data.subspan(want.size());
    }
  }
  bool is_complete() const { return next_ == end_; }
  std::uint64_t position() const { return next_; }

 private:
  const Pattern& pattern_;
  std::uint64_t next_;
  std::uint64_t end_;
};

// ---------------------------------------------------------------------------------------------
// Pseudo-terminal, and the device on its master side

struct Pty {
  UniqueFd master;
  // Kept open for the whole run: the master then never sees a hang-up when the server closes
  // the device between connections, and the raw settings below stay in force.
  UniqueFd slave;
  std::string slave_path;
};

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

// What the far side of the pty does: the device at the other end of the serial line.
enum class FarMode {
  echo,    // writes every byte back (a UART with TX wired to RX)
  sink,    // reads and verifies a known amount of the pattern (network to device)
  source,  // writes a known amount of the pattern (device to network)
};

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

// A thread on the pty master playing the device, in one FarMode at a time, until stopped (or
// far_side_lifetime passes). It starts in echo mode; start() switches it.
class FarSide {
 public:
  FarSide(int master_fd, const Pattern& pattern)
      : pattern_{pattern},
        wake_{make_eventfd()},
        done_{make_eventfd()},
        thread_{[this, master_fd](const std::stop_token& stop) { run(master_fd, stop); }} {}
  ~FarSide() {
    thread_.request_stop();
    signal(wake_.get());
    thread_.join();
  }
  FarSide(const FarSide&) = delete;
  FarSide& operator=(const FarSide&) = delete;

  // Switches to `mode`; sink and source move pattern bytes [offset, offset + total). Call only
  // when nothing is in flight: the previous job is done, or the echo has returned everything.
  void start(FarMode mode, std::uint64_t offset = 0, std::uint64_t total = 0) {
    {
      const std::lock_guard lock{mutex_};
      job_ = Job{mode, offset, total};
    }
    moved_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    signal(wake_.get());
  }
  // The sink or source job has moved all its bytes (and the sink verified them).
  bool is_done() const {
    return done_generation_.load(std::memory_order_acquire) ==
           generation_.load(std::memory_order_relaxed);
  }
  // Readable when a job is done or the thread failed; for the client's poll().
  int done_fd() const { return done_.get(); }
  // Bytes read (sink), written (source) or written back (echo) since the last start().
  std::uint64_t bytes_moved() const { return moved_.load(std::memory_order_relaxed); }
  std::string error() const {
    const std::lock_guard lock{mutex_};
    return error_;
  }
  // Fails with the thread's error, if it had one.
  void check() const {
    if (has_failed_.load(std::memory_order_acquire)) {
      fail("{}", error());
    }
  }

 private:
  struct Job {
    FarMode mode = FarMode::echo;
    std::uint64_t offset = 0;
    std::uint64_t total = 0;
  };

  static UniqueFd make_eventfd() {
    UniqueFd fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    if (fd.get() < 0) {
      fail_errno("eventfd");
    }
    return fd;
  }
  static void signal(int fd) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
  }

  void run(int fd, const std::stop_token& stop) {
    try {
      serve(fd, stop);
    } catch (const BenchError& error) {
      record(error.what());
    }
  }

  // Echo: reads and writes at the same time. A server may write the device faster than it
  // reads it back (socat moves 8 KiB one way, the 4 KiB that n_tty holds the other), and then
  // blocks in write() while the echo waits for it to read: so the echo keeps reading into a
  // buffer, and the client's window keeps that buffer from filling.
  void serve(int fd, const std::stop_token& stop) {
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
      if (const unsigned now = generation_.load(std::memory_order_acquire);
          now != seen_generation) {
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
        const ByteView out = job.mode == FarMode::echo
                                 ? ByteView{pending.data() + begin, end - begin}
                                 : pattern_.at(job.offset + written,
                                               static_cast<std::size_t>(std::min<std::uint64_t>(
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
  void record(std::string_view what) {
    {
      const std::lock_guard lock{mutex_};
      error_ = fmt::format("pty far side ({}): {}", to_string(job_.mode), what);
    }
    has_failed_.store(true, std::memory_order_release);
    signal(done_.get());
  }

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

// ---------------------------------------------------------------------------------------------
// The server under test: a child process in its own process group

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "serial-bench.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      fail_errno("mkdtemp");
    }
    path_ = pattern;
  }
  // Kept when an error is propagating, so the server log can be read afterwards.
  ~TempDir() {
    if (std::uncaught_exceptions() == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exited with status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {}", WTERMSIG(status));
  }
  return fmt::format("changed state ({:#x})", status);
}

class ServerProcess {
 public:
  // Runs `command` through /bin/sh with `exec`, so the shell is replaced and pid() is the
  // server itself. stdout and stderr go to `log`.
  ServerProcess(const std::string& command, const std::filesystem::path& log) {
    const std::string shell_command = "exec " + command;
    const std::string log_path = log.string();
    // Everything the child needs is prepared before fork(): after it only async-signal-safe
    // calls are allowed, as this process has threads.
    pid_ = ::fork();
    if (pid_ < 0) {
      fail_errno("fork");
    }
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int in = ::open("/dev/null", O_RDONLY);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
      if (in >= 0) {
        ::dup2(in, STDIN_FILENO);
      }
      ::execl("/bin/sh", "sh", "-c", shell_command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from the parent, so kill(-pid) works whoever runs first
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }

  // How the server ended, or nothing while it runs.
  std::optional<std::string> exit_status() {
    if (!reaped_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        status_ = status;
      }
    }
    if (!reaped_) {
      return std::nullopt;
    }
    return describe_wait_status(status_);
  }

  // SIGTERM to the process group, SIGKILL if it is still there after the grace period.
  void stop() {
    if (reaped_ || pid_ <= 0) {
      return;
    }
    ::kill(-pid_, SIGTERM);
    if (wait_exit(server_stop_grace)) {
      return;
    }
    ::kill(-pid_, SIGKILL);
    wait_exit(server_stop_grace);
  }

 private:
  bool wait_exit(Clock::duration budget) {
    const Deadline deadline{budget};
    for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
      if (exit_status()) {
        return true;
      }
      if (deadline.passed()) {
        return false;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// A free TCP port on 127.0.0.1, found by binding port 0. Another process could take it before
// the server does; the startup wait then fails clearly.
std::uint16_t pick_free_port() {
  const UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0) {
    fail_errno("socket");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    fail_errno("bind 127.0.0.1:0");
  }
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    fail_errno("getsockname");
  }
  return ntohs(address.sin_port);
}

// True when some socket listens on `port` (any address, IPv4 or IPv6). Looking in /proc rather
// than connecting: a probe connection would use up a server that serves one connection only
// (socat without `fork`).
bool is_listening(std::uint16_t port) {
  constexpr std::string_view listen_state = "0A";
  const std::string port_hex = fmt::format(":{:04X}", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in{table};
    std::string line;
    std::getline(in, line);  // header
    for (int row = 0; row < 1'000'000 && std::getline(in, line); ++row) {
      std::istringstream fields{line};
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == listen_state && local.ends_with(port_hex)) {
        return true;
      }
    }
  }
  return false;
}

void wait_until_listening(ServerProcess& server, std::uint16_t port) {
  const Deadline deadline{server_start_timeout};
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    if (is_listening(port)) {
      return;
    }
    if (server.exit_status()) {
      fail("server ended before listening");
    }
    if (deadline.passed()) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  fail("server did not listen on port {} within {} s", port, server_start_timeout.count());
}

// ---------------------------------------------------------------------------------------------
// Process accounting from /proc

struct ProcStat {
  pid_t ppid = 0;
  std::uint64_t children_ticks = 0;  // cutime + cstime of reaped children
};

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::ifstream in{fmt::format("/proc/{}/stat", pid)};
  std::string text;
  if (!std::getline(in, text)) {
    return std::nullopt;
  }
  // The command name is in parentheses and may contain anything; fields resume after the last ')'.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields{text.substr(close + 1)};
  std::vector<std::string> values;  // from field 3 (state) on
  std::string value;
  for (int i = 0; i < 16 && fields >> value; ++i) {
    values.push_back(value);
  }
  if (values.size() < 16) {
    return std::nullopt;
  }
  const auto number = [&](std::size_t field) {  // field numbers as in proc(5)
    return std::strtoull(values[field - 3].c_str(), nullptr, 10);
  };
  ProcStat stat;
  stat.ppid = static_cast<pid_t>(number(4));
  stat.children_ticks = number(16) + number(17);
  return stat;
}

// `root` and all its live descendants.
std::vector<pid_t> process_tree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator{"/proc", ec}) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{}) {
      continue;
    }
    if (auto stat = read_proc_stat(pid)) {
      children[stat->ppid].push_back(pid);
    }
  }
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size() && i < 100'000; ++i) {
    if (auto it = children.find(tree[i]); it != children.end()) {
      tree.insert(tree.end(), it->second.begin(), it->second.end());
    }
  }
  return tree;
}

// Nanoseconds the threads of `pid` have run so far, from /proc/PID/task/TID/schedstat (whose
// first field is measured, unlike the tick-sampled utime and stime). Threads that already ended
// are not counted: the servers measured here keep theirs for the whole run.
std::uint64_t run_time_ns(pid_t pid) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator{fmt::format("/proc/{}/task", pid), ec}) {
    std::ifstream in{task.path() / "schedstat"};
    std::uint64_t ns = 0;
    if (in >> ns) {
      total += ns;
    }
  }
  return total;
}

// CPU seconds used so far by the server and its live descendants, plus the user+system time of
// the children it has reaped (tick resolution).
double server_cpu_seconds(pid_t root) {
  std::uint64_t ns = 0;
  std::uint64_t ticks = 0;
  for (pid_t pid : process_tree(root)) {
    if (auto stat = read_proc_stat(pid)) {
      ns += run_time_ns(pid);
      ticks += stat->children_ticks;
    }
  }
  return static_cast<double>(ns) * 1e-9 +
         static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Peak resident set (VmHWM) in KiB, summed over the process tree.
std::uint64_t server_peak_rss_kib(pid_t root) {
  std::uint64_t total = 0;
  for (pid_t pid : process_tree(root)) {
    std::ifstream in{fmt::format("/proc/{}/status", pid)};
    std::string line;
    for (int row = 0; row < 1000 && std::getline(in, line); ++row) {
      if (line.starts_with("VmHWM:")) {
        total += std::strtoull(line.c_str() + 6, nullptr, 10);
        break;
      }
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Client side: a TCP connection speaking raw bytes or Telnet with COM-PORT-OPTION

enum class Protocol { raw, rfc2217 };

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::raw ? "raw" : "rfc2217";
}

// RFC 2217 client-to-server commands used here; the server acknowledges with code + 100.
namespace com_port {
inline constexpr Byte set_baudrate = 1;
inline constexpr Byte set_datasize = 2;
inline constexpr Byte set_parity = 3;
inline constexpr Byte set_stopsize = 4;
inline constexpr Byte server_offset = 100;
inline constexpr Byte parity_none = 1;
inline constexpr Byte stopsize_one = 1;
inline constexpr Byte data_bits = 8;
inline constexpr unsigned all_settings_acknowledged = 0b1111;  // bit (command - 1)
}  // namespace com_port

// What the client agrees to, as pyserial's rfc2217 client does: BINARY and SGA both ways,
// the server's ECHO, COM-PORT both ways.
constexpr std::array client_options{
    telnet::OptionSupport{telnet::option::binary, true, true},
    telnet::OptionSupport{telnet::option::sga, true, true},
    telnet::OptionSupport{telnet::option::echo, false, true},
    telnet::OptionSupport{telnet::option::com_port, true, true},
};

class Connection {
 public:
  // Connects to 127.0.0.1:port, retrying a refused connection until the deadline.
  Connection(std::uint16_t port, Protocol protocol, const Deadline& deadline) : rx_(io_chunk) {
    for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
      if (try_connect(port, deadline)) {
        break;
      }
      if (deadline.passed()) {
        fail("connect to 127.0.0.1:{}: timed out", port);
      }
      std::this_thread::sleep_for(10ms);
    }
    if (protocol == Protocol::rfc2217) {
      codec_.emplace(client_options);
      // The opening pyserial sends: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT.
      codec_->request(telnet::option::echo, telnet::Side::remote, true);
      codec_->request(telnet::option::sga, telnet::Side::local, true);
      codec_->request(telnet::option::sga, telnet::Side::remote, true);
      codec_->request(telnet::option::com_port, telnet::Side::remote, true);
      codec_->request(telnet::option::com_port, telnet::Side::local, true);
    }
  }

  int fd() const { return fd_.get(); }

  void send_data(ByteView data) {
    if (codec_) {
      codec_->send_data(data);
    } else {
      append(raw_out_, data);
    }
  }
  std::size_t queued_output() const {
    return codec_ ? codec_->pending_output_size() : raw_out_.size() - raw_out_start_;
  }

  // Writes as much queued output as the socket takes now.
  void write_some() {
    for (int round = 0; round < 64; ++round) {
      const ByteView out = pending();
      if (out.empty()) {
        return;
      }
      const ssize_t n = ::send(fd_.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          return;
        }
        fail_errno("send to server");
      }
      consume(static_cast<std::size_t>(n));
    }
  }

  // Reads what the socket has now; data bytes go to on_data. False at end of stream.
  bool read_some(const std::function<void(ByteView)>& on_data) {
    const ssize_t n = ::recv(fd_.get(), rx_.data(), rx_.size(), 0);
    if (n == 0) {
      return false;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      if (errno == ECONNRESET) {
        return false;
      }
      fail_errno("recv from server");
    }
    const ByteView input{rx_.data(), static_cast<std::size_t>(n)};
    if (!codec_) {
      on_data(input);
      return true;
    }
    codec_->receive(input);
    for (int i = 0; i < 1'000'000; ++i) {
      auto event = codec_->next_event();
      if (!event) {
        break;
      }
      if (const auto* data = std::get_if<telnet::DataReceived>(&*event)) {
        on_data(data->data);
      } else if (const auto* change = std::get_if<telnet::OptionChanged>(&*event)) {
        note_option(*change);
      } else if (const auto* sub = std::get_if<telnet::SubnegotiationReceived>(&*event)) {
        note_subnegotiation(*sub);
      }
    }
    return true;
  }

  // RFC 2217 progress.
  bool is_com_port_accepted() const { return com_port_accepted_; }
  bool is_com_port_refused() const { return com_port_refused_; }
  bool are_settings_acknowledged() const {
    return acknowledged_ == com_port::all_settings_acknowledged;
  }
  // SET-BAUDRATE, SET-DATASIZE, SET-PARITY, SET-STOPSIZE back to back, as pyserial does.
  void send_line_settings() {
    const std::array<Byte, 5> baud{com_port::set_baudrate, static_cast<Byte>(line_baud >> 24),
                                   static_cast<Byte>(line_baud >> 16),
                                   static_cast<Byte>(line_baud >> 8), static_cast<Byte>(line_baud)};
    const std::array<Byte, 2> datasize{com_port::set_datasize, com_port::data_bits};
    const std::array<Byte, 2> parity{com_port::set_parity, com_port::parity_none};
    const std::array<Byte, 2> stopsize{com_port::set_stopsize, com_port::stopsize_one};
    for (const ByteView payload :
         {ByteView{baud}, ByteView{datasize}, ByteView{parity}, ByteView{stopsize}}) {
      codec_->send_subnegotiation(telnet::option::com_port, payload);
    }
  }

  // Half-closes and waits (bounded) for the server to close too, so that a server accepting
  // one client at a time is free again before the next connect.
  void close_gracefully() {
    ::shutdown(fd_.get(), SHUT_WR);
    const Deadline deadline{close_timeout};
    for (std::uint64_t round = 0; round < max_loop_rounds && !deadline.passed(); ++round) {
      pollfd readable{fd_.get(), POLLIN, 0};
      if (::poll(&readable, 1, deadline.poll_ms()) <= 0) {
        break;
      }
      const ssize_t n = ::recv(fd_.get(), rx_.data(), rx_.size(), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
    fd_.reset();
  }

 private:
  bool try_connect(std::uint16_t port, const Deadline& deadline) {
    fd_ = UniqueFd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (fd_.get() < 0) {
      fail_errno("socket");
    }
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      return true;
    }
    if (errno == ECONNREFUSED) {
      return false;
    }
    if (errno != EINPROGRESS) {
      fail_errno(fmt::format("connect to 127.0.0.1:{}", port));
    }
    pollfd writable{fd_.get(), POLLOUT, 0};
    if (::poll(&writable, 1, deadline.poll_ms()) <= 0) {
      fail("connect to 127.0.0.1:{}: timed out", port);
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == ECONNREFUSED) {
      return false;
    }
    if (error != 0) {
      fail("connect to 127.0.0.1:{}: {}", port, std::strerror(error));
    }
    return true;
  }

  ByteView pending() {
    return codec_ ? codec_->pending_output() : ByteView{raw_out_}.subspan(raw_out_start_);
  }
  void consume(std::size_t n) {
    if (codec_) {
      codec_->consume_output(n);
      return;
    }
    raw_out_start_ += n;
    if (raw_out_start_ == raw_out_.size()) {
      raw_out_.clear();
      raw_out_start_ = 0;
    }
  }

  void note_option(const telnet::OptionChanged& change) {
    if (change.option != telnet::option::com_port || change.side != telnet::Side::local) {
      return;
    }
    // The server's DO COM-PORT enables our side; DONT (or a WONT-DONT answer) refuses it.
    if (change.enabled) {
      com_port_accepted_ = true;
    } else if (!com_port_accepted_) {
      com_port_refused_ = true;
    }
  }
  void note_subnegotiation(const telnet::SubnegotiationReceived& sub) {
    if (sub.option != telnet::option::com_port || sub.payload.empty()) {
      return;
    }
    const int code = sub.payload[0] - com_port::server_offset;
    if (code >= com_port::set_baudrate && code <= com_port::set_stopsize) {
      acknowledged_ |= 1u << (code - 1);
    }
  }

  UniqueFd fd_;
  std::optional<telnet::Codec> codec_;
  ByteBuffer raw_out_;
  std::size_t raw_out_start_ = 0;
  ByteBuffer rx_;
  bool com_port_accepted_ = false;
  bool com_port_refused_ = false;
  unsigned acknowledged_ = 0;
};

// One connection's part in pump(): before each wait `top_up()` may queue more output, received
// data goes to `on_data`, and the connection is finished once `is_done()` holds.
struct Flow {
  Connection& connection;
  std::function<void()> top_up = [] {};
  std::function<bool()> is_done;
  std::function<void(ByteView)> on_data;
  bool finished = false;
};

// Runs all flows at once until each is done: queued output is written, input read. `wake_fds`
// (FarSide::done_fd) only end a wait early. Fails at the deadline or when the server closes a
// connection.
void pump(std::span<Flow> flows, const Deadline& deadline, std::string_view what,
          std::span<const int> wake_fds = {}) {
  std::vector<pollfd> ready(flows.size() + wake_fds.size());
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    std::size_t open = 0;
    for (std::size_t i = 0; i < flows.size(); ++i) {
      Flow& flow = flows[i];
      // Output queued this round asks for POLLOUT even when the socket took all of it: the
      // next round then tops up again at once.
      bool has_new_output = false;
      if (!flow.finished) {
        const std::size_t queued_before = flow.connection.queued_output();
        flow.top_up();
        has_new_output = flow.connection.queued_output() > queued_before;
        flow.connection.write_some();
        flow.finished = flow.is_done();
      }
      const bool wants_write = flow.connection.queued_output() > 0 || has_new_output;
      open += flow.finished ? 0 : 1;
      ready[i] =
          pollfd{flow.connection.fd(),
                 static_cast<short>(flow.finished ? 0 : POLLIN | (wants_write ? POLLOUT : 0)), 0};
    }
    if (open == 0) {
      return;
    }
    for (std::size_t i = 0; i < wake_fds.size(); ++i) {
      ready[flows.size() + i] = pollfd{wake_fds[i], POLLIN, 0};
    }
    const int n = ::poll(ready.data(), ready.size(), deadline.poll_ms());
    if (n < 0 && errno != EINTR) {
      fail_errno("poll");
    }
    if (n == 0 && deadline.passed()) {
      fail("timed out during {}", what);
    }
    for (std::size_t i = 0; i < flows.size(); ++i) {
      if ((ready[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
          !flows[i].connection.read_some(flows[i].on_data)) {
        fail("server closed the connection during {}", what);
      }
    }
    for (std::size_t i = flows.size(); i < ready.size(); ++i) {
      if ((ready[i].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n_read = ::read(ready[i].fd, &count, sizeof count);
      }
    }
  }
  fail("gave up during {} after {} rounds", what, max_loop_rounds);
}

// Negotiation answers carry no data: the far side only sends what it is asked to.
void reject_data(ByteView data) {
  if (!data.empty()) {
    fail("unexpected {} data bytes from server", data.size());
  }
}

// RFC 2217 start as a Flow: once the server's DO COM-PORT arrives, send the four settings;
// done when all four are acknowledged.
Flow negotiation_flow(Connection& connection) {
  return Flow{
      .connection = connection,
      .top_up =
          [&connection, is_sent = false]() mutable {
            if (connection.is_com_port_refused()) {
              fail("server refused COM-PORT-OPTION (RFC 2217)");
            }
            if (connection.is_com_port_accepted() && !is_sent) {
              connection.send_line_settings();
              is_sent = true;
            }
          },
      .is_done = [&connection] { return connection.are_settings_acknowledged(); },
      .on_data = reject_data,
  };
}

// Negotiates all connections at once, e.g. one.
void negotiate(std::span<Connection* const> connections) {
  std::vector<Flow> flows;
  for (Connection* connection : connections) {
    flows.push_back(negotiation_flow(*connection));
  }
  pump(flows, Deadline{negotiation_timeout}, "RFC 2217 negotiation (waiting for replies 101..104)");
}

// ---------------------------------------------------------------------------------------------
// The phases

double percentile(std::vector<double> sorted, double fraction) {
  if (sorted.empty()) {
    return 0;
  }
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank.
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Connect, negotiate, close `count` times; the time from connect() to the last acknowledgement.
std::vector<double> measure_negotiation(std::uint16_t port, int count) {
  std::vector<double> times_ms;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    Connection connection{port, Protocol::rfc2217, Deadline{negotiation_timeout}};
    Connection* const one[] = {&connection};
    negotiate(one);
    times_ms.push_back(seconds_since(start) * 1e3);
    connection.close_gracefully();
  }
  return times_ms;
}

// Sends `count` 32-byte messages one after the other; each is complete when all 32 bytes are
// back (the far side echoes). Returns the round-trip times in microseconds.
std::vector<double> measure_rtt(Connection& connection, const Pattern& pattern,
                                std::uint64_t& offset, int count) {
  std::vector<double> times_us;
  times_us.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Verifier verifier{pattern, offset, rtt_message_size};
    const Deadline deadline{message_timeout};
    const auto start = Clock::now();
    for (std::size_t queued = 0; queued < rtt_message_size;) {
      const ByteView piece = pattern.at(offset + queued, rtt_message_size - queued);
      connection.send_data(piece);
      queued += piece.size();
    }
    Flow flow{.connection = connection,
              .is_done = [&] { return verifier.is_complete(); },
              .on_data = [&](ByteView data) { verifier.check(data); }};
    pump({&flow, 1}, deadline, "a round trip");
    times_us.push_back(seconds_since(start) * 1e6);
    offset += rtt_message_size;
  }
  return times_us;
}

double bench_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// `total` bytes of the pattern through one port, in the direction the far side's mode gives:
// echo (client -> device -> client, verified by the client), sink (client -> device, verified
// by the far side) or source (device -> client, verified by the client).
class Transfer {
 public:
  Transfer(Connection& connection, FarSide& far_side, const Pattern& pattern, FarMode mode,
           std::uint64_t offset, std::uint64_t total, std::uint64_t window)
      : connection_{connection},
        far_side_{far_side},
        pattern_{pattern},
        mode_{mode},
        offset_{offset},
        total_{total},
        window_{window},
        verifier_{pattern, offset, mode == FarMode::sink ? 0 : total} {}

  void start() { far_side_.start(mode_, offset_, total_); }

  Flow flow() {
    return Flow{.connection = connection_,
                .top_up = [this] { top_up(); },
                .is_done = [this] { return is_done(); },
                .on_data = [this](ByteView data) { verifier_.check(data); }};
  }

  std::string progress() const {
    return fmt::format("{}: queued {} of {} bytes, {} arrived", to_string(mode_), queued_, total_,
                       delivered());
  }

 private:
  bool is_sender() const { return mode_ != FarMode::source; }
  // Payload bytes that reached their verifier.
  std::uint64_t delivered() const {
    return mode_ == FarMode::sink ? far_side_.bytes_moved() : verifier_.position() - offset_;
  }
  // Echo: at most `window` payload bytes are sent and not yet back. This bounds the data parked
  // in every buffer on the path, including the echo's (see FarSide). The sink reads all the
  // time, so there the socket's and the server's own backpressure are the only limit.
  void top_up() {
    for (int i = 0; i < 64 && is_sender() && queued_ < total_ &&
                    connection_.queued_output() < max_queued_output;
         ++i) {
      const std::uint64_t room =
          mode_ == FarMode::echo ? window_ - std::min(window_, queued_ - delivered()) : io_chunk;
      if (room == 0) {
        break;
      }
      const ByteView piece = pattern_.at(
          offset_ + queued_,
          static_cast<std::size_t>(std::min<std::uint64_t>({io_chunk, total_ - queued_, room})));
      connection_.send_data(piece);
      queued_ += piece.size();
    }
  }
  bool is_done() const {
    far_side_.check();
    return mode_ == FarMode::sink ? far_side_.is_done() : verifier_.is_complete();
  }

  Connection& connection_;
  FarSide& far_side_;
  const Pattern& pattern_;
  FarMode mode_;
  std::uint64_t offset_;
  std::uint64_t total_;
  std::uint64_t window_;
  Verifier verifier_;
  std::uint64_t queued_ = 0;
};

struct ThroughputResult {
  double seconds = 0;
  double server_cpu_seconds = 0;
  double bench_cpu_seconds = 0;  // this process: client and far sides
};

// Runs the transfers at once, from the first start() until every byte is verified.
ThroughputResult measure_transfers(std::span<Transfer> transfers, std::span<const int> wake_fds,
                                   std::uint64_t total, const std::function<double()>& server_cpu) {
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  const Deadline deadline{throughput_base_timeout +
                          std::chrono::duration_cast<std::chrono::seconds>(
                              throughput_timeout_per_mib * std::max(1.0, mib))};
  std::vector<Flow> flows;
  for (Transfer& transfer : transfers) {
    flows.push_back(transfer.flow());
  }
  const double cpu_before = server_cpu();
  const double bench_cpu_before = bench_cpu_seconds();
  const auto start = Clock::now();
  for (Transfer& transfer : transfers) {
    transfer.start();
  }
  try {
    pump(flows, deadline, "the throughput phase", wake_fds);
  } catch (const BenchError& error) {
    throw BenchError(fmt::format("{} ({})", error.what(), transfers.front().progress()));
  }
  ThroughputResult result;
  result.seconds = seconds_since(start);
  result.bench_cpu_seconds = bench_cpu_seconds() - bench_cpu_before;
  result.server_cpu_seconds = server_cpu() - cpu_before;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
  std::string server_template;             // --server
  std::optional<Protocol> ser2net_mode;    // --ser2net
  bool ser2net_tuned = false;              // --tuned
  std::string ser2net_binary = "ser2net";  // --ser2net-bin
  std::string ttynet_config_binary;        // --ttynet-config
  std::optional<Protocol> protocol;        // --protocol
  std::string label;                       // --label
  int iterations = 2000;
  int warmup = 200;
  double mib = 16;
  int connects = 20;
  int ports = 1;
  std::uint64_t window_kib = 256;
  bool json = false;
  bool header = true;
};

constexpr int max_ports = 256;

constexpr std::string_view usage_text =
    R"(usage: serial_server_bench (--server TEMPLATE | --ser2net rfc2217|raw [--tuned] |
                            --ttynet-config TTYNET)
                           [--protocol rfc2217|raw] [--label NAME] [--iterations N]
                           [--warmup N] [--mib X] [--window KIB] [--connects N] [--ports N]
                           [--json] [--no-header]

Starts a serial-over-TCP server on fresh pseudo-terminals whose other ends play a device
(echo, sink or source), measures it over 127.0.0.1 and prints one table row (or one JSON
object with --json).

  --server TEMPLATE   command starting the server; {port} and {device} are replaced, e.g.
                        "ttynet serve --bind 127.0.0.1 -p {port} {device}"
                        "socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay {device},raw,echo=0"
                      (a server that serves one connection only must run with --protocol raw)
  --ser2net MODE      run ser2net from a generated config: telnet(rfc2217) or plain tcp accepter
  --tuned             ser2net: chardelay off, 64 KiB buffers, TCP_NODELAY (default: its defaults)
  --ser2net-bin PATH  ser2net executable (default: ser2net)
  --ttynet-config TTYNET
                      run `TTYNET serve --config FILE` from a generated ports.toml: every port
                      in one process, speaking --protocol
  --protocol P        client side: rfc2217 (Telnet + COM-PORT-OPTION) or raw
                      (default: the --ser2net mode; required with --server)
  --label NAME        name of the row (default: derived from the server)
  --iterations N      measured 32-byte round trips (default 2000)
  --warmup N          unmeasured round trips before them (default 200)
  --mib X             MiB per throughput measurement (echo, sink, source; default 16);
                      with --ports, the total over all ports
  --window KIB        throughput: most payload in flight, sent but not verified (default 256)
  --connects N        rfc2217: connections timed for negotiation (default 20)
  --ports N           N ptys served at once (N server processes with --server, else one
                      process serving all), all driven together: negotiation of all N and echo
                      throughput only (default 1: every figure for one port)
  --json              print one JSON object instead of a table row
  --no-header         omit the table header line
)";

Protocol parse_protocol(std::string_view text, std::string_view option) {
  if (text == "rfc2217") {
    return Protocol::rfc2217;
  }
  if (text == "raw") {
    return Protocol::raw;
  }
  fail("{}: expected rfc2217 or raw, got '{}'", option, text);
}

template <typename Number>
Number parse_number(std::string_view text, std::string_view option, Number minimum) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < minimum) {
    fail("{}: expected a number >= {}, got '{}'", option, minimum, text);
  }
  return value;
}

// Returns nothing when --help was asked for.
std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        fail("{} needs a value", arg);
      }
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      return std::nullopt;
    } else if (arg == "--server") {
      options.server_template = value();
    } else if (arg == "--ser2net") {
      options.ser2net_mode = parse_protocol(value(), arg);
    } else if (arg == "--tuned") {
      options.ser2net_tuned = true;
    } else if (arg == "--ser2net-bin") {
      options.ser2net_binary = value();
    } else if (arg == "--ttynet-config") {
      options.ttynet_config_binary = value();
    } else if (arg == "--protocol") {
      options.protocol = parse_protocol(value(), arg);
    } else if (arg == "--label") {
      options.label = value();
    } else if (arg == "--iterations") {
      options.iterations = parse_number(value(), arg, 1);
    } else if (arg == "--warmup") {
      options.warmup = parse_number(value(), arg, 0);
    } else if (arg == "--mib") {
      options.mib = parse_number(value(), arg, 0.0);
      if (options.mib <= 0 || options.mib > 4096) {
        fail("--mib: expected 0 < X <= 4096");
      }
    } else if (arg == "--window") {
      options.window_kib = parse_number<std::uint64_t>(value(), arg, 1);
      if (options.window_kib > max_window_kib) {
        fail("--window: at most {} KiB", max_window_kib);
      }
    } else if (arg == "--connects") {
      options.connects = parse_number(value(), arg, 1);
    } else if (arg == "--ports") {
      options.ports = parse_number(value(), arg, 1);
      if (options.ports > max_ports) {
        fail("--ports: at most {}", max_ports);
      }
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-header") {
      options.header = false;
    } else {
      fail("unknown argument '{}' (see --help)", arg);
    }
  }
  if (!options.server_template.empty() + options.ser2net_mode.has_value() +
          !options.ttynet_config_binary.empty() !=
      1) {
    fail("give exactly one of --server, --ser2net and --ttynet-config (see --help)");
  }
  if (options.ser2net_tuned && !options.ser2net_mode) {
    fail("--tuned applies to --ser2net only");
  }
  if (!options.server_template.empty() &&
      (options.server_template.find("{port}") == std::string::npos ||
       options.server_template.find("{device}") == std::string::npos)) {
    fail("--server: the template needs {{port}} and {{device}}");
  }
  if (!options.protocol) {
    if (!options.ser2net_mode) {
      fail("--protocol is required with --server and --ttynet-config");
    }
    options.protocol = options.ser2net_mode;
  }
  if (options.label.empty()) {
    if (options.ser2net_mode) {
      options.label = options.ser2net_tuned ? "ser2net tuned" : "ser2net defaults";
    } else if (!options.ttynet_config_binary.empty()) {
      options.label = "ttynet --config";
    } else {
      const std::string first =
          options.server_template.substr(0, options.server_template.find(' '));
      options.label = std::filesystem::path{first}.filename().string();
    }
  }
  return options;
}

// A ser2net configuration (YAML, as read by ser2net 4.x): one connection per pty-backed port.
std::string ser2net_config(Protocol mode, bool tuned,
                           std::span<const std::pair<std::uint16_t, std::string>> ports) {
  const std::string tcp = tuned ? "tcp(nodelay)" : "tcp";
  std::string config = "%YAML 1.1\n---\n";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const auto& [port, device] = ports[i];
    const std::string accepter = mode == Protocol::rfc2217
                                     ? fmt::format("telnet(rfc2217),{},127.0.0.1,{}", tcp, port)
                                     : fmt::format("{},127.0.0.1,{}", tcp, port);
    config += fmt::format(
        "connection: &bench{}\n"
        "  accepter: {}\n"
        "  connector: serialdev,{},{}n81,local\n",
        i, accepter, device, line_baud);
    if (tuned) {
      config +=
          "  options:\n"
          "    chardelay: false\n"
          "    dev-to-net-bufsize: 65536\n"
          "    net-to-dev-bufsize: 65536\n";
    }
  }
  return config;
}

// A ttynet ports.toml: one entry per pty-backed port, everything else at its default.
std::string ttynet_config(Protocol mode,
                          std::span<const std::pair<std::uint16_t, std::string>> ports) {
  std::string config =
      fmt::format("[defaults]\nprotocol = \"{}\"\nbind = \"127.0.0.1\"\nbaud = {}\n",
                  to_string(mode), line_baud);
  for (const auto& [port, device] : ports) {
    config += fmt::format("\n[[port]]\ndevice = \"{}\"\ntcp_port = {}\n", device, port);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Output

// One measured figure: its JSON key and its value (nothing when not measured in this run).
struct Figure {
  std::string_view key;
  std::optional<double> value;
  int precision;
};

struct Result {
  std::string label;
  Protocol protocol = Protocol::raw;
  int ports = 1;
  int iterations = 0;
  double mib = 0;
  std::vector<Figure> figures;

  void set(std::string_view key, double value, int precision) {
    figures.push_back(Figure{key, value, precision});
  }
};

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void print_result(const Result& r, const Options& options) {
  const auto value = [](const Figure& figure) {
    return figure.value ? fmt::format("{:.{}f}", *figure.value, figure.precision)
                        : std::string{"null"};
  };
  if (options.json) {
    std::string line = fmt::format(
        "{{\"label\": {}, \"protocol\": \"{}\", \"ports\": {}, \"iterations\": {}, \"mib\": {}",
        json_string(r.label), to_string(r.protocol), r.ports, r.iterations, r.mib);
    for (const Figure& figure : r.figures) {
      line += fmt::format(", \"{}\": {}", figure.key, value(figure));
    }
    fmt::print("{}}}\n", line);
    return;
  }
  if (options.header) {
    std::string titles = "| server | proto | ports |";
    std::string rule = "|---|---|---:|";
    for (const Figure& figure : r.figures) {
      titles += fmt::format(" {} |", figure.key);
      rule += "---:|";
    }
    fmt::print("{}\n{}\n", titles, rule);
  }
  std::string row = fmt::format("| {} | {} | {} |", r.label, to_string(r.protocol), r.ports);
  for (const Figure& figure : r.figures) {
    row += fmt::format(" {} |", figure.value ? value(figure) : std::string{});
  }
  fmt::print("{}\n", row);
}

// ---------------------------------------------------------------------------------------------
// The run

// A pty, the thread playing the device on its far side, and the TCP port exporting it.
struct Device {
  Pty pty;
  std::unique_ptr<FarSide> far_side;
  std::uint16_t port = 0;
  std::size_t server = 0;  // index into Setup::servers
};

// Everything a run needs: devices, and the server processes exporting them.
struct Setup {
  TempDir temp;
  Pattern pattern;
  std::vector<Device> devices;
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::vector<std::filesystem::path> logs;

  double server_cpu_seconds() const {
    double total = 0;
    for (const auto& server : servers) {
      total += ttynet::bench::server_cpu_seconds(server->pid());
    }
    return total;
  }
  std::uint64_t peak_rss_kib() const {
    std::uint64_t total = 0;
    for (const auto& server : servers) {
      total += server_peak_rss_kib(server->pid());
    }
    return total;
  }
  std::vector<int> done_fds() const {
    std::vector<int> fds;
    for (const Device& device : devices) {
      fds.push_back(device.far_side->done_fd());
    }
    return fds;
  }
};

// `count` distinct free ports (the kernel may hand out a port again once it was released).
std::vector<std::uint16_t> pick_free_ports(int count) {
  std::vector<std::uint16_t> ports;
  for (int attempt = 0; attempt < 100 * count && std::ssize(ports) < count; ++attempt) {
    const std::uint16_t port = pick_free_port();
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) {
      ports.push_back(port);
    }
  }
  if (std::ssize(ports) < count) {
    fail("could not find {} free TCP ports", count);
  }
  return ports;
}

// One server process for every device, configured by a file; `{config}` in the command is
// replaced by its path.
void start_configured_server(Setup& setup, const std::string& file_name,
                             const std::string& contents, const std::string& command) {
  const std::filesystem::path config = setup.temp.path() / file_name;
  std::ofstream out{config};
  out << contents;
  out.close();
  if (!out) {
    fail("cannot write {}", config.string());
  }
  setup.logs.push_back(setup.temp.path() / "server.log");
  setup.servers.push_back(std::make_unique<ServerProcess>(
      replace_all(command, "{config}", config.string()), setup.logs.back()));
}

void start_servers(Setup& setup, const Options& options) {
  std::vector<std::pair<std::uint16_t, std::string>> ports;
  for (const Device& device : setup.devices) {
    ports.emplace_back(device.port, device.pty.slave_path);
  }
  if (options.ser2net_mode) {
    // -n: stay in the foreground, -d: log to stdout, -u: no UUCP lock files.
    start_configured_server(setup, "ser2net.yaml",
                            ser2net_config(*options.ser2net_mode, options.ser2net_tuned, ports),
                            fmt::format("{} -n -d -u -P {} -c {{config}}", options.ser2net_binary,
                                        (setup.temp.path() / "ser2net.pid").string()));
    return;
  }
  if (!options.ttynet_config_binary.empty()) {
    start_configured_server(setup, "ports.toml", ttynet_config(*options.protocol, ports),
                            options.ttynet_config_binary + " serve --config {config}");
    return;
  }
  for (Device& device : setup.devices) {
    const std::string command =
        replace_all(replace_all(options.server_template, "{port}", std::to_string(device.port)),
                    "{device}", device.pty.slave_path);
    device.server = setup.servers.size();
    setup.logs.push_back(setup.temp.path() / (setup.devices.size() == 1
                                                  ? std::string{"server.log"}
                                                  : fmt::format("server-{}.log", device.server)));
    setup.servers.push_back(std::make_unique<ServerProcess>(command, setup.logs.back()));
  }
}

// Every figure for one port: negotiation, RTT, throughput echo / sink / source, RSS.
void measure_one_port(Setup& setup, const Options& options, Result& result) {
  const Protocol protocol = *options.protocol;
  Device& device = setup.devices.front();
  ServerProcess& server = *setup.servers.front();
  if (protocol == Protocol::rfc2217) {
    const std::vector<double> times = measure_negotiation(device.port, options.connects);
    result.set("negotiation_ms", percentile(times, 0.5), 3);
  }

  Connection connection{device.port, protocol, Deadline{server_start_timeout}};
  if (protocol == Protocol::rfc2217) {
    Connection* const one[] = {&connection};
    negotiate(one);
  }
  std::uint64_t offset = 0;
  measure_rtt(connection, setup.pattern, offset, options.warmup);
  const std::vector<double> rtt =
      measure_rtt(connection, setup.pattern, offset, options.iterations);
  result.set("rtt_p50_us", percentile(rtt, 0.50), 1);
  result.set("rtt_p99_us", percentile(rtt, 0.99), 1);
  result.set("rtt_max_us", *std::max_element(rtt.begin(), rtt.end()), 1);

  const auto total = static_cast<std::uint64_t>(options.mib * 1024.0 * 1024.0);
  const std::vector<int> wake = setup.done_fds();
  // The JSON keys of each direction; echo keeps the names it had before sink and source.
  struct Direction {
    FarMode mode;
    std::string_view mb_s, cpu, bench_cpu;
  };
  constexpr std::array<Direction, 3> directions{{
      {FarMode::echo, "throughput_mb_s", "cpu_s_per_mib", "bench_cpu_s_per_mib"},
      {FarMode::sink, "net_to_dev_mb_s", "net_to_dev_cpu_s_per_mib",
       "net_to_dev_bench_cpu_s_per_mib"},
      {FarMode::source, "dev_to_net_mb_s", "dev_to_net_cpu_s_per_mib",
       "dev_to_net_bench_cpu_s_per_mib"},
  }};
  for (const Direction& direction : directions) {
    Transfer transfer{connection, *device.far_side,         setup.pattern, direction.mode, offset,
                      total,      options.window_kib * 1024};
    const ThroughputResult measured =
        measure_transfers({&transfer, 1}, wake, total, [&] { return setup.server_cpu_seconds(); });
    offset += total;
    result.set(direction.mb_s, static_cast<double>(total) / measured.seconds / 1e6, 2);
    result.set(direction.cpu, measured.server_cpu_seconds / options.mib, 4);
    result.set(direction.bench_cpu, measured.bench_cpu_seconds / options.mib, 4);
  }
  result.set("peak_rss_kib", static_cast<double>(setup.peak_rss_kib()), 0);
  // Checked before closing: a server that serves one connection (socat) ends with it.
  if (server.exit_status()) {
    fail("server ended during the run");
  }
  connection.close_gracefully();
}

// All ports at once: connect (and negotiate) all, then echo on all together.
void measure_many_ports(Setup& setup, const Options& options, Result& result) {
  const Protocol protocol = *options.protocol;
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<Connection*> pointers;
  const auto start = Clock::now();
  for (const Device& device : setup.devices) {
    connections.push_back(
        std::make_unique<Connection>(device.port, protocol, Deadline{server_start_timeout}));
    pointers.push_back(connections.back().get());
  }
  if (protocol == Protocol::rfc2217) {
    negotiate(pointers);
    result.set("negotiation_ms", seconds_since(start) * 1e3, 3);
  }

  const auto per_port = static_cast<std::uint64_t>(options.mib * 1024.0 * 1024.0 /
                                                   static_cast<double>(options.ports));
  std::vector<Transfer> transfers;
  transfers.reserve(setup.devices.size());
  for (std::size_t i = 0; i < setup.devices.size(); ++i) {
    transfers.emplace_back(*connections[i], *setup.devices[i].far_side, setup.pattern,
                           FarMode::echo, 0, per_port, options.window_kib * 1024);
  }
  const std::uint64_t total = per_port * setup.devices.size();
  const ThroughputResult measured =
      measure_transfers(transfers, {}, total, [&] { return setup.server_cpu_seconds(); });
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  result.set("throughput_mb_s", static_cast<double>(total) / measured.seconds / 1e6, 2);
  result.set("cpu_s_per_mib", measured.server_cpu_seconds / mib, 4);
  result.set("bench_cpu_s_per_mib", measured.bench_cpu_seconds / mib, 4);
  result.set("peak_rss_kib", static_cast<double>(setup.peak_rss_kib()), 0);
  for (const auto& server : setup.servers) {
    if (server->exit_status()) {
      fail("a server ended during the run");
    }
  }
  for (auto& connection : connections) {
    connection->close_gracefully();
  }
}

Result run(const Options& options) {
  Setup setup;
  const std::vector<std::uint16_t> ports = pick_free_ports(options.ports);
  setup.devices.reserve(ports.size());
  for (const std::uint16_t port : ports) {
    Device& device =
        setup.devices.emplace_back(Device{.pty = open_pty(), .far_side = nullptr, .port = port});
    device.far_side = std::make_unique<FarSide>(device.pty.master.get(), setup.pattern);
  }
  start_servers(setup, options);

  Result result;
  result.label = options.label;
  result.protocol = *options.protocol;
  result.ports = options.ports;
  result.iterations = options.iterations;
  result.mib = options.mib;
  try {
    for (const Device& device : setup.devices) {
      wait_until_listening(*setup.servers[device.server], device.port);
    }
    if (options.ports == 1) {
      measure_one_port(setup, options, result);
    } else {
      measure_many_ports(setup, options, result);
    }
  } catch (const BenchError& error) {
    std::string message = error.what();
    for (std::size_t i = 0; i < setup.servers.size(); ++i) {
      if (auto status = setup.servers[i]->exit_status()) {
        message += fmt::format(" (server {} {}, log: {})", i, *status, setup.logs[i].string());
      }
    }
    const Device& first = setup.devices.front();
    message += fmt::format("; pty far side moved {} bytes", first.far_side->bytes_moved());
    for (const Device& device : setup.devices) {
      if (const std::string far_error = device.far_side->error(); !far_error.empty()) {
        message += "; " + far_error;
        break;
      }
    }
    message += fmt::format("; server log: {}", setup.logs.front().string());
    throw BenchError(message);
  }
  return result;
}

}  // namespace
}  // namespace ttynet::bench

int main(int argc, char** argv) {
  using namespace ttynet::bench;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const std::optional<Options> options = parse_options(argc, argv);
    if (!options) {
      fmt::print("{}", usage_text);
      return 0;
    }
    print_result(run(*options), *options);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "serial_server_bench: error: {}\n", error.what());
    return 1;
  }
}
