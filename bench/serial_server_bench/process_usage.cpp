// What a server process tree uses, read from /proc: CPU seconds and peak resident memory.

#include "process_usage.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/core.h>

namespace ttynet::bench {

namespace {

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

}  // namespace

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

}  // namespace ttynet::bench
