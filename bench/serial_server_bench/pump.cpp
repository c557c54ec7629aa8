// The client's event loop: pump() drives several connections at once, each as a Flow.

#include "pump.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "error.hpp"
#include "limits.hpp"

namespace ttynet::bench {

void pump(std::span<Flow> flows, const Deadline& deadline, std::string_view what,
          std::span<const int> wake_fds) {
  std::vector<pollfd> ready(flows.size() + wake_fds.size());
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    std::size_t open = 0;
    // Input a connection holds already (TLS) makes this round's poll only look, not wait.
    bool has_unread_input = false;
    for (std::size_t i = 0; i < flows.size(); ++i) {
      Flow& flow = flows[i];
      // Output queued this round asks for POLLOUT even when the socket took all of it: the
      // next round then tops up again at once.
      bool has_new_output = false;
      if (!flow.finished) {
        const std::size_t queued_before = flow.connection.queued_output();
        flow.top_up();
        has_new_output = flow.connection.queued_output() > queued_before;
        flow.connection.write_some();
        flow.finished = flow.is_done();
      }
      const bool wants_write = flow.connection.queued_output() > 0 || has_new_output;
      open += flow.finished ? 0 : 1;
      has_unread_input = has_unread_input || (!flow.finished && flow.connection.has_unread_input());
      ready[i] =
          pollfd{flow.connection.fd(),
                 static_cast<short>(flow.finished ? 0 : POLLIN | (wants_write ? POLLOUT : 0)), 0};
    }
    if (open == 0) {
      return;
    }
    for (std::size_t i = 0; i < wake_fds.size(); ++i) {
      ready[flows.size() + i] = pollfd{wake_fds[i], POLLIN, 0};
    }
    const int n = ::poll(ready.data(), ready.size(), has_unread_input ? 0 : deadline.poll_ms());
    if (n < 0 && errno != EINTR) {
      fail_errno("poll");
    }
    if (n == 0 && deadline.passed()) {
      fail("timed out during {}", what);
    }
    for (std::size_t i = 0; i < flows.size(); ++i) {
      const bool is_readable = (ready[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 ||
                               (!flows[i].finished && flows[i].connection.has_unread_input());
      if (is_readable && !flows[i].connection.read_some(flows[i].on_data)) {
        fail("server closed the connection during {}", what);
      }
    }
    for (std::size_t i = flows.size(); i < ready.size(); ++i) {
      if ((ready[i].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n_read = ::read(ready[i].fd, &count, sizeof count);
      }
    }
  }
  fail("gave up during {} after {} rounds", what, max_loop_rounds);
}

}  // namespace ttynet::bench
