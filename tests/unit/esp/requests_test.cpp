#include "ttynet/esp/requests.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ttynet::esp {
namespace {

using Bytes = std::vector<Byte>;

// The layouts esptool packs (struct.pack("<IIII", ...) and friends), written out byte by
// byte so the test does not share the encoder's idea of the order.
TEST(LoaderRequests, FlashBeginIsFourWordsAndTheEncryptWordOnlyWhenGiven) {
  const BeginRequest begin{.size = 0x1000, .blocks = 4, .block_size = 0x400, .offset = 0x10000};
  EXPECT_EQ(encode_body(begin),
            (Bytes{0x00, 0x10, 0, 0, 4, 0, 0, 0, 0x00, 0x04, 0, 0, 0x00, 0x00, 0x01, 0x00}));
  BeginRequest with_flag = begin;
  with_flag.encrypted = 1;
  const Bytes five = encode_body(with_flag);
  ASSERT_EQ(five.size(), 20u);
  EXPECT_EQ(Bytes(five.begin() + 16, five.end()), (Bytes{1, 0, 0, 0}));
}

TEST(LoaderRequests, DecodesWhatItEncodes) {
  const BeginRequest begin{1, 2, 3, 4, 5};
  const auto decoded = decode_body<BeginRequest>(encode_body(begin));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size, 1u);
  EXPECT_EQ(decoded->blocks, 2u);
  EXPECT_EQ(decoded->block_size, 3u);
  EXPECT_EQ(decoded->offset, 4u);
  EXPECT_EQ(decoded->encrypted, 5u);

  const SpiSetParamsRequest params{.total_size = 0x400000};
  const auto read_back = decode_body<SpiSetParamsRequest>(encode_body(params));
  ASSERT_TRUE(read_back);
  EXPECT_EQ(read_back->total_size, 0x400000u);
  EXPECT_EQ(read_back->block_size, 0x10000u);
  EXPECT_EQ(read_back->sector_size, 0x1000u);
  EXPECT_EQ(read_back->page_size, 0x100u);
  EXPECT_EQ(read_back->status_mask, 0xFFFFu);

  const auto read = decode_body<ReadFlashRequest>(encode_body(ReadFlashRequest{8, 16, 4096, 64}));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->offset, 8u);
  EXPECT_EQ(read->size, 16u);
  EXPECT_EQ(read->packet_size, 4096u);
  EXPECT_EQ(read->max_in_flight, 64u);
}

TEST(LoaderRequests, AnOptionalWordIsAbsentWhenNotSent) {
  const auto four = decode_body<BeginRequest>(Bytes(16, 0));
  ASSERT_TRUE(four);
  EXPECT_FALSE(four->encrypted);
  const auto attach = decode_body<SpiAttachRequest>(Bytes{1, 0, 0, 0});  // the stub's form
  ASSERT_TRUE(attach);
  EXPECT_EQ(attach->config, 1u);
  EXPECT_FALSE(attach->legacy);
  EXPECT_EQ(encode_body(SpiAttachRequest{}).size(), 8u);  // the ROM's form by default
}

TEST(LoaderRequests, TooFewWordsDecodeToNothingAndExtraWordsAreIgnored) {
  EXPECT_FALSE(decode_body<BeginRequest>(Bytes(15, 0)));
  EXPECT_FALSE(decode_body<Md5Request>(Bytes(12, 0)));
  EXPECT_FALSE(decode_body<ReadRegRequest>(Bytes{}));
  const auto end = decode_body<FlashEndRequest>(Bytes{1, 0, 0, 0, 9, 9, 9, 9, 9});
  ASSERT_TRUE(end);
  EXPECT_EQ(end->run_user_code, 1u);
}

TEST(LoaderRequests, WordsAreLittleEndian) {
  EXPECT_EQ(encode_body(ReadRegRequest{0x40001000}), (Bytes{0x00, 0x10, 0x00, 0x40}));
  EXPECT_EQ(encode_body(ChangeBaudrateRequest{.baud = 921600}),
            (Bytes{0x00, 0x10, 0x0E, 0x00, 0, 0, 0, 0}));
  EXPECT_EQ(encode_body(MemEndRequest{.no_entry = 0, .entry = 0x4009F000}),
            (Bytes{0, 0, 0, 0, 0x00, 0xF0, 0x09, 0x40}));
}

}  // namespace
}  // namespace ttynet::esp
