#include "ttynet/esp/sim_flash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>

#include "esp_test_support.hpp"

namespace ttynet::esp {
namespace {

using test::Bytes;
constexpr std::uint32_t mib = 1u << 20;

Bytes read(const SimFlash& flash, std::uint32_t address, std::size_t length) {
  Bytes out(length);
  flash.read(address, out);
  return out;
}

TEST(SimFlash, StartsErasedWithTheInitialContentsAtTheStart) {
  const SimFlash flash(mib, Bytes{1, 2, 3});
  EXPECT_EQ(flash.size(), mib);
  EXPECT_EQ(read(flash, 0, 4), (Bytes{1, 2, 3, 0xFF}));
  EXPECT_EQ(read(flash, mib - 2, 2), (Bytes{0xFF, 0xFF}));
  EXPECT_FALSE(flash.changes());
}

TEST(SimFlash, JedecIdFollowsTheSize) {
  EXPECT_EQ(SimFlash(1 * mib).jedec_id(), 0x1440EFu);
  EXPECT_EQ(SimFlash(2 * mib).jedec_id(), 0x1540EFu);
  EXPECT_EQ(SimFlash(4 * mib).jedec_id(), 0x1640EFu);  // Winbond EF 40 16
  EXPECT_EQ(SimFlash(8 * mib).jedec_id(), 0x1740EFu);
  EXPECT_EQ(SimFlash(16 * mib).jedec_id(), 0x1840EFu);
}

TEST(SimFlash, ProgrammingOnlyClearsBitsAndEraseSetsThem) {
  SimFlash flash(mib);
  flash.program(0x1000, Bytes{0xF0, 0x0F});
  flash.program(0x1000, Bytes{0x3C, 0xFF});
  EXPECT_EQ(read(flash, 0x1000, 2), (Bytes{0x30, 0x0F}));
  flash.erase_sector(0x1FFF);  // the sector holding the address
  EXPECT_EQ(read(flash, 0x1000, 2), (Bytes{0xFF, 0xFF}));

  flash.program(0x20000, Bytes(16, 0));
  flash.program(0x2FFF0, Bytes(16, 0));
  flash.erase_block(0x25000);
  EXPECT_EQ(read(flash, 0x20000, 1), Bytes{0xFF});
  EXPECT_EQ(read(flash, 0x2FFFF, 1), Bytes{0xFF});
  flash.program(0x30000, Bytes{0});
  flash.erase_chip();
  EXPECT_EQ(read(flash, 0x30000, 1), Bytes{0xFF});
}

TEST(SimFlash, AddressesWrapAtTheSize) {
  SimFlash flash(mib);
  flash.program(mib - 1, Bytes{0x11, 0x22});
  EXPECT_EQ(read(flash, 0, 1), Bytes{0x22});
  EXPECT_EQ(read(flash, 4 * mib, 1), Bytes{0x22});
  EXPECT_EQ(read(flash, mib - 1, 2), (Bytes{0x11, 0x22}));
}

TEST(SimFlash, TracksTheChangedRange) {
  SimFlash flash(mib);
  flash.program(0x2000, Bytes(4, 0));
  EXPECT_EQ(flash.changes(), (SimFlash::Range{0x2000, 0x2004}));
  flash.erase_sector(0x5000);
  EXPECT_EQ(flash.changes(), (SimFlash::Range{0x2000, 0x6000}));
  flash.clear_changes();
  EXPECT_FALSE(flash.changes());
}

TEST(SimFlash, Md5CoversTheRange) {
  SimFlash flash(mib, test::pattern(10000));
  EXPECT_EQ(flash.md5(100, 5000), md5(ByteView{test::pattern(10000)}.subspan(100, 5000)));
}

TEST(SimFlash, AnswersRdidAndSfdp) {
  SimFlash flash(4 * mib);
  EXPECT_EQ(flash.run_command(0x9F, std::nullopt, {}, 3), (Bytes{0xEF, 0x40, 0x16}));
  EXPECT_EQ(flash.run_command(0x5A, 0, {}, 4), (Bytes{'S', 'F', 'D', 'P'}));
  // esptool's XMC check reads SFDP byte 0x10 and only acts on 0x20 (XMC).
  EXPECT_EQ(flash.run_command(0x5A, 0x10, {}, 1), Bytes{0xEF});
  EXPECT_EQ(flash.run_command(0xB9, std::nullopt, {}, 0), Bytes{});
  EXPECT_EQ(flash.run_command(0x42, std::nullopt, {}, 2), (Bytes{0, 0}));
}

TEST(SimFlash, WritesNeedWriteEnable) {
  SimFlash flash(mib);
  flash.run_command(0x02, 0x100, Bytes{0x00}, 0);  // page program without WREN: ignored
  EXPECT_EQ(read(flash, 0x100, 1), Bytes{0xFF});
  flash.run_command(0x06, std::nullopt, {}, 0);
  EXPECT_EQ(flash.run_command(0x05, std::nullopt, {}, 1), Bytes{0x02});  // WEL set
  flash.run_command(0x02, 0x1FF, Bytes{0x01, 0x02}, 0);                  // wraps within the page
  EXPECT_EQ(read(flash, 0x1FF, 1), Bytes{0x01});
  EXPECT_EQ(read(flash, 0x100, 1), Bytes{0x02});
  EXPECT_EQ(flash.run_command(0x05, std::nullopt, {}, 1), Bytes{0x00});  // WEL cleared
  EXPECT_EQ(flash.run_command(0x03, 0x1FF, {}, 1), Bytes{0x01});
  flash.run_command(0x06, std::nullopt, {}, 0);
  flash.run_command(0x20, 0x100, {}, 0);
  EXPECT_EQ(read(flash, 0x1FF, 1), Bytes{0xFF});
  flash.run_command(0x06, std::nullopt, {}, 0);
  flash.run_command(0x31, std::nullopt, Bytes{0x02}, 0);
  EXPECT_EQ(flash.run_command(0x35, std::nullopt, {}, 1), Bytes{0x02});
}

}  // namespace
}  // namespace ttynet::esp
