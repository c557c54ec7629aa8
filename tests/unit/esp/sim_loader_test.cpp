#include "ttynet/esp/sim_loader.hpp"

#include <gtest/gtest.h>

#include "esp_test_support.hpp"

namespace ttynet::esp {
namespace {

using test::Bytes;
using test::words;

struct Fixture {
  explicit Fixture(std::string_view name)
      : chip(**find_chip(name)),
        hardware{SimFlash(4u << 20), SimRegisters(chip, MacAddress{}, chip.default_revision)},
        loader(chip) {
    loader.start_rom(hardware);
  }
  std::vector<Bytes> send(Op op, ByteView data, std::uint32_t checksum = 0,
                          LoaderEffect* effect = nullptr) {
    Bytes packet;
    append_request(packet, op, data, checksum);
    ByteBuffer out;
    const LoaderEffect e = loader.handle_frame(packet, hardware, out);
    if (effect != nullptr) {
      *effect = e;
    }
    test::OutputReader reader;
    reader.feed(out);
    return reader.frames;
  }
  const ChipInfo& chip;
  SimHardware hardware;
  SimLoader loader;
};

TEST(SimLoader, IgnoresFramesThatAreNoCommands) {
  Fixture f("esp32");
  ByteBuffer out;
  EXPECT_EQ(f.loader.handle_frame(Bytes{0x01, 0x08, 0, 0, 0, 0, 0, 0}, f.hardware, out).kind,
            LoaderEffect::Kind::none);
  EXPECT_EQ(f.loader.handle_frame(Bytes{0x00, 0x08}, f.hardware, out).kind,
            LoaderEffect::Kind::none);
  EXPECT_TRUE(out.empty());
}

TEST(SimLoader, ReportsEffectsForTheChipToApply) {
  Fixture f("esp32");
  LoaderEffect effect;
  f.send(Op::change_baudrate, words({921600, 0}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::change_baud);
  EXPECT_EQ(effect.baud, 921600u);
  f.send(Op::mem_end, words({0, 0x40080000}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::none);  // nothing was uploaded
  f.send(Op::mem_begin, words({4, 1, 0x1800, 0x40080000}));
  Bytes block;
  append_data_block(block, 0, Bytes{1, 2, 3, 4});
  f.send(Op::mem_data, block, checksum(Bytes{1, 2, 3, 4}));
  f.send(Op::mem_end, words({1, 0}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::none);  // flag 1: no entry point
  f.send(Op::mem_end, words({0, 0x40080000}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::start_stub);
  f.send(Op::flash_end, words({0}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::reboot);
  f.send(Op::flash_defl_end, words({1}), 0, &effect);
  EXPECT_EQ(effect.kind, LoaderEffect::Kind::run_user_code);
}

TEST(SimLoader, TracksTheConfiguredFlashSize) {
  Fixture f("esp32s3");
  EXPECT_EQ(f.loader.configured_flash_size(), 4u << 20);
  f.loader.start_stub(f.hardware);
  EXPECT_EQ(f.loader.kind(), LoaderKind::stub);
  EXPECT_EQ(f.loader.configured_flash_size(), 64u << 20);
  f.send(Op::spi_set_params, words({0, 2u << 20, 0x10000, 0x1000, 0x100, 0xFFFF}));
  EXPECT_EQ(f.loader.configured_flash_size(), 2u << 20);
}

TEST(SimLoader, ReadFlashOfNothingSendsTheEmptyDigestAtOnce) {
  Fixture f("esp32");
  f.loader.start_stub(f.hardware);
  const auto frames = f.send(Op::read_flash, words({0, 0, 0x1000, 64}));
  ASSERT_EQ(frames.size(), 2u);
  const Md5Digest empty = md5({});
  EXPECT_EQ(frames[1], Bytes(empty.begin(), empty.end()));
  EXPECT_FALSE(f.loader.is_streaming());
}

TEST(SimLoader, ReadFlashWithTooLargeAPacketSendsNothing) {
  Fixture f("esp32");
  f.loader.start_stub(f.hardware);
  EXPECT_EQ(f.send(Op::read_flash, words({0, 0x2000, 0x2000, 64})).size(), 1u);
  EXPECT_FALSE(f.loader.is_streaming());
}

}  // namespace
}  // namespace ttynet::esp
