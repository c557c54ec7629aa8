#pragma once
// What a server process tree uses, read from /proc: CPU seconds and peak resident memory.

#include <sys/types.h>

#include <cstdint>

namespace ttynet::bench {

// CPU seconds used so far by the server and its live descendants, plus the user+system time of
// the children it has reaped (tick resolution).
double server_cpu_seconds(pid_t root);

// Peak resident set (VmHWM) in KiB, summed over the process tree.
std::uint64_t server_peak_rss_kib(pid_t root);

}  // namespace ttynet::bench
