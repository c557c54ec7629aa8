#include "ttynet/server/token_hello.hpp"

namespace ttynet::server {

TokenHello::~TokenHello() { clear_token(); }

std::size_t TokenHello::feed(ByteView input) {
  std::size_t used = 0;
  while (used < input.size() && state_ == State::need_more) take(input[used++]);
  return used;
}

std::string_view TokenHello::token() const {
  if (state_ != State::done) return {};
  return {token_.data(), token_size_};
}

void TokenHello::take(Byte byte) {
  ++line_size_;
  if (line_size_ <= keyword.size()) {
    if (byte == static_cast<Byte>(keyword[line_size_ - 1])) return;
    // "TTYNET-TOKEN" and the line's end: the keyword is there, the token is not.
    if (line_size_ == keyword.size() && (byte == '\r' || byte == '\n')) return fail("empty token");
    return fail("no TTYNET-TOKEN line");
  }
  if (saw_cr_) {
    if (byte == '\n') return end_line();
    return fail("token line has a CR not followed by LF");
  }
  if (byte == '\n') return end_line();
  if (byte == '\r') {
    saw_cr_ = true;
  } else if (byte < 0x21 || byte > 0x7E) {
    return fail("token has a character outside printable ASCII");
  } else {
    if (token_size_ < token_.size()) token_[token_size_] = static_cast<char>(byte);
    ++token_size_;
  }
  if (line_size_ == max_line_size) fail("token line longer than 512 bytes");
}

void TokenHello::end_line() {
  if (token_size_ == 0) return fail("empty token");
  if (token_size_ > max_token_size) return fail("token longer than 256 characters");
  state_ = State::done;
}

void TokenHello::fail(std::string_view why) {
  state_ = State::failed;
  error_ = why;
  clear_token();
}

void TokenHello::clear_token() {
  // Through a volatile pointer, so the stores are not dropped as dead.
  volatile char* bytes = token_.data();
  for (std::size_t i = 0; i < token_.size(); ++i) bytes[i] = 0;
}

}  // namespace ttynet::server
