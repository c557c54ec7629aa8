#pragma once
// The one way a sans-I/O core's output reaches a socket: written straight from the core's
// pending_output() (which stays put while more is queued, see telnet::Codec) and consumed as
// it goes, so no byte is copied on the way out. Used by the server's sessions and by the
// rfc2217:// port.

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <system_error>

#include "ttynet/util/bytes.hpp"

namespace ttynet::port {

// Writes everything `core` has queued, including what is queued while the writes are in
// flight, until nothing is left or a write fails (returns its error). `after_each_write` runs
// once a batch is written and consumed (to wake writers waiting for room). At most one caller
// at a time per core.
template <typename Stream, typename Core, typename AfterWrite>
asio::awaitable<std::error_code> write_output(Stream& stream, Core& core,
                                              AfterWrite after_each_write) {
  for (;;) {
    const ByteView pending = core.pending_output();
    if (pending.empty()) co_return std::error_code{};
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(pending.data(), pending.size()),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
    core.consume_output(n);
    after_each_write();
  }
}

template <typename Stream, typename Core>
asio::awaitable<std::error_code> write_output(Stream& stream, Core& core) {
  co_return co_await write_output(stream, core, [] {});
}

}  // namespace ttynet::port
