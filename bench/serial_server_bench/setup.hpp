#pragma once
// What a run measures: ptys with their far sides, and the server processes exporting them.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "device.hpp"
#include "options.hpp"
#include "pattern.hpp"
#include "server_process.hpp"
#include "tls_client.hpp"

namespace ttynet::bench {

// A fresh temporary directory for configs and server logs, removed at the end of a good run.
class TempDir {
 public:
  TempDir();
  // Kept when an error is propagating, so the server log can be read afterwards.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A pty, the thread playing the device on its far side, and the TCP port exporting it.
struct Device {
  Pty pty;
  std::unique_ptr<FarSide> far_side;
  std::uint16_t port = 0;
  std::size_t server = 0;  // index into Setup::servers
};

// Everything a run needs: devices, the server processes exporting them, the client's TLS.
struct Setup {
  TempDir temp;
  Pattern pattern;
  std::vector<Device> devices;
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::vector<std::filesystem::path> logs;  // one per server
  std::optional<TlsContext> tls;            // --tls-ca: every connection speaks TLS

  const TlsContext* tls_context() const { return tls ? &*tls : nullptr; }
  double server_cpu_seconds() const;
  std::uint64_t peak_rss_kib() const;
  std::vector<int> done_fds() const;
};

// Adds `count` devices, each on its own free TCP port.
void open_devices(Setup& setup, int count);

// Starts the servers the options ask for, exporting every device.
void start_servers(Setup& setup, const Options& options);

}  // namespace ttynet::bench
