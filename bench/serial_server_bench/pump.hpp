#pragma once
// The client's event loop: pump() drives several connections at once, each as a Flow.

#include <functional>
#include <span>
#include <string_view>

#include "connection.hpp"
#include "deadline.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::bench {

// One connection's part in pump(): before each wait `top_up()` may queue more output, received
// data goes to `on_data`, and the connection is finished once `is_done()` holds.
struct Flow {
  Connection& connection;
  std::function<void()> top_up = [] {};
  std::function<bool()> is_done;
  std::function<void(ByteView)> on_data;
  bool finished = false;
};

// Runs all flows at once until each is done: queued output is written, input read (input a
// TLS session holds already without waiting for the socket). `wake_fds` (FarSide::done_fd) only
// end a wait early. Fails at the deadline or when the server closes a
// connection.
void pump(std::span<Flow> flows, const Deadline& deadline, std::string_view what,
          std::span<const int> wake_fds = {});

}  // namespace ttynet::bench
