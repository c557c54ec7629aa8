#pragma once
// The line a client presents right after the TLS handshake on a port with tokens
// (docs/design/security.md, "Who the peer is"): `TTYNET-TOKEN <token>\r\n`, a bare `\n` ending
// accepted too. The token is 1 to 256 printable ASCII characters (0x21 to 0x7E), and the whole
// line at most 512 bytes.
//
// Sans-I/O and incremental: feed() takes the bytes as they come, split anywhere, and stops at
// the end of the line, so the client's data that follows it (sent without waiting for an
// answer) stays with the caller. It fails at the first byte that cannot be part of a valid
// line, except that a token over 256 characters is read on to its line's end (up to the
// 512-byte limit), for the error to say which limit it passed. Memory is the fixed buffer of
// one token. The token is a secret: the error sentences never quote it or any byte received,
// and the buffer is cleared when the parser fails or goes away.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "ttynet/port/token_file.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::server {

class TokenHello {
 public:
  static constexpr std::string_view keyword = port::token_line_keyword;
  static constexpr std::size_t max_token_size = port::max_token_size;
  static constexpr std::size_t max_line_size = 512;  // the line ending included

  enum class State { need_more, done, failed };

  TokenHello() = default;
  ~TokenHello();
  // The token stays in one place, to be cleared once.
  TokenHello(const TokenHello&) = delete;
  TokenHello& operator=(const TokenHello&) = delete;

  // Reads from the start of `input` up to the end of the line (or the byte that makes it
  // fail), and returns how many bytes it took; the rest is the client's. Takes nothing once
  // done or failed.
  std::size_t feed(ByteView input);

  State state() const { return state_; }
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }
  // The token, once done (empty before); valid while this parser lives.
  std::string_view token() const;
  // Why it failed ("no TTYNET-TOKEN line", "token line longer than 512 bytes", ...); empty
  // unless failed.
  std::string_view error() const { return error_; }

 private:
  void take(Byte byte);
  void end_line();
  void fail(std::string_view why);
  void clear_token();

  State state_ = State::need_more;
  std::string_view error_;  // one of the fixed sentences in token_hello.cpp
  std::size_t line_size_ = 0;
  std::size_t token_size_ = 0;  // counted past max_token_size, stored up to it
  bool saw_cr_ = false;
  std::array<char, max_token_size> token_{};
};

}  // namespace ttynet::server
