#include "ttynet/server/token_hello.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ttynet::server {
namespace {

using State = TokenHello::State;

const std::string token = "s3cr3t-T0ken_with~punct!";

// The line as a client sends it, spelt out here so the tests pin the format.
std::string line_of(std::string_view presented) {
  return "TTYNET-TOKEN " + std::string(presented) + "\r\n";
}

// Feeds `input` whole; returns how many bytes the parser took.
std::size_t feed(TokenHello& hello, std::string_view input) { return hello.feed(as_bytes(input)); }

// Feeds `input` one byte at a time until the parser stops taking bytes.
std::size_t feed_bytewise(TokenHello& hello, std::string_view input) {
  std::size_t used = 0;
  for (char c : input) {
    const std::size_t took = hello.feed(as_bytes(std::string_view(&c, 1)));
    used += took;
    if (took == 0) break;
  }
  return used;
}

void expect_failure(std::string_view input, std::string_view why) {
  TokenHello whole;
  feed(whole, input);
  EXPECT_EQ(whole.state(), State::failed) << "input: " << input;
  EXPECT_EQ(whole.error(), why);
  EXPECT_TRUE(whole.token().empty());
  TokenHello bytewise;
  feed_bytewise(bytewise, input);
  EXPECT_EQ(bytewise.state(), State::failed);
  EXPECT_EQ(bytewise.error(), why);
}

TEST(TokenHello, ReadsTheLineAndLeavesWhatFollows) {
  const std::string input = line_of(token) + "client data";
  TokenHello hello;
  EXPECT_EQ(hello.state(), State::need_more);
  EXPECT_EQ(feed(hello, input), input.size() - 11);
  EXPECT_TRUE(hello.done());
  EXPECT_EQ(hello.token(), token);
  EXPECT_TRUE(hello.error().empty());
  // Done: nothing more is taken.
  EXPECT_EQ(feed(hello, "more"), 0u);
  EXPECT_EQ(hello.token(), token);
}

TEST(TokenHello, AcceptsABareLineFeed) {
  TokenHello hello;
  EXPECT_EQ(feed(hello, "TTYNET-TOKEN abc\nrest"), 17u);
  EXPECT_TRUE(hello.done());
  EXPECT_EQ(hello.token(), "abc");
}

TEST(TokenHello, AnySplitGivesTheSameResult) {
  const std::string line = line_of(token);
  const std::string input = line + "\x01\x02\r\nTTYNET-TOKEN x\r\n";
  for (std::size_t split = 0; split <= input.size(); ++split) {
    TokenHello hello;
    const std::string_view first = std::string_view(input).substr(0, split);
    const std::string_view second = std::string_view(input).substr(split);
    const std::size_t took_first = feed(hello, first);
    EXPECT_EQ(took_first, std::min(split, line.size())) << split;
    const std::size_t took_second = feed(hello, second);
    EXPECT_EQ(took_first + took_second, line.size()) << split;
    EXPECT_TRUE(hello.done()) << split;
    EXPECT_EQ(hello.token(), token) << split;
    EXPECT_EQ(split<line.size(), took_second> 0) << split;
  }
}

TEST(TokenHello, OneByteAtATime) {
  const std::string input = line_of(token) + "after";
  TokenHello hello;
  std::size_t used = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::size_t took = hello.feed(as_bytes(std::string_view(input).substr(i, 1)));
    if (i < input.size() - 5) {
      EXPECT_EQ(took, 1u) << i;
      EXPECT_EQ(hello.state(), i == input.size() - 6 ? State::done : State::need_more) << i;
    } else {
      EXPECT_EQ(took, 0u) << i;
    }
    used += took;
  }
  EXPECT_EQ(used, input.size() - 5);
  EXPECT_EQ(hello.token(), token);
}

TEST(TokenHello, EmptyInputTakesNothing) {
  TokenHello hello;
  EXPECT_EQ(hello.feed({}), 0u);
  EXPECT_EQ(hello.state(), State::need_more);
  EXPECT_EQ(feed(hello, "TTYNET-TOK"), 10u);
  EXPECT_EQ(hello.state(), State::need_more);
  EXPECT_TRUE(hello.token().empty());
}

TEST(TokenHello, TokenLengthLimits) {
  const std::string longest(TokenHello::max_token_size, 'k');
  TokenHello fits;
  feed(fits, line_of(longest));
  ASSERT_TRUE(fits.done());
  EXPECT_EQ(fits.token(), longest);

  TokenHello shortest;
  feed(shortest, "TTYNET-TOKEN k\n");
  ASSERT_TRUE(shortest.done());
  EXPECT_EQ(shortest.token(), "k");

  expect_failure(line_of(longest + "k"), "token longer than 256 characters");
  expect_failure("TTYNET-TOKEN \r\n", "empty token");
  expect_failure("TTYNET-TOKEN \n", "empty token");
  expect_failure("TTYNET-TOKEN\r\n", "empty token");
  expect_failure("TTYNET-TOKEN\n", "empty token");
}

TEST(TokenHello, LineLengthLimit) {
  // 512 bytes with the line ending: still a line (with a token too long).
  const std::string at_limit =
      "TTYNET-TOKEN " + std::string(TokenHello::max_line_size - 13 - 2, 'k') + "\r\n";
  ASSERT_EQ(at_limit.size(), TokenHello::max_line_size);
  TokenHello hello;
  EXPECT_EQ(feed(hello, at_limit), at_limit.size());
  EXPECT_EQ(hello.error(), "token longer than 256 characters");

  // One byte more: refused at byte 512, before its end.
  const std::string over = "TTYNET-TOKEN " + std::string(TokenHello::max_line_size, 'k') + "\r\n";
  TokenHello too_long;
  EXPECT_EQ(feed(too_long, over), TokenHello::max_line_size);
  EXPECT_EQ(too_long.error(), "token line longer than 512 bytes");
  const std::string cr_at_limit =
      "TTYNET-TOKEN " + std::string(TokenHello::max_line_size - 13 - 1, 'k') + "\r\n";
  TokenHello cr_last;
  EXPECT_EQ(feed(cr_last, cr_at_limit), TokenHello::max_line_size);
  EXPECT_EQ(cr_last.error(), "token line longer than 512 bytes");
  expect_failure(over, "token line longer than 512 bytes");
}

TEST(TokenHello, CharactersOutsidePrintableAscii) {
  for (const std::string_view bad :
       {"TTYNET-TOKEN a b\r\n", "TTYNET-TOKEN  ab\r\n", "TTYNET-TOKEN ab \r\n",
        "TTYNET-TOKEN a\tb\n", "TTYNET-TOKEN a\x7F\n", "TTYNET-TOKEN \xC3\xA9\n",
        "TTYNET-TOKEN \x80\n"}) {
    expect_failure(bad, "token has a character outside printable ASCII");
  }
  expect_failure(std::string_view("TTYNET-TOKEN a\0b\n", 17),
                 "token has a character outside printable ASCII");
  expect_failure("TTYNET-TOKEN abc\rd\n", "token line has a CR not followed by LF");
  expect_failure("TTYNET-TOKEN abc\r\r\n", "token line has a CR not followed by LF");
}

TEST(TokenHello, NotATokenLine) {
  expect_failure("GET / HTTP/1.1\r\n", "no TTYNET-TOKEN line");
  expect_failure("ttynet-token abc\r\n", "no TTYNET-TOKEN line");
  expect_failure("TTYNET-TOKENabc\r\n", "no TTYNET-TOKEN line");
  expect_failure("TTYNET-TOKEN:abc\r\n", "no TTYNET-TOKEN line");
  expect_failure("\r\n", "no TTYNET-TOKEN line");
  expect_failure(" TTYNET-TOKEN abc\r\n", "no TTYNET-TOKEN line");
  // A TLS ClientHello (a TLS client on a plain port, or a second handshake): refused at its
  // first byte, which is all that is taken.
  const std::string client_hello{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11};
  TokenHello hello;
  EXPECT_EQ(feed(hello, client_hello), 1u);
  EXPECT_EQ(hello.error(), "no TTYNET-TOKEN line");
  EXPECT_EQ(feed(hello, client_hello), 0u);
  // A wrong byte after a good start is taken, and nothing after it.
  TokenHello partway;
  EXPECT_EQ(feed(partway, "TTYNET-TOXEN abc"), 10u);
  EXPECT_TRUE(partway.failed());
}

TEST(TokenHello, FailedStaysFailed) {
  TokenHello hello;
  EXPECT_EQ(feed(hello, "TTYNET-TOKEN a b"), 15u);
  ASSERT_TRUE(hello.failed());
  EXPECT_EQ(feed(hello, "\r\nTTYNET-TOKEN ok\r\n"), 0u);
  EXPECT_TRUE(hello.failed());
  EXPECT_TRUE(hello.token().empty());
}

TEST(TokenHello, ErrorsNeverQuoteTheToken) {
  const std::string secret = "HUNTER2-hunter2";
  const std::vector<std::string> inputs{
      "TTYNET-TOKEN " + secret + " \r\n",
      "TTYNET-TOKEN " + secret + "\rX",
      "TTYNET-TOKEN " + secret + std::string(300, 'x') + "\n",
      "TTYNET-TOKEN " + secret + std::string(600, 'x'),
      secret + "\r\n",
  };
  for (const auto& input : inputs) {
    TokenHello hello;
    feed(hello, input);
    ASSERT_TRUE(hello.failed());
    const std::string error(hello.error());
    EXPECT_EQ(error.find("HUNTER"), std::string::npos) << error;
    EXPECT_EQ(error.find("hunter"), std::string::npos) << error;
    EXPECT_EQ(error.find('x'), std::string::npos) << error;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace ttynet::server
