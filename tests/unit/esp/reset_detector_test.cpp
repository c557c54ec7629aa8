#include "ttynet/esp/reset_detector.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "ttynet/esp/reset_sequence.hpp"

namespace ttynet::esp {
namespace {

using Action = ResetDetector::Action;

// Feeds a sequence's line steps (waits skipped, dummy DTR writes included, as they arrive
// over RFC 2217 one SET-CONTROL each) and returns the actions that were not pass_through.
std::vector<Action> feed(ResetDetector& detector, const ResetSequence& sequence) {
  std::vector<Action> actions;
  const auto note = [&](Action action) {
    if (action != Action::pass_through) actions.push_back(action);
  };
  for (const auto& step : sequence) {
    switch (step.kind) {
      case ResetStep::Kind::dtr:
        note(detector.on_request(step.dtr, std::nullopt));
        break;
      case ResetStep::Kind::rts:
        note(detector.on_request(std::nullopt, step.rts));
        if (step.repeat_dtr) note(detector.on_request(detector.client_lines().dtr, std::nullopt));
        break;
      case ResetStep::Kind::both:
        note(detector.on_request(step.dtr, step.rts));
        break;
      case ResetStep::Kind::wait:
        break;
    }
  }
  return actions;
}

const ControlLines idle_off{.dtr = false, .rts = false};
const ControlLines idle_on{.dtr = true, .rts = true};

TEST(ResetDetector, ClassicResetIsOneBootloaderReset) {
  for (const auto start : {idle_off, idle_on}) {
    ResetDetector detector(start);
    EXPECT_EQ(feed(detector, classic_reset()), std::vector<Action>{Action::bootloader_reset});
    EXPECT_EQ(detector.client_lines(), idle_off);
  }
}

TEST(ResetDetector, SlowClassicResetToo) {
  ResetDetector detector(idle_off);
  EXPECT_EQ(feed(detector, classic_reset(extra_reset_delay)),
            std::vector<Action>{Action::bootloader_reset});
}

TEST(ResetDetector, CustomClassicWithoutDummyWritesToo) {
  ResetDetector detector(idle_on);
  EXPECT_EQ(feed(detector, parse_reset_sequence("D0|R1|W0.1|D1|R0|W0.05|D0").value()),
            std::vector<Action>{Action::bootloader_reset});
}

TEST(ResetDetector, TightResetIsOneBootloaderReset) {
  ResetDetector detector(idle_off);
  EXPECT_EQ(feed(detector, tight_reset()), std::vector<Action>{Action::bootloader_reset});
}

TEST(ResetDetector, HardResetIsOneHardReset) {
  ResetDetector detector(idle_off);
  EXPECT_EQ(feed(detector, hard_reset()), std::vector<Action>{Action::hard_reset});
  EXPECT_EQ(detector.client_lines(), idle_off);
}

TEST(ResetDetector, ConnectThenHardResetAfterwards) {
  // A whole esptool session: open (D1 R1), bootloader reset, work, hard reset.
  ResetDetector detector(idle_off);
  EXPECT_EQ(detector.on_request(true, std::nullopt), Action::pass_through);
  EXPECT_EQ(detector.on_request(std::nullopt, true), Action::pass_through);
  EXPECT_EQ(feed(detector, classic_reset()), std::vector<Action>{Action::bootloader_reset});
  EXPECT_EQ(feed(detector, hard_reset()), std::vector<Action>{Action::hard_reset});
}

TEST(ResetDetector, PyserialOpenAndCloseNeverReset) {
  for (const auto start : {idle_off, idle_on, ControlLines{.dtr = true, .rts = false}}) {
    ResetDetector detector(start);
    EXPECT_EQ(detector.on_request(true, std::nullopt), Action::pass_through);
    EXPECT_EQ(detector.on_request(std::nullopt, true), Action::pass_through);
    // Toggling one line at a time from "both on" never passes through EN low...
    EXPECT_EQ(detector.on_request(std::nullopt, false), Action::pass_through);
    EXPECT_EQ(detector.on_request(false, std::nullopt), Action::pass_through);
    EXPECT_EQ(detector.client_lines(), idle_off);
  }
}

TEST(ResetDetector, HoldingEnLowPassesThrough) {
  ResetDetector detector(idle_off);
  EXPECT_EQ(detector.on_request(std::nullopt, true), Action::pass_through);
  EXPECT_TRUE(pins_for(detector.client_lines()).en_low);
  // Repeats while held change nothing.
  EXPECT_EQ(detector.on_request(false, std::nullopt), Action::pass_through);
  EXPECT_EQ(detector.on_request(std::nullopt, true), Action::pass_through);
}

TEST(ResetDetector, EveryTransitionOutOfEnLow) {
  const ControlLines en_low{.dtr = false, .rts = true};
  struct Case {
    std::optional<bool> dtr, rts;
    Action expected;
  };
  for (const auto& c :
       {Case{true, std::nullopt, Action::bootloader_reset},
        Case{std::nullopt, false, Action::hard_reset}, Case{true, false, Action::bootloader_reset},
        Case{false, false, Action::hard_reset}, Case{true, true, Action::bootloader_reset},
        Case{false, true, Action::pass_through}}) {
    ResetDetector detector(en_low);
    EXPECT_EQ(detector.on_request(c.dtr, c.rts), c.expected);
  }
}

}  // namespace
}  // namespace ttynet::esp
