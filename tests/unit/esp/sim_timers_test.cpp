#include "ttynet/esp/sim_timers.hpp"

#include <chrono>

#include <gtest/gtest.h>

namespace ttynet::esp {
namespace {

using std::chrono::milliseconds;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

TEST(SimTimers, NothingIsDueWhenNoneIsSet) {
  SimTimers timers;
  EXPECT_FALSE(timers.earliest());
}

TEST(SimTimers, TheEarliestIsDueWhateverTheOrderTheyWereSet) {
  SimTimers timers;
  timers.set(SimTimer::reboot, t0 + milliseconds(10));
  timers.set(SimTimer::loader_free, t0 + milliseconds(30));
  timers.set(SimTimer::loader_reply, t0 + milliseconds(5));
  auto due = timers.earliest();
  ASSERT_TRUE(due);
  EXPECT_EQ(due->timer, SimTimer::loader_reply);
  EXPECT_EQ(due->at, t0 + milliseconds(5));
  timers.clear(SimTimer::loader_reply);
  due = timers.earliest();
  ASSERT_TRUE(due);
  EXPECT_EQ(due->timer, SimTimer::reboot);  // before loader_free, although listed after it
}

TEST(SimTimers, ATieGoesToTheTimerListedFirst) {
  SimTimers timers;
  timers.set(SimTimer::loader_free, t0);
  timers.set(SimTimer::loader_reply, t0);
  ASSERT_TRUE(timers.earliest());
  EXPECT_EQ(timers.earliest()->timer, SimTimer::loader_reply);
}

TEST(SimTimers, SettingAgainMovesATimerAndClearAllStopsEvery) {
  SimTimers timers;
  timers.set(SimTimer::app_output, t0);
  timers.set(SimTimer::app_output, t0 + milliseconds(1));
  EXPECT_EQ(timers.at(SimTimer::app_output), t0 + milliseconds(1));
  timers.set(SimTimer::latch_straps, t0);
  timers.clear_all();
  EXPECT_FALSE(timers.is_set(SimTimer::app_output));
  EXPECT_FALSE(timers.earliest());
}

}  // namespace
}  // namespace ttynet::esp
