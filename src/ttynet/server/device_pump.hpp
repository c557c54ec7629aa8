#pragma once
// The loop that carries a device's output to whoever serves it: PortHost's device (to its
// client and monitors) and `ttynet forward`'s upstream ports (to their one client).

#include <asio/awaitable.hpp>
#include <functional>
#include <system_error>

#include "ttynet/port/port.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::server {

// Reads `device` until a read fails, handing each chunk to `deliver`, which may wait (a slow
// client holds the reads back, so the device is read no faster than its output is taken).
// Returns the error that ended the reads: asio::error::eof or a device error when the device
// went away, operation_aborted when it was closed or the pump cancelled.
asio::awaitable<std::error_code> pump_device_output(
    port::Port& device, std::function<asio::awaitable<void>(ByteView)> deliver);

}  // namespace ttynet::server
