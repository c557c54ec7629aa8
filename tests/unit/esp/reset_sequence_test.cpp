#include "ttynet/esp/reset_sequence.hpp"

#include <gtest/gtest.h>

namespace ttynet::esp {
namespace {

using namespace std::chrono_literals;

TEST(ResetSequence, BuiltInSequencesInTheCustomSyntax) {
  EXPECT_EQ(to_string(classic_reset()), "D0|R1|W0.1|D1|R0|W0.05|D0");
  EXPECT_EQ(to_string(classic_reset(extra_reset_delay)), "D0|R1|W0.1|D1|R0|W0.55|D0");
  EXPECT_EQ(to_string(tight_reset()), "U0,0|U1,1|U0,1|W0.1|U1,0|W0.05|U0,0|D0");
  EXPECT_EQ(to_string(hard_reset()), "R1|W0.1|R0");
  EXPECT_EQ(to_string(usb_jtag_reset()), "R0|D0|W0.1|D1|R0|W0.1|R1|D0|R1|W0.1|D0|R0");
}

TEST(ResetSequence, ClassicRepeatsDtrAfterEachRtsChange) {
  const auto sequence = classic_reset();
  ASSERT_EQ(sequence.size(), 7u);
  EXPECT_TRUE(sequence[1].repeat_dtr);
  EXPECT_TRUE(sequence[4].repeat_dtr);
  EXPECT_FALSE(sequence[0].repeat_dtr);
  EXPECT_EQ(duration(sequence), 150ms);
}

TEST(ResetSequence, WithoutWaitsKeepsEveryLineChangeInOrder) {
  const auto lines_only = without_waits(classic_reset(extra_reset_delay));
  EXPECT_EQ(to_string(lines_only), "D0|R1|D1|R0|D0");
  EXPECT_EQ(duration(lines_only), 0ms);
  EXPECT_TRUE(lines_only[1].repeat_dtr);  // the dummy DTR writes stay: servers count them
  EXPECT_TRUE(lines_only[3].repeat_dtr);
}

TEST(ResetSequence, ParsesEsptoolsExamples) {
  auto parsed = parse_reset_sequence("D0|R1|W0.1|D1|R0|W0.05|D0");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 7u);
  EXPECT_EQ((*parsed)[2].kind, ResetStep::Kind::wait);
  EXPECT_EQ((*parsed)[2].wait, 100ms);
  EXPECT_FALSE((*parsed)[1].repeat_dtr);  // a custom R is a plain RTS write
  EXPECT_EQ(to_string(*parsed), "D0|R1|W0.1|D1|R0|W0.05|D0");

  parsed = parse_reset_sequence(" U1,1 | U0,1|W0.1|U1,0|W0.05|U0,0 ");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(to_string(*parsed), "U1,1|U0,1|W0.1|U1,0|W0.05|U0,0");
  EXPECT_EQ((*parsed)[1], (ResetStep{.kind = ResetStep::Kind::both, .dtr = false, .rts = true}));
}

TEST(ResetSequence, TinyAndLongWaitsPrintAsPlainDecimals) {
  auto parsed = parse_reset_sequence("W0.00004|W4|W01|W0.000|W0.123456789|W4.1");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(to_string(*parsed), "W0.00004|W4|W1|W0|W0.123456789|W4.1");
  EXPECT_TRUE(parse_reset_sequence(to_string(*parsed)).has_value());
}

TEST(ResetSequence, RejectsBadStepsNamingThem) {
  for (const auto* text :
       {"", "D", "D2", "X1", "U1", "U1,2", "W", "W-1", "Wabc", "W11", "D0||D1", "D0|"}) {
    auto parsed = parse_reset_sequence(text);
    EXPECT_FALSE(parsed.has_value()) << text;
  }
  auto parsed = parse_reset_sequence("D0|R1|Q5");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, std::errc::invalid_argument);
  EXPECT_EQ(parsed.error().message,
            "bad reset step 'Q5' (step 3); expected D0/D1, R0/R1, U<0|1>,<0|1> or W<seconds>");
}

}  // namespace
}  // namespace ttynet::esp
