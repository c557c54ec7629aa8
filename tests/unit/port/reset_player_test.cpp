#include "ttynet/port/reset_player.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ttynet/port/blocking_port.hpp"

namespace ttynet::port {
namespace {

using namespace std::chrono_literals;

std::string text_of(const ByteBuffer& bytes) { return {bytes.begin(), bytes.end()}; }

std::unique_ptr<BlockingPort> open_chip() {
  auto opened = BlockingPort::open("sim://esp32?boot=app");
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

// Every built-in bootloader sequence brings the simulated chip into download mode.
TEST(ResetPlayer, BootloaderSequencesEnterDownloadMode) {
  for (const auto& sequence : {esp::classic_reset(), esp::tight_reset(),
                               esp::parse_reset_sequence("D0|R1|W0.1|D1|R0|W0.05|D0").value()}) {
    auto chip = open_chip();
    ASSERT_TRUE(chip);
    ASSERT_FALSE(chip->purge(Purge::receive));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_FALSE(chip->run(play_reset(chip->port(), sequence)));
    EXPECT_GE(std::chrono::steady_clock::now() - start, esp::duration(sequence));
    auto log = chip->read_until(as_bytes("waiting for download"), 2s);
    ASSERT_TRUE(log.has_value());
    EXPECT_NE(text_of(*log).find("boot:0x3"), std::string::npos) << esp::to_string(sequence);
    EXPECT_NE(text_of(*log).find("waiting for download"), std::string::npos);
  }
}

TEST(ResetPlayer, HardResetBootsTheApplication) {
  auto chip = open_chip();
  ASSERT_TRUE(chip);
  ASSERT_FALSE(chip->run(play_reset(chip->port(), esp::classic_reset())));
  ASSERT_TRUE(chip->read_until(as_bytes("waiting for download"), 2s).has_value());
  ASSERT_FALSE(chip->run(play_reset(chip->port(), esp::hard_reset())));
  auto log = chip->read_until(as_bytes("boot:0x13"), 2s);
  ASSERT_TRUE(log.has_value());
  EXPECT_NE(text_of(*log).find("boot:0x13"), std::string::npos) << text_of(*log);
  EXPECT_EQ(chip->control_lines(), (ControlLines{.dtr = false, .rts = false}));
}

}  // namespace
}  // namespace ttynet::port
