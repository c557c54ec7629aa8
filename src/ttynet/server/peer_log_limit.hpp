#pragma once
// Rate limits for the log lines any peer can cause (connects, refusals, disconnects, protocol
// errors), so a flood of connections cannot fill the log or push the useful lines out of its
// queue: each peer address has a bucket of lines, and all peers together another; a line over
// either limit is held back and counted. Sans-I/O: the caller passes the time.

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ttynet/util/time.hpp"

namespace ttynet::server {

class PeerLogLimit {
 public:
  // A token bucket: `burst` lines at once, refilled at `per_second`.
  struct Rate {
    double per_second = 0;
    double burst = 0;
  };
  // Far above what people and test suites cause; a flood is thousands of lines a second.
  static constexpr Rate default_per_peer{.per_second = 50, .burst = 500};
  static constexpr Rate default_in_all{.per_second = 200, .burst = 1000};
  static constexpr std::size_t default_max_peers = 1024;

  explicit PeerLogLimit(Rate per_peer = default_per_peer, Rate in_all = default_in_all,
                        std::size_t max_peers = default_max_peers);

  // Whether a line about `peer` ("192.0.2.7:40112", "[2001:db8::1]:4000": the port is
  // ignored) may go to the log at `now`. Beyond max_peers, the peer heard from longest ago is
  // forgotten (it starts again with a full bucket).
  bool allow(std::string_view peer, TimePoint now);
  // Lines held back since the last call.
  std::size_t take_suppressed();

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated{};
    std::list<std::string>::iterator age;  // in by_age_
  };
  static void refill(Bucket& bucket, Rate rate, TimePoint now);

  Rate per_peer_;
  Rate in_all_;
  std::size_t max_peers_;
  Bucket all_;
  bool has_started_ = false;
  std::unordered_map<std::string, Bucket> peers_;
  std::list<std::string> by_age_;  // peer addresses, most recently heard from last
  std::size_t suppressed_ = 0;
};

}  // namespace ttynet::server
