#include "ttynet/server/peer_log_limit.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + std::chrono::hours{1};

// How many of `count` lines about `peer` at `now` get through.
int allowed(PeerLogLimit& limit, std::string_view peer, int count, TimePoint now) {
  int passed = 0;
  for (int i = 0; i < count; ++i) passed += limit.allow(peer, now) ? 1 : 0;
  return passed;
}

TEST(PeerLogLimit, EachPeerGetsItsBurstThenItsRate) {
  PeerLogLimit limit({.per_second = 2, .burst = 5}, {.per_second = 1000, .burst = 1000});
  EXPECT_EQ(allowed(limit, "192.0.2.7:40000", 8, t0), 5);
  EXPECT_EQ(limit.take_suppressed(), 3u);
  EXPECT_EQ(limit.take_suppressed(), 0u);
  // Another source port of the same address is the same peer; another address is not.
  EXPECT_EQ(allowed(limit, "192.0.2.7:40001", 1, t0), 0);
  EXPECT_EQ(allowed(limit, "[2001:db8::1]:40000", 5, t0), 5);
  EXPECT_EQ(allowed(limit, "192.0.2.7:40002", 3, t0 + 1s), 2);  // refilled at 2 a second
}

TEST(PeerLogLimit, AllPeersTogetherHaveTheirOwnLimit) {
  PeerLogLimit limit({.per_second = 100, .burst = 100}, {.per_second = 10, .burst = 20});
  int passed = 0;
  for (int peer = 0; peer < 50; ++peer) {
    passed += allowed(limit, "198.51.100." + std::to_string(peer) + ":1", 1, t0);
  }
  EXPECT_EQ(passed, 20);
  EXPECT_EQ(limit.take_suppressed(), 30u);
  EXPECT_EQ(allowed(limit, "198.51.100.99:1", 20, t0 + 1s), 10);
}

TEST(PeerLogLimit, ForgetsThePeerHeardFromLongestAgo) {
  PeerLogLimit limit({.per_second = 0, .burst = 1}, {.per_second = 1000, .burst = 1000}, 2);
  EXPECT_TRUE(limit.allow("192.0.2.1:1", t0));
  EXPECT_TRUE(limit.allow("192.0.2.2:1", t0));
  EXPECT_FALSE(limit.allow("192.0.2.1:1", t0));  // its bucket is empty; now the most recent
  EXPECT_TRUE(limit.allow("192.0.2.3:1", t0));   // the map is full: 192.0.2.2 is forgotten
  EXPECT_TRUE(limit.allow("192.0.2.2:1", t0));   // a full bucket again; 192.0.2.1 goes
  EXPECT_TRUE(limit.allow("192.0.2.1:1", t0));
}

}  // namespace
}  // namespace ttynet::server
