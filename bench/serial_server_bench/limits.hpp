#pragma once
// Limits and defaults of the bench: timeouts, buffer sizes, the line speed.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ttynet::bench {

inline constexpr std::chrono::seconds server_start_timeout{10};
inline constexpr std::chrono::seconds server_stop_grace{2};  // SIGTERM, then SIGKILL
inline constexpr std::chrono::seconds message_timeout{2};    // one RTT message
inline constexpr std::chrono::seconds negotiation_timeout{5};
inline constexpr std::chrono::seconds close_timeout{2};  // waiting for the server's FIN
// The throughput phase fails below ~0.25 MB/s: 30 s plus 4 s per MiB.
inline constexpr std::chrono::seconds throughput_base_timeout{30};
inline constexpr std::chrono::seconds throughput_timeout_per_mib{4};
// Hard stop for the pty far-side threads, whatever happens to the main thread.
inline constexpr std::chrono::minutes far_side_lifetime{30};
// Safety net on every event loop, on top of its deadline.
inline constexpr std::uint64_t max_loop_rounds = 100'000'000;

inline constexpr std::size_t rtt_message_size = 32;
inline constexpr std::size_t io_chunk = std::size_t{64} * 1024;
// Client output encoded and ready for the socket, at most.
inline constexpr std::size_t max_queued_output = std::size_t{256} * 1024;
inline constexpr std::uint32_t line_baud = 115200;
// The echo buffers up to this much; the client's window stays below it (see FarSide).
inline constexpr std::size_t echo_capacity = std::size_t{1024} * 1024;
inline constexpr std::uint64_t max_window_kib = echo_capacity / 1024 / 2;

}  // namespace ttynet::bench
