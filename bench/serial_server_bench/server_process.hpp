#pragma once
// The server under test: a child process in its own process group, and the wait for it to listen.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "deadline.hpp"

namespace ttynet::bench {

class ServerProcess {
 public:
  // Runs `command` through /bin/sh with `exec`, so the shell is replaced and pid() is the
  // server itself. stdout and stderr go to `log`.
  ServerProcess(const std::string& command, const std::filesystem::path& log);
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }

  // How the server ended, or nothing while it runs.
  std::optional<std::string> exit_status();

  // SIGTERM to the process group, SIGKILL if it is still there after the grace period.
  void stop();

 private:
  bool wait_exit(Clock::duration budget);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Waits until some socket listens on `port`; fails if the server ends first or takes longer
// than server_start_timeout.
void wait_until_listening(ServerProcess& server, std::uint16_t port);

}  // namespace ttynet::bench
