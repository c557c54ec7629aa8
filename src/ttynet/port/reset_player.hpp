#pragma once
// Plays an Espressif reset sequence (esp/reset_sequence.hpp) on any port: line changes in
// order, waits on a timer (never a sleep, so the event loop keeps serving), both lines in one
// call where the step says so. Used by the flasher on its port and by the server's `--esp`
// handling on the device.

#include <asio/awaitable.hpp>
#include <system_error>

#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/port/port.hpp"

namespace ttynet::port {

// Stops at the first failing step and returns its error. A port without modem lines (a
// pseudo-terminal) keeps the lines locally, so the sequence still runs to the end.
asio::awaitable<std::error_code> play_reset(Port& port, const esp::ResetSequence& sequence);

}  // namespace ttynet::port
