// The token line a client presents after the TLS handshake (server/token_hello.cpp), fed in
// pieces whose sizes the input chooses, empty ones included. Invariants: feed() takes no more
// than it is given, and stops short only once done or failed; after that it takes nothing and
// the state stays; the result and the bytes taken do not depend on the split (a parser fed
// the whole input at once agrees); a token is there only when done, 1 to 256 printable ASCII
// characters, and the bytes taken are exactly its line; the line is at most 512 bytes; a
// failure has a reason.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "ttynet/server/token_hello.hpp"

namespace {

using namespace ttynet;
using server::TokenHello;
using ttynet::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fuzz::Choices choices(data[0]);
  const ByteView all{data + 1, size - 1};

  TokenHello hello;
  std::size_t taken = 0;
  ByteView input = all;
  while (!input.empty()) {
    const std::size_t piece =
        choices.next(8) == 0 ? 0 : 1 + choices.next(static_cast<std::uint32_t>(input.size()));
    const auto before = hello.state();
    const std::size_t used = hello.feed(input.first(piece));
    check(used <= piece);
    if (before != TokenHello::State::need_more) check(used == 0 && hello.state() == before);
    if (used < piece) check(hello.state() != TokenHello::State::need_more);
    taken += used;
    input = input.subspan(piece);
  }
  check(taken <= TokenHello::max_line_size);

  TokenHello whole;
  check(whole.feed(all) == taken);
  check(whole.state() == hello.state());
  check(whole.token() == hello.token());
  check(whole.error() == hello.error());

  const std::string_view token = hello.token();
  switch (hello.state()) {
    case TokenHello::State::done: {
      check(!token.empty() && token.size() <= TokenHello::max_token_size);
      check(std::all_of(token.begin(), token.end(), [](char c) { return c >= 0x21 && c <= 0x7E; }));
      check(hello.error().empty());
      const std::string_view line = as_chars(all.first(taken));
      const std::string crlf = std::string(TokenHello::keyword) + std::string(token) + "\r\n";
      check(line == crlf || line == crlf.substr(0, crlf.size() - 2) + "\n");
      break;
    }
    case TokenHello::State::failed:
      check(token.empty() && !hello.error().empty());
      break;
    case TokenHello::State::need_more:
      check(token.empty() && hello.error().empty() && taken == all.size());
      break;
  }
  return 0;
}
