#include "ttynet/server/device_pump.hpp"

#include <asio/error.hpp>
#include <asio/this_coro.hpp>
#include <memory>

namespace ttynet::server {
namespace {

// Each port keeps its buffer; 16 KiB rather than 64 halves a 64-port server's memory at the
// same throughput and CPU (docs/benchmarks.md), as a tty rarely has more ready at once.
constexpr std::size_t device_read_size = 16 * 1024;

}  // namespace

asio::awaitable<std::error_code> pump_device_output(
    port::Port& device, std::function<asio::awaitable<void>(ByteView)> deliver) {
  // Not zero-filled: the pages of an idle port's buffer are never touched, so hundreds of quiet
  // ports cost little resident memory.
  const auto storage = std::make_unique_for_overwrite<Byte[]>(device_read_size);
  const MutableByteView buffer(storage.get(), device_read_size);
  for (;;) {
    // A cancellation that came while `deliver` waited has been spent on that wait; a read
    // started after it would not see it and could wait for device data forever.
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
      co_return asio::error::operation_aborted;
    auto [ec, n] = co_await device.read_some(buffer);
    if (ec) co_return ec;
    co_await deliver({buffer.data(), n});
  }
}

}  // namespace ttynet::server
