#include "ttynet/server/peer_log_limit.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

namespace ttynet::server {
namespace {

// "192.0.2.7:40112" -> "192.0.2.7", "[2001:db8::1]:4000" -> "[2001:db8::1]".
std::string_view address_of(std::string_view peer) {
  const auto colon = peer.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return peer;
  if (peer.front() == '[' && peer[colon - 1] != ']') return peer;  // no port after the address
  return peer.substr(0, colon);
}

}  // namespace

PeerLogLimit::PeerLogLimit(Rate per_peer, Rate in_all, std::size_t max_peers)
    : per_peer_(per_peer), in_all_(in_all), max_peers_(std::max<std::size_t>(max_peers, 1)) {
  all_.tokens = in_all_.burst;
}

void PeerLogLimit::refill(Bucket& bucket, Rate rate, TimePoint now) {
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  if (elapsed <= 0) return;
  bucket.tokens = std::min(rate.burst, bucket.tokens + elapsed * rate.per_second);
  bucket.updated = now;
}

bool PeerLogLimit::allow(std::string_view peer, TimePoint now) {
  if (!has_started_) {
    has_started_ = true;
    all_.updated = now;
  }
  std::string address(address_of(peer));
  auto found = peers_.find(address);
  if (found == peers_.end()) {
    if (peers_.size() == max_peers_) {
      peers_.erase(by_age_.front());
      by_age_.pop_front();
    }
    by_age_.push_back(address);
    found =
        peers_.emplace(std::move(address), Bucket{per_peer_.burst, now, std::prev(by_age_.end())})
            .first;
  } else {
    by_age_.splice(by_age_.end(), by_age_, found->second.age);
  }
  Bucket& own = found->second;
  refill(own, per_peer_, now);
  refill(all_, in_all_, now);
  if (own.tokens < 1 || all_.tokens < 1) {
    ++suppressed_;
    return false;
  }
  own.tokens -= 1;
  all_.tokens -= 1;
  return true;
}

std::size_t PeerLogLimit::take_suppressed() { return std::exchange(suppressed_, 0); }

}  // namespace ttynet::server
