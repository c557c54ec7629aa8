// The server under test: a child process in its own process group, and the wait for it to listen.

#include "server_process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <fmt/core.h>

#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

using namespace std::chrono_literals;

namespace {

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exited with status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {}", WTERMSIG(status));
  }
  return fmt::format("changed state ({:#x})", status);
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

}  // namespace

ServerProcess::ServerProcess(const std::string& command, const std::filesystem::path& log) {
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

std::optional<std::string> ServerProcess::exit_status() {
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

void ServerProcess::stop() {
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

bool ServerProcess::wait_exit(Clock::duration budget) {
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

}  // namespace ttynet::bench
