#include "ttynet/esp/md5.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ttynet::esp {
namespace {

TEST(Md5, MatchesKnownDigests) {
  EXPECT_EQ(to_hex(md5({})), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(to_hex(md5(as_bytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Md5, IncrementalEqualsOneShot) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  Md5 digest;
  digest.update(as_bytes(text.substr(0, 10)));
  digest.update({});
  digest.update(as_bytes(text.substr(10)));
  const Md5Digest result = digest.finish();
  EXPECT_EQ(result, md5(as_bytes(text)));
  EXPECT_EQ(to_hex(result), "9e107d9d372bb6826bd81d3542a419d6");
}

}  // namespace
}  // namespace ttynet::esp
