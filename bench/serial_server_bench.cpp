// serial_server_bench: measures a serial-over-TCP server (ttynet, ser2net, socat, ...) that
// exports a pseudo-terminal whose other end echoes everything back.
//
//   this process                       server under test
//   +-------------------+   TCP 127.0.0.1  +-------------------+  pty slave
//   | client: raw or    | <--------------> | e.g. ttynet serve | <-----------+
//   | Telnet + RFC 2217 |                  +-------------------+             |
//   +-------------------+                                        pty master  |
//   | echo thread       | <--------------------------------------------------+
//   +-------------------+
//
// Figures: round-trip time of 32-byte messages, echo throughput (verified bit-exact), server
// CPU seconds per MiB echoed, server peak RSS, and for RFC 2217 the time from connect until the
// four line settings are acknowledged. Every wait has a deadline; any failure ends the run with
// one error line and exit status 1.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
#include <mutex>
#include <optional>
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
// Hard stop for the echo thread, whatever happens to the main thread.
constexpr std::chrono::minutes echo_lifetime{30};
// Safety net on every event loop, on top of its deadline.
constexpr std::uint64_t max_loop_rounds = 100'000'000;

constexpr std::size_t rtt_message_size = 32;
constexpr std::size_t io_chunk = std::size_t{64} * 1024;
// Client output encoded and ready for the socket, at most.
constexpr std::size_t max_queued_output = std::size_t{256} * 1024;
constexpr std::uint32_t line_baud = 115200;
// The echo loop buffers up to this much; the client's window stays below it (see EchoLoop).
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
        fail("echoed data differs at payload byte {}: sent 0x{:02X}, got 0x{:02X}", next_ + index,
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
// Pseudo-terminal with an echo loop on the master side

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

// Reads the pty master and writes every byte back, until stopped (or echo_lifetime passes).
class EchoLoop {
 public:
  explicit EchoLoop(int master_fd)
      : thread_{[this, master_fd](const std::stop_token& stop) { run(master_fd, stop); }} {}
  ~EchoLoop() {
    thread_.request_stop();
    thread_.join();
  }
  EchoLoop(const EchoLoop&) = delete;
  EchoLoop& operator=(const EchoLoop&) = delete;

  std::uint64_t bytes_echoed() const { return echoed_.load(std::memory_order_relaxed); }
  std::string error() const {
    const std::lock_guard lock{mutex_};
    return error_;
  }

 private:
  // Reads and writes at the same time, like a UART with its TX wired to RX. A server may write
  // the device faster than it reads it back (socat moves 8 KiB one way, the 4 KiB that n_tty
  // holds the other), and then blocks in write() while the echo waits for it to read: so the
  // echo keeps reading into a buffer, and the client's window keeps that buffer from filling.
  void run(int fd, const std::stop_token& stop) {
    const Deadline lifetime{echo_lifetime};
    constexpr std::size_t capacity = echo_capacity;
    constexpr int tick_ms = 50;  // how soon a stop request is noticed
    std::vector<Byte> pending(capacity);
    std::size_t begin = 0;  // pending[begin, end) not yet written back
    std::size_t end = 0;
    while (!stop.stop_requested() && !lifetime.passed()) {
      if (begin == end) {
        begin = end = 0;
      }
      if (end == capacity && begin > 0) {
        std::memmove(pending.data(), pending.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      }
      const bool can_read = end < capacity;
      const bool can_write = begin < end;
      pollfd ready{fd, static_cast<short>((can_read ? POLLIN : 0) | (can_write ? POLLOUT : 0)), 0};
      if (::poll(&ready, 1, tick_ms) < 0 && errno != EINTR) {
        return record("poll");
      }
      if (can_read && (ready.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t n = ::read(fd, pending.data() + end, capacity - end);
        if (n > 0) {
          end += static_cast<std::size_t>(n);
        } else if (n == 0) {
          errno = EPIPE;  // a pty master does not normally see end of file: treat as broken
          return record("read");
        } else if (errno != EAGAIN && errno != EINTR) {
          return record("read");
        }
      }
      if (begin < end && (ready.revents & POLLOUT) != 0) {
        const ssize_t n = ::write(fd, pending.data() + begin, end - begin);
        if (n > 0) {
          begin += static_cast<std::size_t>(n);
          echoed_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return record("write");
        }
      }
    }
  }
  void record(std::string_view what) {
    const std::lock_guard lock{mutex_};
    error_ = fmt::format("echo loop: {} on pty master: {}", what, std::strerror(errno));
  }

  std::atomic<std::uint64_t> echoed_{0};
  mutable std::mutex mutex_;
  std::string error_;
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
  std::uint64_t own_ticks = 0;       // utime + stime, all threads
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
  stat.own_ticks = number(14) + number(15);
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

// CPU seconds (user + system) used so far by the server, its live descendants and the children
// it has reaped.
double server_cpu_seconds(pid_t root) {
  std::uint64_t ticks = 0;
  for (pid_t pid : process_tree(root)) {
    if (auto stat = read_proc_stat(pid)) {
      ticks += stat->own_ticks + stat->children_ticks;
    }
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
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
  std::size_t queued_output() const { return pending().size(); }

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

  ByteView pending() const {
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

// Runs the connection until `is_done()`: before each wait, `top_up()` may queue more output,
// queued output is written, and received data goes to `on_data`. Fails at the deadline or when
// the server closes the connection.
void pump(
    Connection& connection, const Deadline& deadline, std::string_view what,
    const std::function<bool()>& is_done, const std::function<void(ByteView)>& on_data,
    const std::function<void()>& top_up = [] {}) {
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    top_up();
    connection.write_some();
    if (is_done()) {
      return;
    }
    const bool wants_write = connection.queued_output() > 0;
    pollfd ready{connection.fd(), static_cast<short>(POLLIN | (wants_write ? POLLOUT : 0)), 0};
    const int n = ::poll(&ready, 1, deadline.poll_ms());
    if (n < 0 && errno != EINTR) {
      fail_errno("poll");
    }
    if (n == 0 && deadline.passed()) {
      fail("timed out during {}", what);
    }
    if ((ready.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !connection.read_some(on_data)) {
      fail("server closed the connection during {}", what);
    }
  }
  fail("gave up during {} after {} rounds", what, max_loop_rounds);
}

// Negotiation answers carry no data: the echo only returns what the client sent.
void reject_data(ByteView data) {
  if (!data.empty()) {
    fail("unexpected {} data bytes from server during negotiation", data.size());
  }
}

// RFC 2217 start: wait for the server's DO COM-PORT, send the four settings, wait for the four
// acknowledgements.
void negotiate(Connection& connection) {
  const Deadline deadline{negotiation_timeout};
  pump(
      connection, deadline, "Telnet negotiation (waiting for DO COM-PORT)",
      [&] {
        if (connection.is_com_port_refused()) {
          fail("server refused COM-PORT-OPTION (RFC 2217)");
        }
        return connection.is_com_port_accepted();
      },
      reject_data);
  connection.send_line_settings();
  pump(
      connection, deadline, "RFC 2217 negotiation (waiting for replies 101..104)",
      [&] { return connection.are_settings_acknowledged(); }, reject_data);
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
    negotiate(connection);
    times_ms.push_back(seconds_since(start) * 1e3);
    connection.close_gracefully();
  }
  return times_ms;
}

// Sends `count` 32-byte messages one after the other; each is complete when all 32 bytes are
// back. Returns the round-trip times in microseconds.
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
    pump(
        connection, deadline, fmt::format("round trip {} of {}", i + 1, count),
        [&] { return verifier.is_complete(); }, [&](ByteView data) { verifier.check(data); });
    times_us.push_back(seconds_since(start) * 1e6);
    offset += rtt_message_size;
  }
  return times_us;
}

struct ThroughputResult {
  double seconds = 0;
  double server_cpu_seconds = 0;
  double bench_cpu_seconds = 0;  // this process: client and echo loop
};

double bench_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Sends `total` bytes while reading the echo back, verifying every byte.
ThroughputResult measure_throughput(Connection& connection, const Pattern& pattern,
                                    std::uint64_t& offset, std::uint64_t total,
                                    std::uint64_t window, pid_t server) {
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  const Deadline deadline{throughput_base_timeout +
                          std::chrono::duration_cast<std::chrono::seconds>(
                              throughput_timeout_per_mib * std::max(1.0, mib))};
  Verifier verifier{pattern, offset, total};
  std::uint64_t queued = 0;
  // At most `window` payload bytes are sent and not yet echoed: this bounds the data parked in
  // every buffer on the path, including the echo loop's (see EchoLoop).
  const auto top_up = [&] {
    for (int i = 0; i < 64 && queued < total && connection.queued_output() < max_queued_output;
         ++i) {
      const std::uint64_t in_flight = queued - (verifier.position() - offset);
      if (in_flight >= window) {
        break;
      }
      const ByteView piece =
          pattern.at(offset + queued, static_cast<std::size_t>(std::min<std::uint64_t>(
                                          {io_chunk, total - queued, window - in_flight})));
      connection.send_data(piece);
      queued += piece.size();
    }
  };
  const double cpu_before = server_cpu_seconds(server);
  const double bench_cpu_before = bench_cpu_seconds();
  const auto start = Clock::now();
  try {
    pump(
        connection, deadline, "the throughput phase", [&] { return verifier.is_complete(); },
        [&](ByteView data) { verifier.check(data); }, top_up);
  } catch (const BenchError& error) {
    throw BenchError(fmt::format("{} (queued {} of {} bytes, {} echoed back)", error.what(), queued,
                                 total, verifier.position() - offset));
  }
  ThroughputResult result;
  result.seconds = seconds_since(start);
  result.server_cpu_seconds = server_cpu_seconds(server) - cpu_before;
  result.bench_cpu_seconds = bench_cpu_seconds() - bench_cpu_before;
  offset += total;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
  std::string server_template;             // --server
  std::optional<Protocol> ser2net_mode;    // --ser2net
  bool ser2net_tuned = false;              // --tuned
  std::string ser2net_binary = "ser2net";  // --ser2net-bin
  std::optional<Protocol> protocol;        // --protocol
  std::string label;                       // --label
  int iterations = 2000;
  int warmup = 200;
  double mib = 16;
  int connects = 20;
  std::uint64_t window_kib = 256;
  bool json = false;
  bool header = true;
};

constexpr std::string_view usage_text =
    R"(usage: serial_server_bench (--server TEMPLATE | --ser2net rfc2217|raw [--tuned])
                           [--protocol rfc2217|raw] [--label NAME] [--iterations N]
                           [--warmup N] [--mib X] [--window KIB] [--connects N] [--json]
                           [--no-header]

Starts a serial-over-TCP server on a fresh pseudo-terminal whose other end echoes everything,
then measures it over 127.0.0.1 and prints one table row (or one JSON object with --json).

  --server TEMPLATE   command starting the server; {port} and {device} are replaced, e.g.
                        "ttynet serve --bind 127.0.0.1 -p {port} {device}"
                        "socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay {device},raw,echo=0"
                      (a server that serves one connection only must run with --protocol raw)
  --ser2net MODE      run ser2net from a generated config: telnet(rfc2217) or plain tcp accepter
  --tuned             ser2net: chardelay off, 64 KiB buffers, TCP_NODELAY (default: its defaults)
  --ser2net-bin PATH  ser2net executable (default: ser2net)
  --protocol P        client side: rfc2217 (Telnet + COM-PORT-OPTION) or raw
                      (default: the --ser2net mode; required with --server)
  --label NAME        name of the row (default: derived from the server)
  --iterations N      measured 32-byte round trips (default 2000)
  --warmup N          unmeasured round trips before them (default 200)
  --mib X             MiB echoed in the throughput phase (default 16)
  --window KIB        throughput: most payload in flight, sent but not echoed (default 256)
  --connects N        rfc2217: connections timed for negotiation (default 20)
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
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-header") {
      options.header = false;
    } else {
      fail("unknown argument '{}' (see --help)", arg);
    }
  }
  if (options.server_template.empty() == !options.ser2net_mode) {
    fail("give exactly one of --server TEMPLATE and --ser2net MODE (see --help)");
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
      fail("--protocol is required with --server");
    }
    options.protocol = options.ser2net_mode;
  }
  if (options.label.empty()) {
    if (options.ser2net_mode) {
      options.label = options.ser2net_tuned ? "ser2net tuned" : "ser2net defaults";
    } else {
      const std::string first =
          options.server_template.substr(0, options.server_template.find(' '));
      options.label = std::filesystem::path{first}.filename().string();
    }
  }
  return options;
}

// A ser2net configuration (YAML, as read by ser2net 4.x) for one pty-backed port.
std::string ser2net_config(Protocol mode, bool tuned, std::uint16_t port,
                           const std::string& device) {
  const std::string tcp = tuned ? "tcp(nodelay)" : "tcp";
  const std::string accepter = mode == Protocol::rfc2217
                                   ? fmt::format("telnet(rfc2217),{},127.0.0.1,{}", tcp, port)
                                   : fmt::format("{},127.0.0.1,{}", tcp, port);
  std::string config = fmt::format(
      "%YAML 1.1\n"
      "---\n"
      "connection: &bench\n"
      "  accepter: {}\n"
      "  connector: serialdev,{},{}n81,local\n",
      accepter, device, line_baud);
  if (tuned) {
    config +=
        "  options:\n"
        "    chardelay: false\n"
        "    dev-to-net-bufsize: 65536\n"
        "    net-to-dev-bufsize: 65536\n";
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Output

struct Result {
  std::string label;
  Protocol protocol = Protocol::raw;
  double rtt_p50_us = 0;
  double rtt_p99_us = 0;
  double rtt_max_us = 0;
  double throughput_mb_s = 0;
  double cpu_s_per_mib = 0;
  double bench_cpu_s_per_mib = 0;
  std::uint64_t peak_rss_kib = 0;
  std::optional<double> negotiation_ms;
  int iterations = 0;
  double mib = 0;
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
  const std::string negotiation =
      r.negotiation_ms ? fmt::format("{:.3f}", *r.negotiation_ms) : std::string{};
  if (options.json) {
    fmt::print(
        "{{\"label\": {}, \"protocol\": \"{}\", \"iterations\": {}, \"mib\": {}, "
        "\"rtt_p50_us\": {:.1f}, \"rtt_p99_us\": {:.1f}, \"rtt_max_us\": {:.1f}, "
        "\"throughput_mb_s\": {:.2f}, \"cpu_s_per_mib\": {:.4f}, "
        "\"bench_cpu_s_per_mib\": {:.4f}, \"peak_rss_kib\": {}, \"negotiation_ms\": {}}}\n",
        json_string(r.label), to_string(r.protocol), r.iterations, r.mib, r.rtt_p50_us,
        r.rtt_p99_us, r.rtt_max_us, r.throughput_mb_s, r.cpu_s_per_mib, r.bench_cpu_s_per_mib,
        r.peak_rss_kib, r.negotiation_ms ? negotiation : "null");
    return;
  }
  constexpr std::string_view row =
      "| {:<18} | {:<7} | {:>8} | {:>8} | {:>8} | {:>7} | {:>9} | {:>11} | {:>7} | {:>7} |\n";
  if (options.header) {
    fmt::print(fmt::runtime(row), "server", "proto", "p50 µs", "p99 µs", "max µs", "MB/s",
               "srv s/MiB", "bench s/MiB", "RSS KiB", "nego ms");
    fmt::print("|{:-<20}|{:-<9}|{:->10}|{:->10}|{:->10}|{:->9}|{:->11}|{:->13}|{:->9}|{:->9}|\n",
               "", "", ":", ":", ":", ":", ":", ":", ":", ":");
  }
  fmt::print(fmt::runtime(row), r.label, to_string(r.protocol), fmt::format("{:.1f}", r.rtt_p50_us),
             fmt::format("{:.1f}", r.rtt_p99_us), fmt::format("{:.1f}", r.rtt_max_us),
             fmt::format("{:.2f}", r.throughput_mb_s), fmt::format("{:.4f}", r.cpu_s_per_mib),
             fmt::format("{:.4f}", r.bench_cpu_s_per_mib), r.peak_rss_kib, negotiation);
}

// ---------------------------------------------------------------------------------------------

Result run(const Options& options) {
  const Protocol protocol = *options.protocol;
  TempDir temp;
  const std::filesystem::path log = temp.path() / "server.log";
  Pty pty = open_pty();
  EchoLoop echo{pty.master.get()};

  const std::uint16_t port = pick_free_port();
  std::string command;
  if (options.ser2net_mode) {
    const std::filesystem::path config = temp.path() / "ser2net.yaml";
    std::ofstream out{config};
    out << ser2net_config(*options.ser2net_mode, options.ser2net_tuned, port, pty.slave_path);
    out.close();
    if (!out) {
      fail("cannot write {}", config.string());
    }
    // -n: stay in the foreground, -d: log to stdout, -u: no UUCP lock files.
    command = fmt::format("{} -n -d -u -P {} -c {}", options.ser2net_binary,
                          (temp.path() / "ser2net.pid").string(), config.string());
  } else {
    command = replace_all(replace_all(options.server_template, "{port}", std::to_string(port)),
                          "{device}", pty.slave_path);
  }

  ServerProcess server{command, log};
  Result result;
  result.label = options.label;
  result.protocol = protocol;
  result.iterations = options.iterations;
  result.mib = options.mib;
  try {
    wait_until_listening(server, port);
    if (protocol == Protocol::rfc2217) {
      const std::vector<double> times = measure_negotiation(port, options.connects);
      result.negotiation_ms = percentile(times, 0.5);
    }

    Connection connection{port, protocol, Deadline{server_start_timeout}};
    if (protocol == Protocol::rfc2217) {
      negotiate(connection);
    }
    const Pattern pattern;
    std::uint64_t offset = 0;
    measure_rtt(connection, pattern, offset, options.warmup);
    const std::vector<double> rtt = measure_rtt(connection, pattern, offset, options.iterations);
    result.rtt_p50_us = percentile(rtt, 0.50);
    result.rtt_p99_us = percentile(rtt, 0.99);
    result.rtt_max_us = *std::max_element(rtt.begin(), rtt.end());

    const auto total = static_cast<std::uint64_t>(options.mib * 1024.0 * 1024.0);
    const ThroughputResult throughput = measure_throughput(connection, pattern, offset, total,
                                                           options.window_kib * 1024, server.pid());
    result.throughput_mb_s = static_cast<double>(total) / throughput.seconds / 1e6;
    result.cpu_s_per_mib = throughput.server_cpu_seconds / options.mib;
    result.bench_cpu_s_per_mib = throughput.bench_cpu_seconds / options.mib;
    result.peak_rss_kib = server_peak_rss_kib(server.pid());
    // Checked before closing: a server that serves one connection (socat) ends with it.
    if (server.exit_status()) {
      fail("server ended during the run");
    }
    connection.close_gracefully();
  } catch (const BenchError& error) {
    std::string message = error.what();
    if (auto status = server.exit_status()) {
      message += fmt::format(" (server {})", *status);
    }
    message += fmt::format("; the pty echoed {} bytes", echo.bytes_echoed());
    if (const std::string echo_error = echo.error(); !echo_error.empty()) {
      message += "; " + echo_error;
    }
    message += fmt::format("; server log: {}", log.string());
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
