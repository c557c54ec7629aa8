#include "ttynet/server/device_lease.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;

class DeviceLeaseTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` or `limit`; returns done().
  template <typename Done>
  bool run_until(Done done, std::chrono::milliseconds limit = 2s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_one_for(10ms);
    }
    return done();
  }
  // Starts a wait for `client`; the flag is set when it returns.
  std::shared_ptr<bool> wait_for(DeviceLease& lease, const void* client) {
    auto returned = std::make_shared<bool>(false);
    asio::co_spawn(io_, lease.wait_until_free_for(client),
                   [returned](const std::exception_ptr&) { *returned = true; });
    return returned;
  }

  asio::io_context io_;
  const int flasher_ = 0, typist_ = 0;
};

TEST_F(DeviceLeaseTest, TheHolderIsNeverHeldBackAndOthersAre) {
  DeviceLease lease(io_.get_executor());
  EXPECT_FALSE(lease.is_held_against(&typist_));
  EXPECT_TRUE(lease.take(&flasher_, "10.0.0.1:4000"));
  EXPECT_TRUE(lease.take(&flasher_, "10.0.0.1:4000"));  // again: it goes on
  EXPECT_FALSE(lease.is_held_against(&flasher_));
  EXPECT_TRUE(lease.is_held_against(&typist_));
  EXPECT_EQ(lease.holder_name(), "10.0.0.1:4000");
  EXPECT_FALSE(lease.take(&typist_, "other"));
  EXPECT_EQ(lease.holder_name(), "10.0.0.1:4000");
}

TEST_F(DeviceLeaseTest, AWaiterGoesOnWhenTheHolderReleases) {
  DeviceLease lease(io_.get_executor());
  ASSERT_TRUE(lease.take(&flasher_, "flasher"));
  const auto returned = wait_for(lease, &typist_);
  EXPECT_FALSE(run_until([&] { return *returned; }, 100ms));
  lease.release(&typist_);  // not the holder's: nothing changes
  EXPECT_FALSE(run_until([&] { return *returned; }, 50ms));
  lease.release(&flasher_);
  EXPECT_TRUE(run_until([&] { return *returned; }));
  EXPECT_FALSE(lease.is_held_against(&typist_));
  EXPECT_EQ(lease.holder_name(), "");
}

TEST_F(DeviceLeaseTest, AQuietHolderLosesTheLeaseAfterTheIdleLimit) {
  DeviceLease lease(io_.get_executor(), 300ms);
  ASSERT_TRUE(lease.take(&flasher_, "flasher"));
  const auto start = std::chrono::steady_clock::now();
  const auto returned = wait_for(lease, &typist_);
  // Renewed while it speaks: the waiter stays held past the first limit.
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(run_until([&] { return *returned; }, 150ms));
    lease.renew(&flasher_);
  }
  EXPECT_TRUE(run_until([&] { return *returned; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms);
  EXPECT_FALSE(lease.is_held_against(&typist_));
  EXPECT_TRUE(lease.take(&typist_, "typist"));  // a lapsed lease can be taken
}

TEST_F(DeviceLeaseTest, AFreeLeaseDoesNotHoldAWaiter) {
  DeviceLease lease(io_.get_executor());
  const auto returned = wait_for(lease, &typist_);
  EXPECT_TRUE(run_until([&] { return *returned; }));
}

}  // namespace
}  // namespace ttynet::server
