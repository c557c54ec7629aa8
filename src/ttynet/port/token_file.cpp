#include "ttynet/port/token_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ttynet/port/tls.hpp"

namespace ttynet::port {
namespace {

bool is_token_char(char c) { return c >= 0x21 && c <= 0x7E; }

// Closes the file on every way out.
struct OpenFile {
  explicit OpenFile(int descriptor) : fd(descriptor) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
};

}  // namespace

SecretToken::~SecretToken() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Result<std::unique_ptr<SecretToken>, Error> read_token_file(const std::string& path) {
  const auto cannot_read = [&path](int error) {
    return make_error(static_cast<std::errc>(error),
                      fmt::format("cannot read token file {}: {}", path, std::strerror(error)));
  };
  const auto bad = [&path](std::string_view why) {
    return make_error(std::errc::invalid_argument, fmt::format("token file {} {}", path, why));
  };
  // O_NONBLOCK: a FIFO where the file should be must not stop the start.
  OpenFile file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.fd < 0) return cannot_read(errno);
  // The mode of the file opened, not of whatever the path names a moment later.
  struct stat status {};
  if (::fstat(file.fd, &status) != 0) return cannot_read(errno);
  if (!S_ISREG(status.st_mode)) return bad("is not a regular file");
  if (auto problem = private_file_problem(path, status, "token file")) {
    return make_error(std::errc::permission_denied, std::move(*problem));
  }

  auto token = std::make_unique<SecretToken>();
  std::size_t size = 0;
  while (size < token->bytes_.size()) {
    const ssize_t got = ::read(file.fd, token->bytes_.data() + size, token->bytes_.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return cannot_read(errno);
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  std::string_view text(token->bytes_.data(), size);
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return bad("is empty; it must hold one token on one line");
  if (text.find('\n') != std::string_view::npos) {
    return bad("has more than one line; it must hold one token on one line");
  }
  if (text.size() > max_token_size) {
    return bad(fmt::format("holds a token longer than {} characters", max_token_size));
  }
  if (!std::all_of(text.begin(), text.end(), is_token_char)) {
    return bad("holds a character outside printable ASCII (0x21 to 0x7E; no spaces or tabs)");
  }
  token->size_ = text.size();
  return token;
}

}  // namespace ttynet::port
